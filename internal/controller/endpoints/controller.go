package endpoints

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/k1s/k1s/internal/controller/servicepods"
	"github.com/k1s/k1s/internal/controller/worker"
)

// Options configure a Controller.
type Options struct {
	Client    kubernetes.Interface            // required
	Services  coreinformers.ServiceInformer   // required
	Pods      coreinformers.PodInformer       // required
	Endpoints coreinformers.EndpointsInformer // required
	Logger    *slog.Logger
	// Recorder records Events on services; default: one that writes
	// through Client as "endpoint-controller", started by Run.
	Recorder record.EventRecorder
	Workers  int // default 5
	// RateLimiter paces retries of a service; default client-go's
	// controller rate limiter (5ms exponential per item, 10/s overall).
	RateLimiter workqueue.TypedRateLimiter[string]
}

func (o *Options) validate() error {
	switch {
	case o.Client == nil:
		return errors.New("endpoints controller: Client is required")
	case o.Services == nil || o.Pods == nil || o.Endpoints == nil:
		return errors.New("endpoints controller: Services, Pods and Endpoints informers are required")
	case o.Workers < 0:
		return fmt.Errorf("endpoints controller: Workers %d is negative", o.Workers)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Workers == 0 {
		o.Workers = 5
	}
	if o.RateLimiter == nil {
		o.RateLimiter = workqueue.DefaultTypedControllerRateLimiter[string]()
	}
	return nil
}

// Controller keeps Endpoints in line with services and their pods.
type Controller struct {
	client    kubernetes.Interface
	services  corelisters.ServiceLister
	pods      corelisters.PodLister
	endpoints corelisters.EndpointsLister
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string] // service keys
	recorder  record.EventRecorder
	log       *slog.Logger
	workers   int
}

// New returns a controller whose handlers are registered on the informers;
// they must be started (by their factory) for Run to make progress.
func New(opts Options) (*Controller, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	c := &Controller{
		client:    opts.Client,
		services:  opts.Services.Lister(),
		pods:      opts.Pods.Lister(),
		endpoints: opts.Endpoints.Lister(),
		synced: []cache.InformerSynced{
			opts.Services.Informer().HasSynced, opts.Pods.Informer().HasSynced, opts.Endpoints.Informer().HasSynced,
		},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(opts.RateLimiter,
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "endpoints"}),
		recorder: opts.Recorder,
		log:      opts.Logger,
		workers:  opts.Workers,
	}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{opts.Services.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueueObject,
			UpdateFunc: func(_, obj any) { c.enqueueObject(obj) },
			DeleteFunc: c.enqueueObject,
		}},
		// An Endpoints object changed or deleted by someone else is put back.
		{opts.Endpoints.Informer(), cache.ResourceEventHandlerFuncs{
			UpdateFunc: func(_, obj any) { c.enqueueObject(obj) },
			DeleteFunc: c.enqueueObject,
		}},
		{opts.Pods.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueuePodServices,
			UpdateFunc: c.updatePod,
			DeleteFunc: c.enqueuePodServices,
		}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("endpoints controller: registering handlers: %w", err)
		}
	}
	return c, nil
}

// enqueueObject queues the service named like obj (a Service or its
// Endpoints).
func (c *Controller) enqueueObject(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err == nil {
		c.queue.Add(key)
	}
}

// enqueuePodServices queues the services selecting a pod.
func (c *Controller) enqueuePodServices(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	keys, err := servicepods.ServicesForPod(c.services, pod)
	if err != nil {
		c.log.Error("finding services of pod", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		return
	}
	for _, k := range keys {
		c.queue.Add(k)
	}
}

// updatePod queues the services selecting the pod before and after, if
// the update can change their endpoints.
func (c *Controller) updatePod(oldObj, obj any) {
	old, ok1 := oldObj.(*corev1.Pod)
	cur, ok2 := obj.(*corev1.Pod)
	if !ok1 || !ok2 || !servicepods.Changed(old, cur) {
		return
	}
	c.enqueuePodServices(cur)
	if !maps.Equal(old.Labels, cur.Labels) {
		c.enqueuePodServices(old)
	}
}

// Run waits for the informers to sync, then works the queue until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if c.recorder == nil {
		broadcaster := record.NewBroadcaster(record.WithContext(ctx))
		broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
		defer broadcaster.Shutdown()
		c.recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "endpoint-controller"})
	}
	c.log.Info("starting endpoints controller", "workers", c.workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return nil // ctx ended
	}
	worker.Run(ctx, c.workers, c.queue, c.processNext)
	return nil
}

func (c *Controller) processNext(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	err := c.reconcile(ctx, key)
	switch {
	case err == nil:
		c.queue.Forget(key)
	case ctx.Err() != nil:
	case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err):
		// The cache lags behind a write: try again with what it learns.
		c.log.Debug("endpoints changed meanwhile, retrying", "service", key)
		c.queue.AddRateLimited(key)
	default:
		c.log.Error("syncing endpoints", "service", key, "err", err)
		c.queue.AddRateLimited(key)
	}
	return true
}

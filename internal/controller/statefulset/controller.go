package statefulset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	appsinformers "k8s.io/client-go/informers/apps/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/k1s/k1s/internal/controller/eventrecorder"
	"github.com/k1s/k1s/internal/controller/history"
	"github.com/k1s/k1s/internal/controller/worker"
)

// controllerKind is what the StatefulSet controller owns pods as.
func controllerKind() schema.GroupVersionKind {
	return appsv1.SchemeGroupVersion.WithKind("StatefulSet")
}

const (
	// component names the controller in the Events it records.
	component = "statefulset-controller"
	// podsByController indexes pods by their controller's UID, orphans
	// under orphanKey.
	podsByController = "statefulset.k1s.io/controller-uid"
	orphanKey        = "<orphan>"
)

// Options configure a Controller.
type Options struct {
	Client       kubernetes.Interface                        // required
	StatefulSets appsinformers.StatefulSetInformer           // required
	Pods         coreinformers.PodInformer                   // required
	Claims       coreinformers.PersistentVolumeClaimInformer // required
	Revisions    appsinformers.ControllerRevisionInformer    // required
	// Recorder records Events; default: a broadcaster writing core/v1
	// Events through Client, started by Run.
	Recorder record.EventRecorder
	Logger   *slog.Logger
	Workers  int // default 5
	// RateLimiter paces retries of a failing StatefulSet; default
	// client-go's controller rate limiter.
	RateLimiter workqueue.TypedRateLimiter[string]
}

func (o *Options) validate() error {
	switch {
	case o.Client == nil:
		return errors.New("statefulset controller: Client is required")
	case o.StatefulSets == nil:
		return errors.New("statefulset controller: StatefulSets informer is required")
	case o.Pods == nil:
		return errors.New("statefulset controller: Pods informer is required")
	case o.Claims == nil:
		return errors.New("statefulset controller: Claims informer is required")
	case o.Revisions == nil:
		return errors.New("statefulset controller: Revisions informer is required")
	case o.Workers < 0:
		return fmt.Errorf("statefulset controller: Workers %d is negative", o.Workers)
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

// Controller keeps each StatefulSet's ordinal pods and their claims.
type Controller struct {
	client      kubernetes.Interface
	setLister   appslisters.StatefulSetLister
	claimLister corelisters.PersistentVolumeClaimLister
	revLister   appslisters.ControllerRevisionLister
	history     history.Store
	podIndexer  cache.Indexer
	synced      []cache.InformerSynced
	queue       workqueue.TypedRateLimitingInterface[string]
	recorder    record.EventRecorder // set by New or Run, before any reconcile
	log         *slog.Logger
	workers     int
}

// New returns a controller whose handlers are registered on the informers;
// they must be started (by their factory) for Run to make progress.
func New(opts Options) (*Controller, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	c := &Controller{
		client:      opts.Client,
		setLister:   opts.StatefulSets.Lister(),
		claimLister: opts.Claims.Lister(),
		revLister:   opts.Revisions.Lister(),
		history:     history.Store{Client: opts.Client.AppsV1()},
		synced: []cache.InformerSynced{opts.StatefulSets.Informer().HasSynced,
			opts.Pods.Informer().HasSynced, opts.Claims.Informer().HasSynced,
			opts.Revisions.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(opts.RateLimiter,
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "statefulset"}),
		recorder: opts.Recorder,
		log:      opts.Logger,
		workers:  opts.Workers,
	}
	podInformer := opts.Pods.Informer()
	if _, ok := podInformer.GetIndexer().GetIndexers()[podsByController]; !ok {
		if err := podInformer.AddIndexers(cache.Indexers{podsByController: indexByController}); err != nil {
			return nil, fmt.Errorf("statefulset controller: adding pod index: %w", err)
		}
	}
	c.podIndexer = podInformer.GetIndexer()
	if _, err := opts.StatefulSets.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: c.enqueue,
	}); err != nil {
		return nil, fmt.Errorf("statefulset controller: registering handlers: %w", err)
	}
	if _, err := podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.podChanged,
		UpdateFunc: func(old, cur any) { c.podChanged(old); c.podChanged(cur) },
		DeleteFunc: c.podChanged,
	}); err != nil {
		return nil, fmt.Errorf("statefulset controller: registering handlers: %w", err)
	}
	return c, nil
}

func indexByController(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		return []string{string(ref.UID)}, nil
	}
	return []string{orphanKey}, nil
}

// enqueue adds the key of a StatefulSet (or its tombstone).
func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		c.log.Error("cannot key object", "err", err)
		return
	}
	c.queue.Add(key)
}

// podChanged enqueues the StatefulSet controlling the pod, or, for an
// orphan, every set whose selector matches it.
func (c *Controller) podChanged(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		tomb, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if pod, ok = tomb.Obj.(*corev1.Pod); !ok {
			return
		}
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		if gvk := controllerKind(); ref.Kind == gvk.Kind && ref.APIVersion == gvk.GroupVersion().String() {
			c.queue.Add(pod.Namespace + "/" + ref.Name)
		}
		return
	}
	sets, err := c.setLister.StatefulSets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, s := range sets {
		sel, err := metav1.LabelSelectorAsSelector(s.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(pod.Labels)) {
			c.queue.Add(pod.Namespace + "/" + s.Name)
		}
	}
}

// Run waits for the informers to sync, then works the queue until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if c.recorder == nil {
		var b record.EventBroadcaster
		b, c.recorder = eventrecorder.New(ctx, c.client.CoreV1(), c.log, component)
		defer b.Shutdown()
	}
	c.log.Info("starting statefulset controller", "workers", c.workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return nil // ctx ended
	}
	worker.Run(ctx, c.workers, c.queue, c.processNext)
	return nil
}

// processNext reconciles one key; it reports false once the queue is shut down.
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
	case apierrors.IsConflict(err), apierrors.IsAlreadyExists(err):
		c.log.Debug("statefulset changed while reconciling, retrying", "statefulset", key)
		c.queue.AddRateLimited(key)
	default:
		c.log.Error("reconciling statefulset", "statefulset", key, "err", err)
		c.queue.AddRateLimited(key)
	}
	return true
}

package deployment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

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
	"github.com/k1s/k1s/internal/controller/worker"
)

// component names the controller in the Events it records.
const component = "deployment-controller"

// controllerKind is what the Deployment controller owns ReplicaSets as.
func controllerKind() schema.GroupVersionKind {
	return appsv1.SchemeGroupVersion.WithKind("Deployment")
}

// Options configure a Controller.
type Options struct {
	Client      kubernetes.Interface             // required
	Deployments appsinformers.DeploymentInformer // required
	ReplicaSets appsinformers.ReplicaSetInformer // required
	// Pods lets a Recreate rollout wait until the old pods are gone.
	Pods coreinformers.PodInformer // required
	// Recorder records Events; default: a broadcaster writing core/v1
	// Events through Client, started by Run.
	Recorder record.EventRecorder
	Logger   *slog.Logger
	Workers  int // default 5, as upstream
	// RateLimiter paces retries of a failing Deployment; default
	// client-go's controller rate limiter.
	RateLimiter workqueue.TypedRateLimiter[string]
}

func (o *Options) validate() error {
	switch {
	case o.Client == nil:
		return errors.New("deployment controller: Client is required")
	case o.Deployments == nil:
		return errors.New("deployment controller: Deployments informer is required")
	case o.ReplicaSets == nil:
		return errors.New("deployment controller: ReplicaSets informer is required")
	case o.Pods == nil:
		return errors.New("deployment controller: Pods informer is required")
	case o.Workers < 0:
		return fmt.Errorf("deployment controller: Workers %d is negative", o.Workers)
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

// Controller rolls Deployments out through ReplicaSets.
type Controller struct {
	client    kubernetes.Interface
	dLister   appslisters.DeploymentLister
	rsLister  appslisters.ReplicaSetLister
	podLister corelisters.PodLister
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	recorder  record.EventRecorder // set by New or Run, before any reconcile
	log       *slog.Logger
	workers   int
	now       func() time.Time
}

// New returns a controller whose handlers are registered on the informers;
// they must be started (by their factory) for Run to make progress.
func New(opts Options) (*Controller, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	c := &Controller{
		client:    opts.Client,
		dLister:   opts.Deployments.Lister(),
		rsLister:  opts.ReplicaSets.Lister(),
		podLister: opts.Pods.Lister(),
		synced: []cache.InformerSynced{
			opts.Deployments.Informer().HasSynced, opts.ReplicaSets.Informer().HasSynced, opts.Pods.Informer().HasSynced,
		},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(opts.RateLimiter,
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "deployment"}),
		recorder: opts.Recorder,
		log:      opts.Logger,
		workers:  opts.Workers,
		now:      time.Now,
	}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{opts.Deployments.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueue,
			UpdateFunc: func(_, obj any) { c.enqueue(obj) },
			DeleteFunc: c.enqueue,
		}},
		{opts.ReplicaSets.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.addReplicaSet,
			UpdateFunc: c.updateReplicaSet,
			DeleteFunc: c.deleteReplicaSet,
		}},
		{opts.Pods.Informer(), cache.ResourceEventHandlerFuncs{
			UpdateFunc: c.updatePod,
			DeleteFunc: c.deletePod,
		}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("deployment controller: registering handlers: %w", err)
		}
	}
	return c, nil
}

// enqueue adds the key of a Deployment (or its tombstone).
func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		c.log.Error("cannot key object", "err", err)
		return
	}
	c.queue.Add(key)
}

// resolveController returns the key of the Deployment ref points at, if
// it is in the cache with the same UID.
func (c *Controller) resolveController(ns string, ref *metav1.OwnerReference) (string, *appsv1.Deployment, bool) {
	if gvk := controllerKind(); ref.Kind != gvk.Kind || ref.APIVersion != gvk.GroupVersion().String() {
		return "", nil, false
	}
	d, err := c.dLister.Deployments(ns).Get(ref.Name)
	if err != nil || d.UID != ref.UID {
		return "", nil, false
	}
	return ns + "/" + d.Name, d, true
}

// enqueueMatching adds every Deployment whose selector matches an orphan
// ReplicaSet, so one of them can adopt it.
func (c *Controller) enqueueMatching(rs *appsv1.ReplicaSet) {
	ds, err := c.dLister.Deployments(rs.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, d := range ds {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(rs.Labels)) {
			continue
		}
		c.queue.Add(rs.Namespace + "/" + d.Name)
	}
}

// The ReplicaSet and pod handlers only find the Deployments a change may
// concern and enqueue them.

func (c *Controller) addReplicaSet(obj any) {
	rs := obj.(*appsv1.ReplicaSet)
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		if key, _, ok := c.resolveController(rs.Namespace, ref); ok {
			c.queue.Add(key)
		}
		return
	}
	if rs.DeletionTimestamp == nil {
		c.enqueueMatching(rs)
	}
}

func (c *Controller) updateReplicaSet(oldObj, curObj any) {
	old, cur := oldObj.(*appsv1.ReplicaSet), curObj.(*appsv1.ReplicaSet)
	if old.ResourceVersion == cur.ResourceVersion {
		return // a resync: nothing changed
	}
	oldRef, curRef := metav1.GetControllerOfNoCopy(old), metav1.GetControllerOfNoCopy(cur)
	if oldRef != nil && (curRef == nil || oldRef.UID != curRef.UID) {
		if key, _, ok := c.resolveController(old.Namespace, oldRef); ok {
			c.queue.Add(key)
		}
	}
	if curRef != nil {
		if key, _, ok := c.resolveController(cur.Namespace, curRef); ok {
			c.queue.Add(key)
		}
		return
	}
	if !labels.Equals(old.Labels, cur.Labels) || oldRef != nil {
		c.enqueueMatching(cur)
	}
}

func (c *Controller) deleteReplicaSet(obj any) {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		tomb, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if rs, ok = tomb.Obj.(*appsv1.ReplicaSet); !ok {
			return
		}
	}
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		if key, _, ok := c.resolveController(rs.Namespace, ref); ok {
			c.queue.Add(key)
		}
	}
}

// A Recreate rollout waits for the old pods to be gone (or finished):
// pod deletions and pods finishing wake it.
func (c *Controller) updatePod(oldObj, curObj any) {
	old, cur := oldObj.(*corev1.Pod), curObj.(*corev1.Pod)
	if podFinished(cur) && !podFinished(old) {
		c.enqueueRecreateOwner(cur)
	}
}

func (c *Controller) deletePod(obj any) {
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
	c.enqueueRecreateOwner(pod)
}

// enqueueRecreateOwner enqueues the Recreate Deployment owning pod
// through its ReplicaSet, if any.
func (c *Controller) enqueueRecreateOwner(pod *corev1.Pod) {
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != "ReplicaSet" {
		return
	}
	rs, err := c.rsLister.ReplicaSets(pod.Namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return
	}
	dref := metav1.GetControllerOfNoCopy(rs)
	if dref == nil {
		return
	}
	if key, d, ok := c.resolveController(rs.Namespace, dref); ok && d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		c.queue.Add(key)
	}
}

func podFinished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// Run waits for the informers to sync, then works the queue until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if c.recorder == nil {
		var b record.EventBroadcaster
		b, c.recorder = eventrecorder.New(ctx, c.client.CoreV1(), c.log, component)
		b.StartEventWatcher(func(e *corev1.Event) {
			c.log.Debug("event", "object", e.InvolvedObject.Namespace+"/"+e.InvolvedObject.Name, "reason", e.Reason, "message", e.Message)
		})
		defer b.Shutdown()
	}
	c.log.Info("starting deployment controller", "workers", c.workers)
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
		// Shutting down: the request failed because of that.
	case apierrors.IsConflict(err), apierrors.IsAlreadyExists(err):
		// A stale cache: the next pass sees the newer objects.
		c.log.Debug("deployment or its replicasets changed while reconciling, retrying", "deployment", key, "err", err)
		c.queue.AddRateLimited(key)
	default:
		c.log.Error("reconciling deployment", "deployment", key, "err", err)
		c.queue.AddRateLimited(key)
	}
	return true
}

package replicaset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
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
	"github.com/k1s/k1s/internal/controller/expectations"
	"github.com/k1s/k1s/internal/controller/worker"
)

// controllerKind is what the ReplicaSet controller owns pods as.
func controllerKind() schema.GroupVersionKind {
	return appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
}

const (
	// component names the controller in the Events it records.
	component = "replicaset-controller"
	// podsByController indexes pods by their controller's UID, orphans
	// under orphanKey, so a ReplicaSet finds its pods without a scan.
	podsByController = "replicaset.k1s.io/controller-uid"
	orphanKey        = "<orphan>"
)

// Options configure a Controller.
type Options struct {
	Client      kubernetes.Interface             // required
	ReplicaSets appsinformers.ReplicaSetInformer // required
	Pods        coreinformers.PodInformer        // required
	// Recorder records Events; default: a broadcaster writing core/v1
	// Events through Client, started by Run.
	Recorder record.EventRecorder
	Logger   *slog.Logger
	Workers  int // default 5, as upstream
	// BurstReplicas caps the pods created or deleted in one reconcile
	// (default 500, as upstream); the rest follow in the next ones.
	BurstReplicas int
	// RateLimiter paces retries of a failing ReplicaSet; default
	// client-go's controller rate limiter.
	RateLimiter workqueue.TypedRateLimiter[string]
}

func (o *Options) validate() error {
	switch {
	case o.Client == nil:
		return errors.New("replicaset controller: Client is required")
	case o.ReplicaSets == nil:
		return errors.New("replicaset controller: ReplicaSets informer is required")
	case o.Pods == nil:
		return errors.New("replicaset controller: Pods informer is required")
	case o.Workers < 0:
		return fmt.Errorf("replicaset controller: Workers %d is negative", o.Workers)
	case o.BurstReplicas < 0:
		return fmt.Errorf("replicaset controller: BurstReplicas %d is negative", o.BurstReplicas)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Workers == 0 {
		o.Workers = 5
	}
	if o.BurstReplicas == 0 {
		o.BurstReplicas = 500
	}
	if o.RateLimiter == nil {
		o.RateLimiter = workqueue.DefaultTypedControllerRateLimiter[string]()
	}
	return nil
}

// Controller keeps each ReplicaSet's pod count at spec.replicas.
type Controller struct {
	client     kubernetes.Interface
	rsLister   appslisters.ReplicaSetLister
	podLister  corelisters.PodLister
	podIndexer cache.Indexer
	synced     []cache.InformerSynced
	queue      workqueue.TypedRateLimitingInterface[string]
	exp        *expectations.Expectations
	recorder   record.EventRecorder // set by New or Run, before any reconcile
	log        *slog.Logger
	workers    int
	burst      int
	now        func() time.Time
}

// New returns a controller whose handlers are registered on the informers;
// they must be started (by their factory) for Run to make progress.
func New(opts Options) (*Controller, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	c := &Controller{
		client:    opts.Client,
		rsLister:  opts.ReplicaSets.Lister(),
		podLister: opts.Pods.Lister(),
		synced:    []cache.InformerSynced{opts.ReplicaSets.Informer().HasSynced, opts.Pods.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(opts.RateLimiter,
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "replicaset"}),
		exp:      expectations.New(time.Now),
		recorder: opts.Recorder,
		log:      opts.Logger,
		workers:  opts.Workers,
		burst:    opts.BurstReplicas,
		now:      time.Now,
	}
	podInformer := opts.Pods.Informer()
	if _, ok := podInformer.GetIndexer().GetIndexers()[podsByController]; !ok {
		if err := podInformer.AddIndexers(cache.Indexers{podsByController: indexByController}); err != nil {
			return nil, fmt.Errorf("replicaset controller: adding pod index: %w", err)
		}
	}
	c.podIndexer = podInformer.GetIndexer()
	_, err := opts.ReplicaSets.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: c.enqueue,
	})
	if err != nil {
		return nil, fmt.Errorf("replicaset controller: registering handlers: %w", err)
	}
	_, err = podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	})
	if err != nil {
		return nil, fmt.Errorf("replicaset controller: registering handlers: %w", err)
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

// enqueue adds the key of a ReplicaSet (or its tombstone).
func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		c.log.Error("cannot key object", "err", err)
		return
	}
	c.queue.Add(key)
}

// resolveController returns the key of the ReplicaSet ref points at, if
// that ReplicaSet is in the cache with the same UID.
func (c *Controller) resolveController(ns string, ref *metav1.OwnerReference) (string, bool) {
	if gvk := controllerKind(); ref.Kind != gvk.Kind || ref.APIVersion != gvk.GroupVersion().String() {
		return "", false
	}
	rs, err := c.rsLister.ReplicaSets(ns).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return "", false
	}
	return ns + "/" + rs.Name, true
}

// enqueueMatching adds every ReplicaSet whose selector matches an orphan
// pod, so one of them can adopt it.
func (c *Controller) enqueueMatching(pod *corev1.Pod) {
	rss, err := c.rsLister.ReplicaSets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, rs := range rss {
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		c.queue.Add(pod.Namespace + "/" + rs.Name)
	}
}

// The pod handlers enqueue the ReplicaSets a change may concern and
// record observed creations and deletions in the expectations; every
// decision is left to reconcile.

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		// Seen for the first time already being deleted (a relist).
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		if key, ok := c.resolveController(pod.Namespace, ref); ok {
			c.exp.CreationObserved(key)
			c.queue.Add(key)
		}
		return
	}
	c.enqueueMatching(pod)
}

func (c *Controller) updatePod(oldObj, curObj any) {
	old, cur := oldObj.(*corev1.Pod), curObj.(*corev1.Pod)
	if old.ResourceVersion == cur.ResourceVersion {
		return // a resync: nothing changed
	}
	if cur.DeletionTimestamp != nil {
		// Being deleted counts as deleted: its ReplicaSet replaces it now.
		c.deletePod(cur)
		if !labels.Equals(old.Labels, cur.Labels) {
			c.deletePod(old)
		}
		return
	}
	oldRef, curRef := metav1.GetControllerOfNoCopy(old), metav1.GetControllerOfNoCopy(cur)
	if oldRef != nil && (curRef == nil || oldRef.UID != curRef.UID) {
		if key, ok := c.resolveController(old.Namespace, oldRef); ok {
			c.queue.Add(key)
		}
	}
	if curRef != nil {
		if key, ok := c.resolveController(cur.Namespace, curRef); ok {
			c.queue.Add(key)
		}
		return
	}
	if !labels.Equals(old.Labels, cur.Labels) || oldRef != nil {
		c.enqueueMatching(cur)
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
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil {
		return
	}
	key, ok := c.resolveController(pod.Namespace, ref)
	if !ok {
		return
	}
	c.exp.DeletionObserved(key, pod.Namespace+"/"+pod.Name)
	c.queue.Add(key)
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
	c.log.Info("starting replicaset controller", "workers", c.workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return nil // ctx ended
	}
	worker.Run(ctx, c.workers, c.queue, worker.Next(c.queue, c.reconcile, c.log, "replicaset"))
	return nil
}

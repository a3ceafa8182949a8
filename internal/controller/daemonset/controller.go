package daemonset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
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
	"github.com/k1s/k1s/internal/controller/history"
	"github.com/k1s/k1s/internal/controller/worker"
)

// controllerKind is what the DaemonSet controller owns pods as.
func controllerKind() schema.GroupVersionKind {
	return appsv1.SchemeGroupVersion.WithKind("DaemonSet")
}

const (
	// component names the controller in the Events it records.
	component = "daemonset-controller"
	// podsByController indexes pods by their controller's UID, orphans
	// under orphanKey, so a DaemonSet finds its pods without a scan.
	podsByController = "daemonset.k1s.io/controller-uid"
	orphanKey        = "<orphan>"
)

// Options configure a Controller.
type Options struct {
	Client     kubernetes.Interface                     // required
	DaemonSets appsinformers.DaemonSetInformer          // required
	Pods       coreinformers.PodInformer                // required
	Nodes      coreinformers.NodeInformer               // required
	Revisions  appsinformers.ControllerRevisionInformer // required
	// Recorder records Events; default: a broadcaster writing core/v1
	// Events through Client, started by Run.
	Recorder record.EventRecorder
	Logger   *slog.Logger
	Workers  int // default 2, as upstream
	// BurstReplicas caps the pods created or deleted in one reconcile
	// (default 250, as upstream); the rest follow in the next ones.
	BurstReplicas int
	// FailedPodsBackoffBase and FailedPodsBackoffMax space out the
	// replacement of a node's failed daemon pods (defaults 1s and 15m, as
	// upstream): the delay starts at the base and doubles per failure.
	FailedPodsBackoffBase time.Duration
	FailedPodsBackoffMax  time.Duration
	// RateLimiter paces retries of a failing DaemonSet; default
	// client-go's controller rate limiter.
	RateLimiter workqueue.TypedRateLimiter[string]
}

func (o *Options) validate() error {
	switch {
	case o.Client == nil:
		return errors.New("daemonset controller: Client is required")
	case o.DaemonSets == nil:
		return errors.New("daemonset controller: DaemonSets informer is required")
	case o.Pods == nil:
		return errors.New("daemonset controller: Pods informer is required")
	case o.Nodes == nil:
		return errors.New("daemonset controller: Nodes informer is required")
	case o.Revisions == nil:
		return errors.New("daemonset controller: Revisions informer is required")
	case o.FailedPodsBackoffBase < 0 || o.FailedPodsBackoffMax < 0:
		return errors.New("daemonset controller: negative failed pods backoff")
	case o.Workers < 0:
		return fmt.Errorf("daemonset controller: Workers %d is negative", o.Workers)
	case o.BurstReplicas < 0:
		return fmt.Errorf("daemonset controller: BurstReplicas %d is negative", o.BurstReplicas)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Workers == 0 {
		o.Workers = 2
	}
	if o.BurstReplicas == 0 {
		o.BurstReplicas = 250
	}
	if o.FailedPodsBackoffBase == 0 {
		o.FailedPodsBackoffBase = time.Second
	}
	if o.FailedPodsBackoffMax == 0 {
		o.FailedPodsBackoffMax = 15 * time.Minute
	}
	if o.RateLimiter == nil {
		o.RateLimiter = workqueue.DefaultTypedControllerRateLimiter[string]()
	}
	return nil
}

// Controller keeps one pod of each DaemonSet on every eligible node.
type Controller struct {
	client     kubernetes.Interface
	dsLister   appslisters.DaemonSetLister
	nodeLister corelisters.NodeLister
	revLister  appslisters.ControllerRevisionLister
	history    history.Store
	failed     *failureBackoff
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
		client:     opts.Client,
		dsLister:   opts.DaemonSets.Lister(),
		nodeLister: opts.Nodes.Lister(),
		revLister:  opts.Revisions.Lister(),
		history:    history.Store{Client: opts.Client.AppsV1()},
		failed:     newFailureBackoff(opts.FailedPodsBackoffBase, opts.FailedPodsBackoffMax),
		synced: []cache.InformerSynced{opts.DaemonSets.Informer().HasSynced,
			opts.Pods.Informer().HasSynced, opts.Nodes.Informer().HasSynced,
			opts.Revisions.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(opts.RateLimiter,
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "daemonset"}),
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
			return nil, fmt.Errorf("daemonset controller: adding pod index: %w", err)
		}
	}
	c.podIndexer = podInformer.GetIndexer()
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{opts.DaemonSets.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueue,
			UpdateFunc: func(_, obj any) { c.enqueue(obj) },
			DeleteFunc: c.enqueue,
		}},
		{podInformer, cache.ResourceEventHandlerFuncs{
			AddFunc:    c.addPod,
			UpdateFunc: c.updatePod,
			DeleteFunc: c.deletePod,
		}},
		{opts.Nodes.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { c.enqueueAll() },
			UpdateFunc: c.updateNode,
			DeleteFunc: func(any) { c.enqueueAll() },
		}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("daemonset controller: registering handlers: %w", err)
		}
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

// enqueue adds the key of a DaemonSet (or its tombstone).
func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		c.log.Error("cannot key object", "err", err)
		return
	}
	c.queue.Add(key)
}

// enqueueAll adds every DaemonSet: a node change may concern any of them.
func (c *Controller) enqueueAll() {
	all, err := c.dsLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range all {
		c.queue.Add(ds.Namespace + "/" + ds.Name)
	}
}

// updateNode enqueues every DaemonSet when something placement depends on
// changed: labels, taints, or the node starting to be deleted.
func (c *Controller) updateNode(oldObj, curObj any) {
	old, cur := oldObj.(*corev1.Node), curObj.(*corev1.Node)
	if labels.Equals(old.Labels, cur.Labels) &&
		apiequality.Semantic.DeepEqual(old.Spec.Taints, cur.Spec.Taints) &&
		(old.DeletionTimestamp == nil) == (cur.DeletionTimestamp == nil) {
		return
	}
	c.enqueueAll()
}

// resolveController returns the key of the DaemonSet ref points at, if
// that DaemonSet is in the cache with the same UID.
func (c *Controller) resolveController(ns string, ref *metav1.OwnerReference) (string, bool) {
	if gvk := controllerKind(); ref.Kind != gvk.Kind || ref.APIVersion != gvk.GroupVersion().String() {
		return "", false
	}
	ds, err := c.dsLister.DaemonSets(ns).Get(ref.Name)
	if err != nil || ds.UID != ref.UID {
		return "", false
	}
	return ns + "/" + ds.Name, true
}

// enqueueMatching adds every DaemonSet whose selector matches an orphan
// pod, so one of them can adopt it.
func (c *Controller) enqueueMatching(pod *corev1.Pod) {
	all, err := c.dsLister.DaemonSets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range all {
		sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		c.queue.Add(pod.Namespace + "/" + ds.Name)
	}
}

// The pod handlers enqueue the DaemonSets a change may concern and record
// observed creations and deletions in the expectations; every decision is
// left to reconcile.

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
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
		c.deletePod(cur)
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
		defer b.Shutdown()
	}
	c.log.Info("starting daemonset controller", "workers", c.workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return nil // ctx ended
	}
	worker.Run(ctx, c.workers, c.queue, worker.Next(c.queue, c.reconcile, c.log, "daemonset"))
	return nil
}

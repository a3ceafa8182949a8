package podgc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Options configure a Controller.
type Options struct {
	Client kubernetes.Interface       // required
	Pods   coreinformers.PodInformer  // required
	Nodes  coreinformers.NodeInformer // required
	Logger *slog.Logger
	// TerminatedPodThreshold is how many terminated pods may exist before
	// the oldest are deleted; default 12500, negative disables.
	TerminatedPodThreshold int
	// Quarantine is how long a node must be missing from the cache before
	// its pods are collected; default 40s, negative means none.
	Quarantine time.Duration
	// Period is how often every pod is checked again; default 20s.
	Period time.Duration
}

func (o *Options) validate() error {
	switch {
	case o.Client == nil:
		return errors.New("podgc: Client is required")
	case o.Pods == nil || o.Nodes == nil:
		return errors.New("podgc: Pods and Nodes informers are required")
	case o.Period < 0:
		return fmt.Errorf("podgc: Period %v is negative", o.Period)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.TerminatedPodThreshold == 0 {
		o.TerminatedPodThreshold = 12500
	}
	switch {
	case o.Quarantine == 0:
		o.Quarantine = 40 * time.Second
	case o.Quarantine < 0:
		o.Quarantine = 0
	}
	if o.Period == 0 {
		o.Period = 20 * time.Second
	}
	return nil
}

// key is one unit of work.
type key struct {
	kind keyKind
	name string // node name, or pod namespace/name
}

type keyKind int

const (
	scanAll     keyKind = iota // look at every pod, queue what needs work, collect terminated pods
	orphansOf                  // pods bound to node name, if the node is gone
	unscheduled                // pod name, if it terminates without a node
)

// Controller is the pod garbage collector.
type Controller struct {
	client     kubernetes.Interface
	pods       corelisters.PodLister
	nodes      corelisters.NodeLister
	synced     []cache.InformerSynced
	queue      workqueue.TypedRateLimitingInterface[key]
	log        *slog.Logger
	threshold  int
	quarantine time.Duration
	period     time.Duration
}

// New returns a controller whose handlers are registered on the informers;
// they must be started (by their factory) for Run to make progress.
func New(opts Options) (*Controller, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	c := &Controller{
		client: opts.Client,
		pods:   opts.Pods.Lister(),
		nodes:  opts.Nodes.Lister(),
		synced: []cache.InformerSynced{opts.Pods.Informer().HasSynced, opts.Nodes.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[key](),
			workqueue.TypedRateLimitingQueueConfig[key]{Name: "podgc"}),
		log:        opts.Logger,
		threshold:  opts.TerminatedPodThreshold,
		quarantine: opts.Quarantine,
		period:     opts.Period,
	}
	if _, err := opts.Pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueuePod,
		UpdateFunc: func(_, obj any) { c.enqueuePod(obj) },
	}); err != nil {
		return nil, fmt.Errorf("podgc: registering pod handlers: %w", err)
	}
	if _, err := opts.Nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: c.enqueueNode,
	}); err != nil {
		return nil, fmt.Errorf("podgc: registering node handlers: %w", err)
	}
	return c, nil
}

// enqueuePod queues the work a pod may need: a terminating pod without a
// node, or the check of a node the cache does not know.
func (c *Controller) enqueuePod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	c.enqueueFor(pod)
}

func (c *Controller) enqueueFor(pod *corev1.Pod) {
	switch {
	case pod.Spec.NodeName == "" && pod.DeletionTimestamp != nil:
		c.queue.Add(key{unscheduled, pod.Namespace + "/" + pod.Name})
	case pod.Spec.NodeName != "":
		if _, err := c.nodes.Get(pod.Spec.NodeName); apierrors.IsNotFound(err) {
			c.queue.AddAfter(key{orphansOf, pod.Spec.NodeName}, c.quarantine)
		}
	}
}

// enqueueNode queues the pods of a deleted node, after the quarantine.
func (c *Controller) enqueueNode(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if node, ok := obj.(*corev1.Node); ok {
		c.queue.AddAfter(key{orphansOf, node.Name}, c.quarantine)
	}
}

// Run waits for the informers to sync, then works the queue until ctx
// ends, queueing a full scan every period.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	c.log.Info("starting pod garbage collector", "terminatedPodThreshold", c.threshold, "quarantine", c.quarantine)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return nil // ctx ended
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for c.processNext(ctx) {
		}
	})
	ticker := time.NewTicker(c.period)
	defer ticker.Stop()
	c.queue.Add(key{kind: scanAll})
	for {
		select {
		case <-ctx.Done():
			c.queue.ShutDown()
			wg.Wait()
			return nil
		case <-ticker.C:
			c.queue.Add(key{kind: scanAll})
		}
	}
}

func (c *Controller) processNext(ctx context.Context) bool {
	k, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(k)
	err := c.reconcile(ctx, k)
	switch {
	case err == nil:
		c.queue.Forget(k)
	case ctx.Err() != nil:
	default:
		c.log.Error("collecting pods", "kind", k.kind, "name", k.name, "err", err)
		c.queue.AddRateLimited(k)
	}
	return true
}

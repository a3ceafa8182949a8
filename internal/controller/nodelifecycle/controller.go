package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	coordinationinformers "k8s.io/client-go/informers/coordination/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	coordinationlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// leaseNamespace holds the kubelets' heartbeat Leases, one per node.
const leaseNamespace = corev1.NamespaceNodeLease

// Options configure a Controller.
type Options struct {
	Client kubernetes.Interface                // required
	Nodes  coreinformers.NodeInformer          // required
	Pods   coreinformers.PodInformer           // required
	Leases coordinationinformers.LeaseInformer // required; only kube-node-lease is looked at
	Logger *slog.Logger
	// NodeMonitorGracePeriod is how long a node may stay silent before it
	// is marked Unknown; default 40s, as --node-monitor-grace-period.
	NodeMonitorGracePeriod time.Duration
	// NodeMonitorPeriod is how often every node is looked at; default 5s.
	NodeMonitorPeriod time.Duration
	// DefaultTolerationSeconds is how long a pod without a toleration for
	// not-ready or unreachable tolerates them; default 300.
	DefaultTolerationSeconds int64
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (o *Options) validate() error {
	switch {
	case o.Client == nil:
		return errors.New("nodelifecycle: Client is required")
	case o.Nodes == nil || o.Pods == nil || o.Leases == nil:
		return errors.New("nodelifecycle: Nodes, Pods and Leases informers are required")
	case o.NodeMonitorGracePeriod < 0 || o.NodeMonitorPeriod < 0 || o.DefaultTolerationSeconds < 0:
		return errors.New("nodelifecycle: periods must not be negative")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.NodeMonitorGracePeriod == 0 {
		o.NodeMonitorGracePeriod = 40 * time.Second
	}
	if o.NodeMonitorPeriod == 0 {
		o.NodeMonitorPeriod = 5 * time.Second
	}
	if o.DefaultTolerationSeconds == 0 {
		o.DefaultTolerationSeconds = 300
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Controller watches node heartbeats and evicts pods from silent nodes.
type Controller struct {
	client kubernetes.Interface
	nodes  corelisters.NodeLister
	pods   corelisters.PodLister
	leases coordinationlisters.LeaseLister
	synced []cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[string] // node names
	log    *slog.Logger
	opts   Options

	mu sync.Mutex
	// health and taintedSince are per node, kept between reconciles.
	health       map[string]health
	taintedSince map[string]time.Time
}

// New returns a controller whose handlers are registered on the informers;
// they must be started (by their factory) for Run to make progress.
func New(opts Options) (*Controller, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	c := &Controller{
		client: opts.Client,
		nodes:  opts.Nodes.Lister(),
		pods:   opts.Pods.Lister(),
		leases: opts.Leases.Lister(),
		synced: []cache.InformerSynced{opts.Nodes.Informer().HasSynced, opts.Pods.Informer().HasSynced, opts.Leases.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "nodelifecycle"}),
		log:          opts.Logger,
		opts:         opts,
		health:       map[string]health{},
		taintedSince: map[string]time.Time{},
	}
	if _, err := opts.Nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueNode,
		UpdateFunc: func(_, obj any) { c.enqueueNode(obj) },
		DeleteFunc: c.enqueueNode,
	}); err != nil {
		return nil, fmt.Errorf("nodelifecycle: registering node handlers: %w", err)
	}
	if _, err := opts.Leases.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueLease,
		UpdateFunc: func(_, obj any) { c.enqueueLease(obj) },
	}); err != nil {
		return nil, fmt.Errorf("nodelifecycle: registering lease handlers: %w", err)
	}
	if _, err := opts.Pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueuePod,
		UpdateFunc: func(_, obj any) { c.enqueuePod(obj) },
	}); err != nil {
		return nil, fmt.Errorf("nodelifecycle: registering pod handlers: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueueNode(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if node, ok := obj.(*corev1.Node); ok {
		c.queue.Add(node.Name)
	}
}

func (c *Controller) enqueueLease(obj any) {
	if lease, ok := obj.(*coordinationv1.Lease); ok && lease.Namespace == leaseNamespace {
		c.queue.Add(lease.Name)
	}
}

// enqueuePod queues the node of a pod, which may have to leave it.
func (c *Controller) enqueuePod(obj any) {
	if pod, ok := obj.(*corev1.Pod); ok && pod.Spec.NodeName != "" && pod.DeletionTimestamp == nil {
		c.queue.Add(pod.Spec.NodeName)
	}
}

// Run waits for the informers to sync, then works the queue until ctx
// ends, queueing every node each NodeMonitorPeriod.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	c.log.Info("starting node lifecycle controller", "gracePeriod", c.opts.NodeMonitorGracePeriod, "monitorPeriod", c.opts.NodeMonitorPeriod)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return nil // ctx ended
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for c.processNext(ctx) {
		}
	})
	ticker := time.NewTicker(c.opts.NodeMonitorPeriod)
	defer ticker.Stop()
	for {
		c.enqueueAll()
		select {
		case <-ctx.Done():
			c.queue.ShutDown()
			wg.Wait()
			return nil
		case <-ticker.C:
		}
	}
}

func (c *Controller) enqueueAll() {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		c.log.Error("listing nodes", "err", err)
		return
	}
	for _, n := range nodes {
		c.queue.Add(n.Name)
	}
}

func (c *Controller) processNext(ctx context.Context) bool {
	name, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(name)
	err := c.reconcile(ctx, name)
	switch {
	case err == nil:
		c.queue.Forget(name)
	case ctx.Err() != nil:
	default:
		c.log.Error("reconciling node", "node", name, "err", err)
		c.queue.AddRateLimited(name)
	}
	return true
}

package garbagecollector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/lru"
)

// Options configure a Collector.
type Options struct {
	// Metadata reads, watches, patches and deletes objects of every
	// resource; required.
	Metadata metadata.Interface
	// Discovery finds the resources; required.
	Discovery discovery.DiscoveryInterface
	// Client writes Events when no Recorder is given.
	Client   kubernetes.Interface
	Recorder record.EventRecorder
	Logger   *slog.Logger
	Workers  int // attempt-to-delete workers; default 10
	// DiscoveryInterval is how often the resources are discovered again
	// (new CRDs, removed APIs); default 30s. A failed discovery, or an
	// ownerReference to an unknown kind, makes it come sooner.
	DiscoveryInterval time.Duration
	// SyncTimeout bounds the wait for the first list of every resource
	// before deletions start; default 60s. Deciding early is safe (owners
	// are verified with live reads) but costs reads.
	SyncTimeout time.Duration
	// Ignored resources are not watched; default events, events.k8s.io events.
	Ignored []schema.GroupResource
}

func (o *Options) validate() error {
	switch {
	case o.Metadata == nil:
		return errors.New("garbage collector: Metadata is required")
	case o.Discovery == nil:
		return errors.New("garbage collector: Discovery is required")
	case o.Client == nil && o.Recorder == nil:
		return errors.New("garbage collector: Client or Recorder is required")
	case o.Workers < 0:
		return fmt.Errorf("garbage collector: Workers %d is negative", o.Workers)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Workers == 0 {
		o.Workers = 10
	}
	if o.DiscoveryInterval <= 0 {
		o.DiscoveryInterval = 30 * time.Second
	}
	if o.SyncTimeout <= 0 {
		o.SyncTimeout = 60 * time.Second
	}
	if o.Ignored == nil {
		o.Ignored = []schema.GroupResource{{Resource: "events"}, {Group: "events.k8s.io", Resource: "events"}}
	}
	return nil
}

// change is a graph change to process: the object at key as its informer
// now holds it, or (virtual set) a virtual node whose lookup found nothing.
type change struct {
	key     objectKey
	virtual types.UID
}

// Collector is the garbage collector.
type Collector struct {
	metadata  metadata.Interface
	discovery discovery.DiscoveryInterface
	client    kubernetes.Interface
	recorder  record.EventRecorder
	log       *slog.Logger
	workers   int
	interval  time.Duration
	timeout   time.Duration
	ignored   []schema.GroupResource

	graph *graph
	// resources is the last discovery; monitors watch its resources.
	resources atomic.Pointer[resources]
	monitors  *monitors
	// rediscover asks for a discovery before the next interval.
	rediscover chan struct{}
	// absent remembers owners verified gone (identity with the
	// namespace looked in), sparing their other dependents a read.
	absent *lru.Cache

	graphChanges    workqueue.TypedRateLimitingInterface[change]
	attemptToDelete workqueue.TypedRateLimitingInterface[types.UID]
	attemptToOrphan workqueue.TypedRateLimitingInterface[types.UID]
}

// New returns a collector; it starts nothing until Run.
func New(opts Options) (*Collector, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	c := &Collector{
		metadata:   opts.Metadata,
		discovery:  opts.Discovery,
		client:     opts.Client,
		recorder:   opts.Recorder,
		log:        opts.Logger,
		workers:    opts.Workers,
		interval:   opts.DiscoveryInterval,
		timeout:    opts.SyncTimeout,
		ignored:    opts.Ignored,
		graph:      newGraph(),
		rediscover: make(chan struct{}, 1),
		absent:     lru.New(500),
		graphChanges: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[change](),
			workqueue.TypedRateLimitingQueueConfig[change]{Name: "garbage_collector_graph_changes"}),
		attemptToDelete: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[types.UID](),
			workqueue.TypedRateLimitingQueueConfig[types.UID]{Name: "garbage_collector_attempt_to_delete"}),
		attemptToOrphan: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[types.UID](),
			workqueue.TypedRateLimitingQueueConfig[types.UID]{Name: "garbage_collector_attempt_to_orphan"}),
	}
	c.monitors = newMonitors(opts.Metadata, c.graphChanges)
	return c, nil
}

// Run discovers the resources, watches them, and collects garbage until
// ctx ends.
func (c *Collector) Run(ctx context.Context) error {
	if c.recorder == nil {
		broadcaster := record.NewBroadcaster(record.WithContext(ctx))
		broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
		defer broadcaster.Shutdown()
		c.recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "garbage-collector-controller"})
	}
	c.log.Info("starting garbage collector", "workers", c.workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer c.monitors.stopAll()
	defer c.shutdownQueues()

	wg.Go(func() {
		for c.processGraphChange() {
		}
	})
	discovered := make(chan struct{})
	wg.Go(func() { c.discoverLoop(ctx, discovered) })

	// Start deciding once every resource has been listed (or the wait
	// timed out): before, owners look missing to the graph that are not.
	wctx, cancel := context.WithTimeout(ctx, c.timeout)
	select {
	case <-discovered:
	case <-wctx.Done():
	}
	if !cache.WaitForCacheSync(wctx.Done(), c.monitors.hasSynced) && ctx.Err() == nil {
		c.log.Warn("not every resource listed in time; collecting anyway", "timeout", c.timeout)
	}
	cancel()
	if ctx.Err() != nil {
		return nil
	}
	for range c.workers {
		wg.Go(func() {
			for c.processAttemptToDelete(ctx) {
			}
		})
	}
	wg.Go(func() {
		for c.processAttemptToOrphan(ctx) {
		}
	})
	<-ctx.Done()
	return nil
}

func (c *Collector) shutdownQueues() {
	c.graphChanges.ShutDown()
	c.attemptToDelete.ShutDown()
	c.attemptToOrphan.ShutDown()
}

// discoverLoop discovers the resources now, then every interval, sooner
// after a failure or when asked, and watches what it found. It closes
// discovered after the first discovery that found anything.
func (c *Collector) discoverLoop(ctx context.Context, discovered chan<- struct{}) {
	const retry = 5 * time.Second
	for {
		next := c.interval
		res, err := discoverResources(ctx, c.discovery, c.ignored)
		if err != nil {
			c.log.Warn("discovering resources", "err", err)
			next = min(retry, c.interval)
		}
		if res != nil {
			first := c.resources.Swap(res) == nil
			c.monitors.sync(ctx, res)
			if first {
				close(discovered)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(next):
		case <-c.rediscover:
			// Not more often than the retry pace.
			select {
			case <-ctx.Done():
				return
			case <-time.After(min(time.Second, c.interval)):
			}
		}
	}
}

// askRediscovery requests a discovery before the next interval.
func (c *Collector) askRediscovery() {
	select {
	case c.rediscover <- struct{}{}:
	default:
	}
}

// processGraphChange applies one change to the graph and queues the work
// it calls for.
func (c *Collector) processGraphChange() bool {
	ch, quit := c.graphChanges.Get()
	if quit {
		return false
	}
	defer c.graphChanges.Done(ch)
	var f followUp
	switch {
	case ch.virtual != "":
		f = c.graph.virtualGone(ch.virtual)
	default:
		obj, gvk, ok := c.monitors.get(ch.key)
		if ok {
			f = c.graph.observe(observationOf(ch.key, obj, gvk))
		} else {
			f = c.graph.forget(ch.key)
		}
	}
	c.graphChanges.Forget(ch)
	for _, id := range f.absent {
		c.absent.Add(id, struct{}{})
	}
	for _, uid := range f.attemptToDelete {
		c.attemptToDelete.Add(uid)
	}
	for _, uid := range f.attemptToOrphan {
		c.attemptToOrphan.Add(uid)
	}
	return true
}

func observationOf(key objectKey, obj *metav1.PartialObjectMetadata, gvk schema.GroupVersionKind) observation {
	return observation{
		key:        key,
		apiVersion: gvk.GroupVersion().String(),
		kind:       gvk.Kind,
		uid:        obj.UID,
		owners:     obj.OwnerReferences,
		deleting:   obj.DeletionTimestamp != nil,
		finalizers: obj.Finalizers,
	}
}

func (c *Collector) processAttemptToDelete(ctx context.Context) bool {
	uid, quit := c.attemptToDelete.Get()
	if quit {
		return false
	}
	defer c.attemptToDelete.Done(uid)
	err := c.attemptToDeleteItem(ctx, uid)
	c.handleErr(ctx, c.attemptToDelete, uid, err, "attempting to delete")
	return true
}

func (c *Collector) processAttemptToOrphan(ctx context.Context) bool {
	uid, quit := c.attemptToOrphan.Get()
	if quit {
		return false
	}
	defer c.attemptToOrphan.Done(uid)
	err := c.orphanDependents(ctx, uid)
	c.handleErr(ctx, c.attemptToOrphan, uid, err, "orphaning dependents")
	return true
}

func (c *Collector) handleErr(ctx context.Context, q workqueue.TypedRateLimitingInterface[types.UID], uid types.UID, err error, what string) {
	var unknown *errUnknownKind
	switch {
	case err == nil:
		q.Forget(uid)
		return
	case ctx.Err() != nil:
		return
	case errors.As(err, &unknown):
		c.askRediscovery()
		c.log.Debug(what, "uid", uid, "err", err)
	case isConflict(err):
		c.log.Debug(what+": object changed meanwhile, retrying", "uid", uid)
	default:
		c.log.Error(what, "uid", uid, "err", err)
	}
	q.AddRateLimited(uid)
}

package namespace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/discovery"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/k1s/k1s/internal/controller/worker"
)

// Options configure a Controller.
type Options struct {
	Client   kubernetes.Interface // required
	Metadata metadata.Interface   // required: lists and deletes content
	// Discovery finds the namespaced resources; default Client.Discovery().
	Discovery discovery.DiscoveryInterface
	Informer  coreinformers.NamespaceInformer // required
	Logger    *slog.Logger
	Workers   int // default 2
	// DeletionDelay is how long a deleted namespace waits before its
	// content is deleted, so that creates admitted just before the
	// deletion land first and are cleaned up too (upstream waits 5s).
	// Default 5s; negative means no wait.
	DeletionDelay time.Duration
	// RateLimiter paces retries of a namespace whose content is not gone
	// yet; default: per-namespace exponential backoff from 100ms to 10s.
	RateLimiter workqueue.TypedRateLimiter[string]
}

func (o *Options) validate() error {
	switch {
	case o.Client == nil:
		return errors.New("namespace controller: Client is required")
	case o.Metadata == nil:
		return errors.New("namespace controller: Metadata is required")
	case o.Informer == nil:
		return errors.New("namespace controller: Informer is required")
	case o.Workers < 0:
		return fmt.Errorf("namespace controller: Workers %d is negative", o.Workers)
	}
	if o.Discovery == nil {
		o.Discovery = o.Client.Discovery()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Workers == 0 {
		o.Workers = 2
	}
	switch {
	case o.DeletionDelay == 0:
		o.DeletionDelay = 5 * time.Second
	case o.DeletionDelay < 0:
		o.DeletionDelay = 0
	}
	if o.RateLimiter == nil {
		o.RateLimiter = workqueue.NewTypedItemExponentialFailureRateLimiter[string](100*time.Millisecond, 10*time.Second)
	}
	return nil
}

// Controller deletes the content of terminating namespaces and then
// finalizes them.
type Controller struct {
	client    kubernetes.Interface
	metadata  metadata.Interface
	discovery discovery.DiscoveryInterface
	lister    corelisters.NamespaceLister
	synced    cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	log       *slog.Logger
	workers   int
	delay     time.Duration
	now       func() time.Time
}

// New returns a controller whose handlers are registered on the informer;
// the informer must be started (by its factory) for Run to make progress.
func New(opts Options) (*Controller, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	c := &Controller{
		client:    opts.Client,
		metadata:  opts.Metadata,
		discovery: opts.Discovery,
		lister:    opts.Informer.Lister(),
		synced:    opts.Informer.Informer().HasSynced,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(opts.RateLimiter,
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "namespace"}),
		log:     opts.Logger,
		workers: opts.Workers,
		delay:   opts.DeletionDelay,
		now:     time.Now,
	}
	// Deleted namespaces need nothing more, so only adds and updates count.
	_, err := opts.Informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
	})
	if err != nil {
		return nil, fmt.Errorf("namespace controller: registering handlers: %w", err)
	}
	return c, nil
}

// enqueue adds the key of a namespace being deleted, after the deletion
// delay; all decisions are made in reconcile. Namespaces not being
// deleted need nothing, so they are not queued.
func (c *Controller) enqueue(obj any) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok || ns.DeletionTimestamp == nil {
		return
	}
	c.queue.AddAfter(ns.Name, c.delay)
}

// Run waits for the informer to sync, then works the queue until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	c.log.Info("starting namespace controller", "workers", c.workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return nil // ctx ended
	}
	worker.Run(ctx, c.workers, c.queue, c.processNext)
	return nil
}

// processNext reconciles one key; it reports false once the queue is shut down.
func (c *Controller) processNext(ctx context.Context) bool {
	name, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(name)
	err := c.reconcile(ctx, name)
	var remaining *contentRemainingError
	switch {
	case err == nil:
		c.queue.Forget(name)
	case ctx.Err() != nil:
		// Shutting down: the request failed because of that.
	case errors.As(err, &remaining):
		c.log.Debug("namespace content remains", "namespace", name, "remaining", remaining.Error())
		c.queue.AddRateLimited(name)
	case apierrors.IsConflict(err):
		c.log.Debug("namespace changed while reconciling, retrying", "namespace", name)
		c.queue.AddRateLimited(name)
	default:
		c.log.Error("reconciling namespace", "namespace", name, "err", err)
		c.queue.AddRateLimited(name)
	}
	return true
}

package serviceaccount

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/k1s/k1s/internal/controller/worker"
)

// Options configure a Controller.
type Options struct {
	Client          kubernetes.Interface                 // required
	Namespaces      coreinformers.NamespaceInformer      // required
	ServiceAccounts coreinformers.ServiceAccountInformer // required
	Logger          *slog.Logger
	// Names are the accounts every namespace gets; default ["default"].
	Names   []string
	Workers int // default 1
	// RateLimiter paces retries of a namespace whose create failed;
	// default: per-namespace exponential backoff from 5ms to 100s.
	RateLimiter workqueue.TypedRateLimiter[string]
}

func (o *Options) validate() error {
	switch {
	case o.Client == nil:
		return errors.New("serviceaccount controller: Client is required")
	case o.Namespaces == nil:
		return errors.New("serviceaccount controller: Namespaces informer is required")
	case o.ServiceAccounts == nil:
		return errors.New("serviceaccount controller: ServiceAccounts informer is required")
	case o.Workers < 0:
		return fmt.Errorf("serviceaccount controller: Workers %d is negative", o.Workers)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if len(o.Names) == 0 {
		o.Names = []string{"default"}
	}
	if o.Workers == 0 {
		o.Workers = 1
	}
	if o.RateLimiter == nil {
		o.RateLimiter = workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, 100*time.Second)
	}
	return nil
}

// Controller ensures the service accounts every namespace should have.
type Controller struct {
	client   kubernetes.Interface
	nsLister corelisters.NamespaceLister
	saLister corelisters.ServiceAccountLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string] // namespace names
	names    []string
	log      *slog.Logger
	workers  int
}

// New returns a controller whose handlers are registered on the informers;
// they must be started (by their factory) for Run to make progress.
func New(opts Options) (*Controller, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	c := &Controller{
		client:   opts.Client,
		nsLister: opts.Namespaces.Lister(),
		saLister: opts.ServiceAccounts.Lister(),
		synced:   []cache.InformerSynced{opts.Namespaces.Informer().HasSynced, opts.ServiceAccounts.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(opts.RateLimiter,
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "serviceaccount"}),
		names:   opts.Names,
		log:     opts.Logger,
		workers: opts.Workers,
	}
	if _, err := opts.Namespaces.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueNamespace,
		UpdateFunc: func(_, obj any) { c.enqueueNamespace(obj) },
	}); err != nil {
		return nil, fmt.Errorf("serviceaccount controller: registering namespace handlers: %w", err)
	}
	if _, err := opts.ServiceAccounts.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: c.enqueueAccountNamespace,
	}); err != nil {
		return nil, fmt.Errorf("serviceaccount controller: registering serviceaccount handlers: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueueNamespace(obj any) {
	if ns, ok := obj.(*corev1.Namespace); ok {
		c.queue.Add(ns.Name)
	}
}

// enqueueAccountNamespace queues the namespace of a deleted account.
func (c *Controller) enqueueAccountNamespace(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if sa, ok := obj.(*corev1.ServiceAccount); ok {
		c.queue.Add(sa.Namespace)
	}
}

// Run waits for the informers to sync, then works the queue until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	c.log.Info("starting serviceaccount controller", "workers", c.workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return nil // ctx ended
	}
	worker.Run(ctx, c.workers, c.queue, c.processNext)
	return nil
}

func (c *Controller) processNext(ctx context.Context) bool {
	ns, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(ns)
	err := c.reconcile(ctx, ns)
	switch {
	case err == nil:
		c.queue.Forget(ns)
	case ctx.Err() != nil:
	default:
		c.log.Error("ensuring service accounts", "namespace", ns, "err", err)
		c.queue.AddRateLimited(ns)
	}
	return true
}

// reconcile creates the accounts missing from an active namespace.
func (c *Controller) reconcile(ctx context.Context, namespace string) error {
	ns, err := c.nsLister.Get(namespace)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if terminating(ns) {
		return nil
	}
	for _, name := range c.names {
		_, err := c.saLister.ServiceAccounts(namespace).Get(name)
		if err == nil {
			continue
		}
		if !apierrors.IsNotFound(err) {
			return err
		}
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
		_, err = c.client.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{})
		switch {
		case err == nil:
			c.log.Debug("created service account", "namespace", namespace, "name", name)
		case apierrors.IsAlreadyExists(err):
			// The cache lags behind a create of ours or someone else's.
		case apierrors.IsNotFound(err), apierrors.IsForbidden(err) && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
			return nil // the namespace went away or started terminating
		case apierrors.IsForbidden(err) && c.namespaceTerminating(ctx, namespace):
			return nil
		default:
			return fmt.Errorf("creating service account %s: %w", name, err)
		}
	}
	return nil
}

// namespaceTerminating asks the api-server whether a namespace whose
// create was refused has started terminating since the cache saw it.
func (c *Controller) namespaceTerminating(ctx context.Context, name string) bool {
	ns, err := c.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	return apierrors.IsNotFound(err) || err == nil && terminating(ns)
}

func terminating(ns *corev1.Namespace) bool {
	return ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating
}

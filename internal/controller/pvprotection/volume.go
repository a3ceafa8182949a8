package pvprotection

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

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

// VolumeFinalizer holds a volume while it is bound.
const VolumeFinalizer = "kubernetes.io/pv-protection"

// VolumeOptions configure a VolumeController.
type VolumeOptions struct {
	Client  kubernetes.Interface                   // required
	Volumes coreinformers.PersistentVolumeInformer // required
	Logger  *slog.Logger
	Workers int // default 1
	// RateLimiter paces retries; default client-go's controller rate limiter.
	RateLimiter workqueue.TypedRateLimiter[string]
}

func (o *VolumeOptions) validate() error {
	switch {
	case o.Client == nil:
		return errors.New("pv-protection controller: Client is required")
	case o.Volumes == nil:
		return errors.New("pv-protection controller: Volumes informer is required")
	case o.Workers < 0:
		return fmt.Errorf("pv-protection controller: Workers %d is negative", o.Workers)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Workers == 0 {
		o.Workers = 1
	}
	if o.RateLimiter == nil {
		o.RateLimiter = workqueue.DefaultTypedControllerRateLimiter[string]()
	}
	return nil
}

// VolumeController keeps bound volumes from being removed.
type VolumeController struct {
	client  kubernetes.Interface
	volumes corelisters.PersistentVolumeLister
	synced  cache.InformerSynced
	queue   workqueue.TypedRateLimitingInterface[string] // volume names
	log     *slog.Logger
	workers int
}

// NewVolumeController returns a controller whose handlers are registered
// on the informer; it must be started for Run to make progress.
func NewVolumeController(opts VolumeOptions) (*VolumeController, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	c := &VolumeController{
		client:  opts.Client,
		volumes: opts.Volumes.Lister(),
		synced:  opts.Volumes.Informer().HasSynced,
		queue:   workqueue.NewTypedRateLimitingQueueWithConfig(opts.RateLimiter, workqueue.TypedRateLimitingQueueConfig[string]{Name: "pv-protection"}),
		log:     opts.Logger,
		workers: opts.Workers,
	}
	enqueue := func(obj any) {
		if pv, ok := obj.(*corev1.PersistentVolume); ok {
			c.queue.Add(pv.Name)
		}
	}
	if _, err := opts.Volumes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	}); err != nil {
		return nil, fmt.Errorf("pv-protection controller: registering handlers: %w", err)
	}
	return c, nil
}

// Run waits for the informer to sync, then works the queue until ctx ends.
func (c *VolumeController) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	c.log.Info("starting pv-protection controller", "workers", c.workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return nil // ctx ended
	}
	worker.Run(ctx, c.workers, c.queue, c.processNext)
	return nil
}

func (c *VolumeController) processNext(ctx context.Context) bool {
	k, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(k)
	worker.Handle(ctx, c.queue, k, c.reconcile(ctx, k), c.log, "volume")
	return true
}

// volumeFinalizerChange says whether to add (+1) or remove (-1) the
// finalizer on a volume, or leave it (0).
func volumeFinalizerChange(pv *corev1.PersistentVolume) int {
	has := slices.Contains(pv.Finalizers, VolumeFinalizer)
	switch {
	case pv.DeletionTimestamp == nil && !has:
		return 1
	case pv.DeletionTimestamp != nil && has && pv.Status.Phase != corev1.VolumeBound:
		return -1
	}
	return 0
}

func (c *VolumeController) reconcile(ctx context.Context, name string) error {
	pv, err := c.volumes.Get(name)
	if err != nil {
		return ignoreNotFound(err)
	}
	switch volumeFinalizerChange(pv) {
	case 1:
		pv = pv.DeepCopy()
		pv.Finalizers = append(pv.Finalizers, VolumeFinalizer)
	case -1:
		pv = pv.DeepCopy()
		pv.Finalizers = slices.DeleteFunc(pv.Finalizers, func(f string) bool { return f == VolumeFinalizer })
	default:
		return nil
	}
	_, err = c.client.CoreV1().PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{})
	return ignoreNotFound(wrap(err, "updating finalizers of volume "+name))
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// wrap adds context to a non-nil error.
func wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

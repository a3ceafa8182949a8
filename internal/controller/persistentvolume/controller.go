package persistentvolume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	coreinformers "k8s.io/client-go/informers/core/v1"
	storageinformers "k8s.io/client-go/informers/storage/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/k1s/k1s/internal/controller/eventrecorder"
	"github.com/k1s/k1s/internal/controller/worker"
)

const (
	// component names the controller in the Events it records.
	component = "persistentvolume-controller"
	// volumesByClaim indexes volumes by their claimRef's "<ns>/<name>".
	volumesByClaim = "persistentvolume.k1s.io/claim"
)

// Options configure a Controller.
type Options struct {
	Client  kubernetes.Interface                        // required
	Volumes coreinformers.PersistentVolumeInformer      // required
	Claims  coreinformers.PersistentVolumeClaimInformer // required
	Classes storageinformers.StorageClassInformer       // required
	Nodes   coreinformers.NodeInformer                  // required
	// Recorder records Events; default: a broadcaster writing core/v1
	// Events through Client, started by Run.
	Recorder record.EventRecorder
	Logger   *slog.Logger
	// ResyncPeriod is how often every claim and volume is queued again,
	// as upstream's periodic sync; default 15s.
	ResyncPeriod time.Duration
	// RateLimiter paces retries; default client-go's controller rate limiter.
	RateLimiter workqueue.TypedRateLimiter[key]
}

func (o *Options) validate() error {
	switch {
	case o.Client == nil:
		return errors.New("persistentvolume controller: Client is required")
	case o.Volumes == nil || o.Claims == nil || o.Classes == nil || o.Nodes == nil:
		return errors.New("persistentvolume controller: Volumes, Claims, Classes and Nodes informers are required")
	case o.ResyncPeriod < 0:
		return fmt.Errorf("persistentvolume controller: ResyncPeriod %v is negative", o.ResyncPeriod)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ResyncPeriod == 0 {
		o.ResyncPeriod = 15 * time.Second
	}
	if o.RateLimiter == nil {
		o.RateLimiter = workqueue.DefaultTypedControllerRateLimiter[key]()
	}
	return nil
}

// key names a claim ("<ns>/<name>") or a volume ("<name>").
type key struct {
	volume bool
	name   string
}

// Controller binds claims to volumes and keeps their phases.
type Controller struct {
	client      kubernetes.Interface
	volumes     corelisters.PersistentVolumeLister
	volumeIndex cache.Indexer
	claims      corelisters.PersistentVolumeClaimLister
	classes     storagelisters.StorageClassLister
	nodes       corelisters.NodeLister
	synced      []cache.InformerSynced
	// One worker: binding reads every volume, and a single writer keeps
	// two claims from racing for the same one in the common case (the
	// resourceVersion on each write settles the rest).
	queue    workqueue.TypedRateLimitingInterface[key]
	recorder record.EventRecorder
	log      *slog.Logger
	resync   time.Duration
}

// New returns a controller whose handlers are registered on the informers;
// they must be started (by their factory) for Run to make progress.
func New(opts Options) (*Controller, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	c := &Controller{
		client:   opts.Client,
		volumes:  opts.Volumes.Lister(),
		claims:   opts.Claims.Lister(),
		classes:  opts.Classes.Lister(),
		nodes:    opts.Nodes.Lister(),
		synced:   []cache.InformerSynced{opts.Volumes.Informer().HasSynced, opts.Claims.Informer().HasSynced, opts.Classes.Informer().HasSynced, opts.Nodes.Informer().HasSynced},
		queue:    workqueue.NewTypedRateLimitingQueueWithConfig(opts.RateLimiter, workqueue.TypedRateLimitingQueueConfig[key]{Name: "persistentvolume"}),
		recorder: opts.Recorder,
		log:      opts.Logger,
		resync:   opts.ResyncPeriod,
	}
	vi := opts.Volumes.Informer()
	if _, ok := vi.GetIndexer().GetIndexers()[volumesByClaim]; !ok {
		if err := vi.AddIndexers(cache.Indexers{volumesByClaim: indexByClaim}); err != nil {
			return nil, fmt.Errorf("persistentvolume controller: adding volume index: %w", err)
		}
	}
	c.volumeIndex = vi.GetIndexer()
	if _, err := vi.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.volumeChanged,
		UpdateFunc: func(_, obj any) { c.volumeChanged(obj) },
		DeleteFunc: c.volumeChanged,
	}); err != nil {
		return nil, fmt.Errorf("persistentvolume controller: registering handlers: %w", err)
	}
	if _, err := opts.Claims.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.claimChanged,
		UpdateFunc: func(_, obj any) { c.claimChanged(obj) },
		DeleteFunc: c.claimChanged,
	}); err != nil {
		return nil, fmt.Errorf("persistentvolume controller: registering handlers: %w", err)
	}
	if _, err := opts.Classes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.enqueueAll(true) },
		UpdateFunc: func(any, any) { c.enqueueAll(true) },
	}); err != nil {
		return nil, fmt.Errorf("persistentvolume controller: registering handlers: %w", err)
	}
	return c, nil
}

func indexByClaim(obj any) ([]string, error) {
	pv, ok := obj.(*corev1.PersistentVolume)
	if !ok || pv.Spec.ClaimRef == nil {
		return nil, nil
	}
	return []string{pv.Spec.ClaimRef.Namespace + "/" + pv.Spec.ClaimRef.Name}, nil
}

func tombstoneObj(obj any) any {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return t.Obj
	}
	return obj
}

// volumeChanged queues the volume and the claim it names.
func (c *Controller) volumeChanged(obj any) {
	pv, ok := tombstoneObj(obj).(*corev1.PersistentVolume)
	if !ok {
		return
	}
	c.queue.Add(key{volume: true, name: pv.Name})
	if ref := pv.Spec.ClaimRef; ref != nil {
		c.queue.Add(key{name: ref.Namespace + "/" + ref.Name})
		return
	}
	// A free volume may be what a waiting claim needs.
	claims, _ := c.claims.List(labels.Everything())
	for _, cl := range claims {
		if cl.Spec.VolumeName == "" {
			c.queue.Add(key{name: cl.Namespace + "/" + cl.Name})
		}
	}
}

// claimChanged queues the claim and the volumes that point at it.
func (c *Controller) claimChanged(obj any) {
	claim, ok := tombstoneObj(obj).(*corev1.PersistentVolumeClaim)
	if !ok {
		return
	}
	k := claim.Namespace + "/" + claim.Name
	c.queue.Add(key{name: k})
	if claim.Spec.VolumeName != "" {
		c.queue.Add(key{volume: true, name: claim.Spec.VolumeName})
	}
	objs, _ := c.volumeIndex.ByIndex(volumesByClaim, k)
	for _, o := range objs {
		c.queue.Add(key{volume: true, name: o.(*corev1.PersistentVolume).Name})
	}
}

// enqueueAll queues every claim (and, unless claimsOnly, every volume).
func (c *Controller) enqueueAll(claimsOnly bool) {
	claims, _ := c.claims.List(labels.Everything())
	for _, cl := range claims {
		c.queue.Add(key{name: cl.Namespace + "/" + cl.Name})
	}
	if claimsOnly {
		return
	}
	volumes, _ := c.volumes.List(labels.Everything())
	for _, pv := range volumes {
		c.queue.Add(key{volume: true, name: pv.Name})
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
	c.log.Info("starting persistentvolume controller")
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return nil // ctx ended
	}
	go func() {
		t := time.NewTicker(c.resync)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				c.enqueueAll(false)
			}
		}
	}()
	worker.Run(ctx, 1, c.queue, c.processNext)
	return nil
}

func (c *Controller) processNext(ctx context.Context) bool {
	k, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(k)
	var err error
	kind := "claim"
	if k.volume {
		kind = "volume"
		err = c.syncVolume(ctx, k.name)
	} else {
		err = c.syncClaim(ctx, k.name)
	}
	worker.Handle(ctx, c.queue, k, err, c.log, kind)
	return true
}

// ignoreNotFound treats an object deleted under us as done: its deletion
// queues what depends on it.
func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

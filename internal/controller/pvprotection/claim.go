package pvprotection

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/k1s/k1s/internal/controller/worker"
)

const (
	// ClaimFinalizer holds a claim while pods use it.
	ClaimFinalizer = "kubernetes.io/pvc-protection"
	// podsByClaim indexes pods by "<ns>/<claim name>" of the claims they use.
	podsByClaim = "pvprotection.k1s.io/claim"
)

// ClaimOptions configure a ClaimController.
type ClaimOptions struct {
	Client  kubernetes.Interface                        // required
	Claims  coreinformers.PersistentVolumeClaimInformer // required
	Pods    coreinformers.PodInformer                   // required
	Logger  *slog.Logger
	Workers int // default 1
	// RateLimiter paces retries; default client-go's controller rate limiter.
	RateLimiter workqueue.TypedRateLimiter[string]
}

func (o *ClaimOptions) validate() error {
	switch {
	case o.Client == nil:
		return errors.New("pvc-protection controller: Client is required")
	case o.Claims == nil || o.Pods == nil:
		return errors.New("pvc-protection controller: Claims and Pods informers are required")
	case o.Workers < 0:
		return fmt.Errorf("pvc-protection controller: Workers %d is negative", o.Workers)
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

// ClaimController keeps claims that pods use from being removed.
type ClaimController struct {
	client   kubernetes.Interface
	claims   corelisters.PersistentVolumeClaimLister
	podIndex cache.Indexer
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string] // "<ns>/<claim>"
	log      *slog.Logger
	workers  int
}

// NewClaimController returns a controller whose handlers are registered
// on the informers; they must be started for Run to make progress.
func NewClaimController(opts ClaimOptions) (*ClaimController, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	c := &ClaimController{
		client:  opts.Client,
		claims:  opts.Claims.Lister(),
		synced:  []cache.InformerSynced{opts.Claims.Informer().HasSynced, opts.Pods.Informer().HasSynced},
		queue:   workqueue.NewTypedRateLimitingQueueWithConfig(opts.RateLimiter, workqueue.TypedRateLimitingQueueConfig[string]{Name: "pvc-protection"}),
		log:     opts.Logger,
		workers: opts.Workers,
	}
	pi := opts.Pods.Informer()
	if _, ok := pi.GetIndexer().GetIndexers()[podsByClaim]; !ok {
		if err := pi.AddIndexers(cache.Indexers{podsByClaim: indexByClaim}); err != nil {
			return nil, fmt.Errorf("pvc-protection controller: adding pod index: %w", err)
		}
	}
	c.podIndex = pi.GetIndexer()
	enqueueClaim := func(obj any) {
		if k, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(k)
		}
	}
	if _, err := opts.Claims.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueueClaim,
		UpdateFunc: func(_, obj any) { enqueueClaim(obj) },
	}); err != nil {
		return nil, fmt.Errorf("pvc-protection controller: registering handlers: %w", err)
	}
	if _, err := pi.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.podChanged,
		UpdateFunc: func(_, obj any) { c.podChanged(obj) },
		DeleteFunc: c.podChanged,
	}); err != nil {
		return nil, fmt.Errorf("pvc-protection controller: registering handlers: %w", err)
	}
	return c, nil
}

// claimNames returns the claims a pod's volumes use.
func claimNames(pod *corev1.Pod) []string {
	var names []string
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			names = append(names, v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			names = append(names, pod.Name+"-"+v.Name)
		}
	}
	return names
}

func indexByClaim(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	var keys []string
	for _, n := range claimNames(pod) {
		keys = append(keys, pod.Namespace+"/"+n)
	}
	return keys, nil
}

// podChanged queues the claims of a pod: a pod ending or going away may
// free a claim being deleted.
func (c *ClaimController) podChanged(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	for _, n := range claimNames(pod) {
		c.queue.Add(pod.Namespace + "/" + n)
	}
}

// Run waits for the informers to sync, then works the queue until ctx ends.
func (c *ClaimController) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	c.log.Info("starting pvc-protection controller", "workers", c.workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return nil // ctx ended
	}
	worker.Run(ctx, c.workers, c.queue, c.processNext)
	return nil
}

func (c *ClaimController) processNext(ctx context.Context) bool {
	k, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(k)
	worker.Handle(ctx, c.queue, k, c.reconcile(ctx, k), c.log, "claim")
	return true
}

// podUses reports whether a pod that has not terminated uses the claim.
func podUses(pod *corev1.Pod, claim string) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	return slices.Contains(claimNames(pod), claim)
}

func (c *ClaimController) reconcile(ctx context.Context, k string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(k)
	if err != nil {
		return nil
	}
	claim, err := c.claims.PersistentVolumeClaims(ns).Get(name)
	if err != nil {
		return ignoreNotFound(err)
	}
	has := slices.Contains(claim.Finalizers, ClaimFinalizer)
	if claim.DeletionTimestamp == nil {
		if has {
			return nil
		}
		claim = claim.DeepCopy()
		claim.Finalizers = append(claim.Finalizers, ClaimFinalizer)
		_, err := c.client.CoreV1().PersistentVolumeClaims(ns).Update(ctx, claim, metav1.UpdateOptions{})
		return ignoreNotFound(wrap(err, "adding finalizer to claim "+k))
	}
	if !has {
		return nil
	}
	cached, err := c.podIndex.ByIndex(podsByClaim, k)
	if err != nil {
		return err
	}
	for _, o := range cached {
		if podUses(o.(*corev1.Pod), name) {
			return nil // the pod's end queues the claim again
		}
	}
	// The cache may not have a pod created just now: ask the api-server.
	pods, err := c.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing pods using claim %s: %w", k, err)
	}
	for i := range pods.Items {
		if podUses(&pods.Items[i], name) {
			return nil
		}
	}
	claim = claim.DeepCopy()
	claim.Finalizers = slices.DeleteFunc(claim.Finalizers, func(f string) bool { return f == ClaimFinalizer })
	_, err = c.client.CoreV1().PersistentVolumeClaims(ns).Update(ctx, claim, metav1.UpdateOptions{})
	if err == nil {
		c.log.Debug("removed claim finalizer", "claim", k)
	}
	return ignoreNotFound(wrap(err, "removing finalizer from claim "+k))
}

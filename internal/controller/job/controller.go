package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	batchinformers "k8s.io/client-go/informers/batch/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/k1s/k1s/internal/controller/eventrecorder"
	"github.com/k1s/k1s/internal/controller/expectations"
	"github.com/k1s/k1s/internal/controller/worker"
)

// controllerKind is what the Job controller owns pods as.
func controllerKind() schema.GroupVersionKind {
	return batchv1.SchemeGroupVersion.WithKind("Job")
}

const (
	// component names the controller in the Events it records.
	component = "job-controller"
	// podsByController indexes pods by their controller's UID, so a Job
	// finds its pods without a scan.
	podsByController = "job.k1s.io/controller-uid"
	// podsByJobName indexes pods controlled by a Job by "<ns>/<job name>",
	// so the pods of a Job that is gone can still be released.
	podsByJobName = "job.k1s.io/job-name"
)

// Options configure a Controller.
type Options struct {
	Client kubernetes.Interface       // required
	Jobs   batchinformers.JobInformer // required
	Pods   coreinformers.PodInformer  // required
	// Recorder records Events; default: a broadcaster writing core/v1
	// Events through Client, started by Run.
	Recorder record.EventRecorder
	Logger   *slog.Logger
	Workers  int // default 5, as upstream
	// BackoffBase is the delay before replacing a job's first failed pod;
	// it doubles with each further failure, capped at BackoffMax.
	// Defaults 10s and 6m, as upstream.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// RateLimiter paces retries of a failing Job; default client-go's
	// controller rate limiter.
	RateLimiter workqueue.TypedRateLimiter[string]
}

func (o *Options) validate() error {
	switch {
	case o.Client == nil:
		return errors.New("job controller: Client is required")
	case o.Jobs == nil:
		return errors.New("job controller: Jobs informer is required")
	case o.Pods == nil:
		return errors.New("job controller: Pods informer is required")
	case o.Workers < 0:
		return fmt.Errorf("job controller: Workers %d is negative", o.Workers)
	case o.BackoffBase < 0 || o.BackoffMax < 0:
		return errors.New("job controller: negative backoff")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Workers == 0 {
		o.Workers = 5
	}
	if o.BackoffBase == 0 {
		o.BackoffBase = 10 * time.Second
	}
	if o.BackoffMax == 0 {
		o.BackoffMax = 6 * time.Minute
	}
	if o.RateLimiter == nil {
		o.RateLimiter = workqueue.DefaultTypedControllerRateLimiter[string]()
	}
	return nil
}

// Controller runs each Job's pods to completion or failure.
type Controller struct {
	client     kubernetes.Interface
	jobLister  batchlisters.JobLister
	podIndexer cache.Indexer
	synced     []cache.InformerSynced
	queue      workqueue.TypedRateLimitingInterface[string]
	exp        *expectations.Expectations
	untracking *untracking
	recorder   record.EventRecorder // set by New or Run, before any reconcile
	log        *slog.Logger
	workers    int
	backoff    backoff
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
		jobLister: opts.Jobs.Lister(),
		synced:    []cache.InformerSynced{opts.Jobs.Informer().HasSynced, opts.Pods.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(opts.RateLimiter,
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "job"}),
		exp:        expectations.New(time.Now),
		untracking: newUntracking(),
		recorder:   opts.Recorder,
		log:        opts.Logger,
		workers:    opts.Workers,
		backoff:    backoff{base: opts.BackoffBase, max: opts.BackoffMax},
		now:        time.Now,
	}
	podInformer := opts.Pods.Informer()
	for name, f := range map[string]cache.IndexFunc{podsByController: indexByController, podsByJobName: indexByJobName} {
		if _, ok := podInformer.GetIndexer().GetIndexers()[name]; ok {
			continue
		}
		if err := podInformer.AddIndexers(cache.Indexers{name: f}); err != nil {
			return nil, fmt.Errorf("job controller: adding pod index: %w", err)
		}
	}
	c.podIndexer = podInformer.GetIndexer()
	_, err := opts.Jobs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: c.enqueue,
	})
	if err != nil {
		return nil, fmt.Errorf("job controller: registering handlers: %w", err)
	}
	_, err = podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	})
	if err != nil {
		return nil, fmt.Errorf("job controller: registering handlers: %w", err)
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
	return nil, nil
}

func indexByJobName(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil && isJob(ref) {
		return []string{pod.Namespace + "/" + ref.Name}, nil
	}
	return nil, nil
}

func isJob(ref *metav1.OwnerReference) bool {
	gvk := controllerKind()
	return ref.Kind == gvk.Kind && ref.APIVersion == gvk.GroupVersion().String()
}

// enqueue adds the key of a Job (or its tombstone).
func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		c.log.Error("cannot key object", "err", err)
		return
	}
	c.queue.Add(key)
}

// resolveController returns the key of the Job ref points at, if that Job
// is in the cache with the same UID.
func (c *Controller) resolveController(ns string, ref *metav1.OwnerReference) (string, bool) {
	if !isJob(ref) {
		return "", false
	}
	j, err := c.jobLister.Jobs(ns).Get(ref.Name)
	if err != nil || j.UID != ref.UID {
		return "", false
	}
	return ns + "/" + j.Name, true
}

// The pod handlers enqueue the owning Job and record observed creations,
// deletions and finalizer removals; every decision is left to reconcile.
// A pod whose Job is not in the cache still queues the Job's key if it
// holds the tracking finalizer, so that reconcile releases it.

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	key, ok := c.podKey(pod)
	if !ok {
		return
	}
	c.exp.CreationObserved(key)
	if pod.DeletionTimestamp != nil {
		c.exp.DeletionObserved(key, pod.Namespace+"/"+pod.Name)
	}
	if !slices.Contains(pod.Finalizers, batchv1.JobTrackingFinalizer) {
		c.untracking.observed(key, pod.UID)
	}
	c.queue.Add(key)
}

func (c *Controller) updatePod(oldObj, curObj any) {
	old, cur := oldObj.(*corev1.Pod), curObj.(*corev1.Pod)
	if old.ResourceVersion == cur.ResourceVersion {
		return // a resync: nothing changed
	}
	key, ok := c.podKey(cur)
	if !ok {
		return
	}
	if cur.DeletionTimestamp != nil {
		c.exp.DeletionObserved(key, cur.Namespace+"/"+cur.Name)
	}
	if !slices.Contains(cur.Finalizers, batchv1.JobTrackingFinalizer) {
		c.untracking.observed(key, cur.UID)
	}
	c.queue.Add(key)
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
	if ref == nil || !isJob(ref) {
		return
	}
	key := pod.Namespace + "/" + ref.Name
	c.exp.DeletionObserved(key, pod.Namespace+"/"+pod.Name)
	c.untracking.observed(key, pod.UID)
	c.queue.Add(key)
}

// podKey is the key of the Job controlling pod, if that Job is in the
// cache, or if the pod holds the tracking finalizer (to be released).
func (c *Controller) podKey(pod *corev1.Pod) (string, bool) {
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil {
		return "", false
	}
	if key, ok := c.resolveController(pod.Namespace, ref); ok {
		return key, true
	}
	if isJob(ref) && slices.Contains(pod.Finalizers, batchv1.JobTrackingFinalizer) {
		return pod.Namespace + "/" + ref.Name, true
	}
	return "", false
}

// Run waits for the informers to sync, then works the queue until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if c.recorder == nil {
		var b record.EventBroadcaster
		b, c.recorder = eventrecorder.New(ctx, c.client.CoreV1(), c.log, component)
		defer b.Shutdown()
	}
	c.log.Info("starting job controller", "workers", c.workers)
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return nil // ctx ended
	}
	worker.Run(ctx, c.workers, c.queue, worker.Next(c.queue, c.reconcile, c.log, "job"))
	return nil
}

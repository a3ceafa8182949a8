package resourcequota

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/k1s/k1s/internal/controller/worker"
	"github.com/k1s/k1s/internal/quota"
)

// Options configure a Controller.
type Options struct {
	Client                 kubernetes.Interface                        // required
	ResourceQuotas         coreinformers.ResourceQuotaInformer         // required
	Pods                   coreinformers.PodInformer                   // required
	Services               coreinformers.ServiceInformer               // required
	PersistentVolumeClaims coreinformers.PersistentVolumeClaimInformer // required
	// ConfigMaps and Secrets count those objects from a cache; without
	// them they are listed like other resources.
	ConfigMaps coreinformers.ConfigMapInformer
	Secrets    coreinformers.SecretInformer
	// Metadata and Discovery list the objects of any other resource a
	// quota counts. Optional, together.
	Metadata  metadata.Interface
	Discovery discovery.DiscoveryInterface
	// ResyncPeriod is how often every quota is recounted; default 5m.
	ResyncPeriod time.Duration
	// Workers reconcile quotas in parallel; default 2.
	Workers int
	// Now is the clock deciding whether a pod's deletion grace period is
	// over; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

func (o *Options) validate() error {
	switch {
	case o.Client == nil:
		return errors.New("resourcequota controller: Client is required")
	case o.ResourceQuotas == nil || o.Pods == nil || o.Services == nil || o.PersistentVolumeClaims == nil:
		return errors.New("resourcequota controller: ResourceQuotas, Pods, Services and PersistentVolumeClaims informers are required")
	case (o.Metadata == nil) != (o.Discovery == nil):
		return errors.New("resourcequota controller: Metadata and Discovery go together")
	case o.ResyncPeriod < 0 || o.Workers < 0:
		return fmt.Errorf("resourcequota controller: negative ResyncPeriod %v or Workers %d", o.ResyncPeriod, o.Workers)
	}
	if o.ResyncPeriod == 0 {
		o.ResyncPeriod = 5 * time.Minute
	}
	if o.Workers == 0 {
		o.Workers = 2
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// lister lists the objects of one group-resource in a namespace.
type lister func(ctx context.Context, namespace string) ([]runtime.Object, error)

// Controller keeps ResourceQuota status true.
type Controller struct {
	client   kubernetes.Interface
	quotas   corelisters.ResourceQuotaLister
	cached   map[schema.GroupResource]lister // from informers
	metadata metadata.Interface              // nil: no other resources
	mapper   *restmapper.DeferredDiscoveryRESTMapper
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string] // quota namespace/name
	resync   time.Duration
	workers  int
	now      func() time.Time
	log      *slog.Logger
}

// New registers the controller's handlers on the informers.
func New(o Options) (*Controller, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	c := &Controller{
		client: o.Client,
		quotas: o.ResourceQuotas.Lister(),
		cached: map[schema.GroupResource]lister{},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, 100*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "resourcequota"}),
		resync:  o.ResyncPeriod,
		workers: o.Workers,
		now:     o.Now,
		log:     o.Logger,
	}
	if o.Metadata != nil {
		c.metadata = o.Metadata
		c.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(o.Discovery))
	}

	quotaInformer := o.ResourceQuotas.Informer()
	if _, err := quotaInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			c.enqueue(obj)
			c.enqueueNamespaceOf(obj) // resourcequotas counts changed
		},
		UpdateFunc: func(oldObj, newObj any) {
			// Not on status changes alone: admission charging a quota
			// must not make the controller recount before its caches
			// hold the object charged.
			old, q := oldObj.(*corev1.ResourceQuota), newObj.(*corev1.ResourceQuota)
			if !apiequality.Semantic.DeepEqual(old.Spec, q.Spec) || !quota.Equal(q.Spec.Hard, q.Status.Hard) {
				c.enqueue(q)
			}
		},
		DeleteFunc: c.enqueueNamespaceOf,
	}); err != nil {
		return nil, fmt.Errorf("resourcequota controller: %w", err)
	}
	c.synced = append(c.synced, quotaInformer.HasSynced)
	c.cached[schema.GroupResource{Resource: "resourcequotas"}] = func(_ context.Context, ns string) ([]runtime.Object, error) {
		return toObjects(c.quotas.ResourceQuotas(ns).List(labels.Everything()))
	}

	pods := o.Pods.Lister()
	if err := c.watch(schema.GroupResource{Resource: "pods"}, o.Pods.Informer(), func(_ context.Context, ns string) ([]runtime.Object, error) {
		return toObjects(pods.Pods(ns).List(labels.Everything()))
	}); err != nil {
		return nil, err
	}
	services := o.Services.Lister()
	if err := c.watch(schema.GroupResource{Resource: "services"}, o.Services.Informer(), func(_ context.Context, ns string) ([]runtime.Object, error) {
		return toObjects(services.Services(ns).List(labels.Everything()))
	}); err != nil {
		return nil, err
	}
	claims := o.PersistentVolumeClaims.Lister()
	if err := c.watch(schema.GroupResource{Resource: "persistentvolumeclaims"}, o.PersistentVolumeClaims.Informer(), func(_ context.Context, ns string) ([]runtime.Object, error) {
		return toObjects(claims.PersistentVolumeClaims(ns).List(labels.Everything()))
	}); err != nil {
		return nil, err
	}
	if o.ConfigMaps != nil {
		configMaps := o.ConfigMaps.Lister()
		if err := c.watch(schema.GroupResource{Resource: "configmaps"}, o.ConfigMaps.Informer(), func(_ context.Context, ns string) ([]runtime.Object, error) {
			return toObjects(configMaps.ConfigMaps(ns).List(labels.Everything()))
		}); err != nil {
			return nil, err
		}
	}
	if o.Secrets != nil {
		secrets := o.Secrets.Lister()
		if err := c.watch(schema.GroupResource{Resource: "secrets"}, o.Secrets.Informer(), func(_ context.Context, ns string) ([]runtime.Object, error) {
			return toObjects(secrets.Secrets(ns).List(labels.Everything()))
		}); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// watch counts gr from informer through list, and recounts the quotas of
// a namespace when an object of gr there appears, disappears or changes
// what it costs.
func (c *Controller) watch(gr schema.GroupResource, informer cache.SharedIndexInformer, list lister) error {
	c.cached[gr] = list
	c.synced = append(c.synced, informer.HasSynced)
	_, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueueNamespaceOf,
		UpdateFunc: func(oldObj, newObj any) {
			if costChanged(gr, oldObj, newObj) {
				c.enqueueNamespaceOf(newObj)
			}
		},
		DeleteFunc: c.enqueueNamespaceOf,
	})
	if err != nil {
		return fmt.Errorf("resourcequota controller: %w", err)
	}
	return nil
}

// costChanged reports whether an update may change what an object costs
// or which quotas' scopes it is in.
func costChanged(gr schema.GroupResource, oldObj, newObj any) bool {
	o, ok1 := oldObj.(runtime.Object)
	n, ok2 := newObj.(runtime.Object)
	if !ok1 || !ok2 {
		return true
	}
	if op, ok := o.(*corev1.Pod); ok {
		np := n.(*corev1.Pod)
		if !apiequality.Semantic.DeepEqual(op.Spec.ActiveDeadlineSeconds, np.Spec.ActiveDeadlineSeconds) ||
			op.Status.QOSClass != np.Status.QOSClass || (op.DeletionTimestamp == nil) != (np.DeletionTimestamp == nil) {
			return true
		}
	}
	ou, err1 := quota.Usage(gr, o)
	nu, err2 := quota.Usage(gr, n)
	return err1 != nil || err2 != nil || !quota.Equal(ou, nu)
}

func toObjects[T runtime.Object](items []T, err error) ([]runtime.Object, error) {
	if err != nil {
		return nil, err
	}
	out := make([]runtime.Object, len(items))
	for i, item := range items {
		out[i] = item
	}
	return out, nil
}

func (c *Controller) enqueue(obj any) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// enqueueNamespaceOf queues every quota of obj's namespace.
func (c *Controller) enqueueNamespaceOf(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	m, err := meta.Accessor(obj)
	if err != nil || m.GetNamespace() == "" {
		return
	}
	quotas, err := c.quotas.ResourceQuotas(m.GetNamespace()).List(labels.Everything())
	if err != nil {
		return
	}
	for _, q := range quotas {
		c.enqueue(q)
	}
}

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return nil
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		t := time.NewTicker(c.resync)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				c.enqueueAll()
			}
		}
	})
	c.enqueueAll()
	worker.Run(ctx, c.workers, c.queue, worker.Next(c.queue, c.reconcile, c.log, "resourcequota"))
	return nil
}

func (c *Controller) enqueueAll() {
	quotas, err := c.quotas.List(labels.Everything())
	if err != nil {
		return
	}
	for _, q := range quotas {
		c.enqueue(q)
	}
}

// reconcile recounts one quota and writes its status if it changed.
func (c *Controller) reconcile(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	q, err := c.quotas.ResourceQuotas(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	used, err := c.count(ctx, q)
	if err != nil {
		return err
	}
	if quota.Equal(q.Status.Hard, q.Spec.Hard) && quota.Equal(q.Status.Used, used) {
		return nil
	}
	q = q.DeepCopy()
	q.Status = corev1.ResourceQuotaStatus{Hard: q.Spec.Hard.DeepCopy(), Used: used}
	_, err = c.client.CoreV1().ResourceQuotas(namespace).UpdateStatus(ctx, q, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// count is q's status.used: one amount per name of spec.hard, recounted
// where the objects can be listed, as charged (or zero) otherwise.
func (c *Controller) count(ctx context.Context, q *corev1.ResourceQuota) (corev1.ResourceList, error) {
	used := corev1.ResourceList{}
	for name := range q.Spec.Hard {
		if old, ok := q.Status.Used[name]; ok {
			used[name] = old.DeepCopy()
		} else {
			used[name] = resource.Quantity{Format: resource.DecimalSI}
		}
	}
	now := c.now()
	measure := func(gr schema.GroupResource, objs []runtime.Object) error {
		u, err := quota.Used(q, gr, objs, now)
		if err != nil {
			return err
		}
		maps.Copy(used, u)
		return nil
	}
	for _, gr := range slices.SortedFunc(maps.Keys(c.cached), compareGR) {
		if !accountsAny(gr, q.Spec.Hard) {
			continue
		}
		objs, err := c.cached[gr](ctx, q.Namespace)
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", gr, err)
		}
		if err := measure(gr, objs); err != nil {
			return nil, err
		}
	}
	if c.metadata == nil {
		return used, nil
	}
	for _, gr := range listedResources(q.Spec.Hard, c.cached) {
		objs, err := c.listMetadata(ctx, gr, q.Namespace)
		if err != nil {
			return nil, err
		}
		if err := measure(gr, objs); err != nil {
			return nil, err
		}
	}
	return used, nil
}

func accountsAny(gr schema.GroupResource, hard corev1.ResourceList) bool {
	for name := range hard {
		if quota.Accounts(gr, name) {
			return true
		}
	}
	return false
}

// legacyCounts are the object counts named without count/ that are not
// always counted from an informer.
var legacyCounts = map[corev1.ResourceName]schema.GroupResource{
	corev1.ResourceConfigMaps:             {Resource: "configmaps"},
	corev1.ResourceSecrets:                {Resource: "secrets"},
	corev1.ResourceReplicationControllers: {Resource: "replicationcontrollers"},
}

// listedResources are the group-resources counted by hard that no
// informer covers, sorted.
func listedResources(hard corev1.ResourceList, cached map[schema.GroupResource]lister) []schema.GroupResource {
	set := map[schema.GroupResource]bool{}
	for name := range hard {
		gr, ok := quota.ParseCountName(name)
		if !ok {
			gr, ok = legacyCounts[name]
		}
		if ok && cached[gr] == nil {
			set[gr] = true
		}
	}
	return slices.SortedFunc(maps.Keys(set), compareGR)
}

func compareGR(a, b schema.GroupResource) int {
	return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Resource, b.Resource))
}

// listMetadata lists the objects of gr in namespace; none if the api-
// server does not serve gr.
func (c *Controller) listMetadata(ctx context.Context, gr schema.GroupResource, namespace string) ([]runtime.Object, error) {
	gvr, err := c.mapper.ResourceFor(gr.WithVersion(""))
	if meta.IsNoMatchError(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", gr, err)
	}
	list, err := c.metadata.Resource(gvr).Namespace(namespace).List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", gr, err)
	}
	out := make([]runtime.Object, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

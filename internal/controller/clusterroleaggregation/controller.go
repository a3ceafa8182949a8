package clusterroleaggregation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	rbacinformers "k8s.io/client-go/informers/rbac/v1"
	"k8s.io/client-go/kubernetes"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/k1s/k1s/internal/controller/worker"
	"github.com/k1s/k1s/internal/rbac"
)

// Options configure a Controller.
type Options struct {
	Client       kubernetes.Interface              // required
	ClusterRoles rbacinformers.ClusterRoleInformer // required
	Logger       *slog.Logger
}

// Controller keeps aggregated ClusterRoles' rules current.
type Controller struct {
	client kubernetes.Interface
	lister rbaclisters.ClusterRoleLister
	synced cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[string] // names of aggregated ClusterRoles
	log    *slog.Logger
}

// New registers the controller's handlers on the informer.
func New(o Options) (*Controller, error) {
	if o.Client == nil || o.ClusterRoles == nil {
		return nil, errors.New("clusterroleaggregation controller: Client and ClusterRoles are required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	c := &Controller{
		client: o.Client,
		lister: o.ClusterRoles.Lister(),
		synced: o.ClusterRoles.Informer().HasSynced,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, 100*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "clusterrole_aggregation"}),
		log: o.Logger,
	}
	// Any role may be selected by any aggregated role, and its labels
	// before the change are gone: look at every aggregated role again.
	enqueueAll := func(any) { c.enqueueAggregated() }
	if _, err := o.ClusterRoles.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueueAll,
		UpdateFunc: func(_, obj any) { enqueueAll(obj) },
		DeleteFunc: enqueueAll,
	}); err != nil {
		return nil, fmt.Errorf("clusterroleaggregation controller: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueueAggregated() {
	roles, err := c.lister.List(labels.Everything())
	if err != nil {
		c.log.Error("listing clusterroles", "err", err)
		return
	}
	for _, r := range roles {
		if r.AggregationRule != nil {
			c.queue.Add(r.Name)
		}
	}
}

// Run works until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return nil
	}
	worker.Run(ctx, 1, c.queue, worker.Next(c.queue, c.sync, c.log, "clusterrole"))
	return nil
}

func (c *Controller) sync(ctx context.Context, name string) error {
	role, err := c.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if role.AggregationRule == nil {
		return nil
	}
	all, err := c.lister.List(labels.Everything())
	if err != nil {
		return err
	}
	rules, err := rbac.AggregateRules(role, all)
	if err != nil {
		// An invalid selector will not become valid by retrying: the
		// role's next update requeues it.
		c.log.Error("aggregating clusterrole", "clusterrole", name, "err", err)
		return nil
	}
	if equality.Semantic.DeepEqual(rules, role.Rules) {
		return nil
	}
	updated := role.DeepCopy()
	updated.Rules = rules
	_, err = c.client.RbacV1().ClusterRoles().Update(ctx, updated, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("updating clusterrole %s: %w", name, err)
	}
	return nil
}

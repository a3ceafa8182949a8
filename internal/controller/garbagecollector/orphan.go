package garbagecollector

import (
	"context"
	"errors"
	"slices"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// orphanParallelism is how many dependents of one owner are patched at once.
const orphanParallelism = 8

// orphanDependents finishes an orphaning deletion: every dependent the
// graph knows loses its reference to the owner, then the owner loses its
// orphan finalizer (and, with no finalizer left, is deleted by the
// api-server).
func (c *Collector) orphanDependents(ctx context.Context, uid types.UID) error {
	v, ok := c.graph.view(uid)
	if !ok || !v.observed {
		return nil
	}
	t, ok, err := c.targetOf(v.id)
	if err != nil || !ok {
		return err
	}
	owner, found, err := c.get(ctx, t)
	if err != nil || !found {
		return err
	}
	if owner.DeletionTimestamp == nil || !slices.Contains(owner.Finalizers, metav1.FinalizerOrphanDependents) {
		return nil
	}
	// Dependents are independent: patch several at once.
	var g errgroup.Group
	g.SetLimit(orphanParallelism)
	errs := make([]error, len(v.dependents))
	for i, d := range v.dependents {
		g.Go(func() error {
			dt, ok, err := c.targetOf(d.id)
			if err == nil && ok {
				err = c.dropOwnerRef(ctx, dt, uid)
			}
			errs[i] = err
			return nil
		})
	}
	_ = g.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	c.log.Debug("dependents orphaned: removing finalizer", "object", describe(t), "dependents", len(v.dependents))
	return c.removeFinalizer(ctx, t, metav1.FinalizerOrphanDependents)
}

// dropOwnerRef removes the reference to owner from the object at t,
// retrying on conflicts with other writers.
func (c *Collector) dropOwnerRef(ctx context.Context, t target, owner types.UID) error {
	const attempts = 5
	var err error
	for range attempts {
		var cur *metav1.PartialObjectMetadata
		var found bool
		cur, found, err = c.get(ctx, t)
		if err != nil || !found || !hasUID(cur.OwnerReferences, owner) {
			return err
		}
		keep := slices.DeleteFunc(slices.Clone(cur.OwnerReferences), func(r metav1.OwnerReference) bool { return r.UID == owner })
		_, err = c.patchOwnerRefs(ctx, t, cur.ResourceVersion, keep)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if !apierrors.IsConflict(err) {
			return err
		}
	}
	return err
}

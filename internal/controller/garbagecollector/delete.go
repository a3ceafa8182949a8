package garbagecollector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var errNotDiscovered = errors.New("resources not discovered yet")

func isConflict(err error) bool { return apierrors.IsConflict(err) }

// target is where an object lives: its resource and namespace.
type target struct {
	info      resourceInfo
	namespace string
	name      string
	uid       types.UID
}

// targetOf resolves an identity to its resource. ok is false for an
// identity that cannot name an object (a namespaced kind without a
// namespace: a cluster-scoped dependent naming a namespaced owner).
func (c *Collector) targetOf(id identity) (target, bool, error) {
	res := c.resources.Load()
	if res == nil {
		return target{}, false, errNotDiscovered
	}
	info, err := res.lookup(id.apiVersion, id.kind)
	if err != nil {
		return target{}, false, err
	}
	t := target{info: info, name: id.name, uid: id.uid}
	if info.namespaced {
		if id.namespace == "" {
			return t, false, nil
		}
		t.namespace = id.namespace
	}
	return t, true, nil
}

// get reads the object at t live; found is false if there is none with t's uid.
func (c *Collector) get(ctx context.Context, t target) (obj *metav1.PartialObjectMetadata, found bool, err error) {
	obj, err = c.metadata.Resource(t.info.gvr).Namespace(t.namespace).Get(ctx, t.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading %s %s/%s: %w", t.info.gvr.Resource, t.namespace, t.name, err)
	}
	return obj, obj.UID == t.uid, nil
}

// attemptToDeleteItem looks at one object of the graph: a virtual node
// is verified; an object being deleted in the foreground finishes once
// its blocking dependents are gone; an object whose owners are all gone
// or waiting for their dependents is deleted; references to gone owners
// are dropped from an object that keeps a live owner.
func (c *Collector) attemptToDeleteItem(ctx context.Context, uid types.UID) error {
	v, ok := c.graph.view(uid)
	if !ok {
		return nil
	}
	t, ok, err := c.targetOf(v.id)
	if err != nil {
		return err
	}
	var latest *metav1.PartialObjectMetadata
	found := false
	if ok {
		if latest, found, err = c.get(ctx, t); err != nil {
			return err
		}
	}
	if !found {
		if !v.observed {
			// The owner its dependents name does not exist.
			c.graphChanges.Add(change{virtual: uid})
		}
		return nil // an observed object's informer will tell
	}
	if !v.observed {
		return nil // it exists; its informer (if any) will show it
	}
	if latest.DeletionTimestamp != nil {
		if slices.Contains(latest.Finalizers, metav1.FinalizerDeleteDependents) {
			return c.finishForeground(ctx, v, t)
		}
		return nil
	}
	refs := latest.OwnerReferences
	if len(refs) == 0 {
		return nil
	}
	solid, dangling, waiting, err := c.classify(ctx, t, refs)
	if err != nil {
		return err
	}
	switch {
	case len(solid) > 0:
		if len(dangling)+len(waiting) == 0 {
			return nil
		}
		// A live owner keeps the object: only drop the dead references.
		gone := append(dangling, waiting...)
		keep := slices.DeleteFunc(slices.Clone(refs), func(r metav1.OwnerReference) bool { return hasUID(gone, r.UID) })
		c.log.Debug("dropping ownerReferences to owners that are gone", "object", describe(t), "gone", len(gone))
		_, err := c.patchOwnerRefs(ctx, t, latest.ResourceVersion, keep)
		return err
	case len(waiting) > 0 && c.graph.hasDependents(uid):
		// An owner waits for this object, which has dependents of its own:
		// delete it in the foreground too. If a dependent is itself
		// deleting in the foreground, there may be a cycle; stop blocking
		// the owners first so it cannot wait forever.
		rv := latest.ResourceVersion
		if c.graph.anyDependentDeletingDependents(uid) {
			unblocked := slices.Clone(refs)
			for i := range unblocked {
				if hasUID(waiting, unblocked[i].UID) {
					unblocked[i].BlockOwnerDeletion = new(false)
				}
			}
			patched, err := c.patchOwnerRefs(ctx, t, rv, unblocked)
			if err != nil {
				return err
			}
			rv, refs = patched.ResourceVersion, patched.OwnerReferences
		}
		return c.deleteObject(ctx, t, rv, refs, metav1.DeletePropagationForeground)
	default:
		// No owner left alive: collect it, honouring how it was asked to
		// go before, if it was.
		policy := metav1.DeletePropagationBackground
		switch {
		case slices.Contains(latest.Finalizers, metav1.FinalizerOrphanDependents):
			policy = metav1.DeletePropagationOrphan
		case slices.Contains(latest.Finalizers, metav1.FinalizerDeleteDependents):
			policy = metav1.DeletePropagationForeground
		}
		c.log.Debug("deleting object whose owners are gone", "object", describe(t), "propagation", policy)
		return c.deleteObject(ctx, t, latest.ResourceVersion, refs, policy)
	}
}

// finishForeground removes the foregroundDeletion finalizer of an owner
// whose blocking dependents are gone, or queues those still there.
func (c *Collector) finishForeground(ctx context.Context, v nodeView, t target) error {
	var blocking []dependentView
	for _, d := range v.dependents {
		if d.blocking {
			blocking = append(blocking, d)
		}
	}
	if len(blocking) == 0 {
		c.log.Debug("foreground deletion done: removing finalizer", "object", describe(t))
		return c.removeFinalizer(ctx, t, metav1.FinalizerDeleteDependents)
	}
	for _, d := range blocking {
		if !d.deletingDependents {
			c.attemptToDelete.Add(d.id.uid)
		}
	}
	return nil
}

// classify sorts an object's owner references by whether the owner
// exists (solid), is gone (dangling) or is being deleted in the
// foreground (waiting). Every owner is read live.
func (c *Collector) classify(ctx context.Context, dep target, refs []metav1.OwnerReference) (solid, dangling, waiting []metav1.OwnerReference, err error) {
	for _, ref := range refs {
		owner, err := c.owner(ctx, dep, ref)
		if err != nil {
			return nil, nil, nil, err
		}
		switch {
		case owner == nil:
			dangling = append(dangling, ref)
		case owner.DeletionTimestamp != nil && slices.Contains(owner.Finalizers, metav1.FinalizerDeleteDependents):
			waiting = append(waiting, ref)
		default:
			solid = append(solid, ref)
		}
	}
	return solid, dangling, waiting, nil
}

// owner reads the owner ref names, nil if there is none with its uid
// where the reference can point: the dependent's namespace, or the
// cluster for a cluster-scoped owner.
func (c *Collector) owner(ctx context.Context, dep target, ref metav1.OwnerReference) (*metav1.PartialObjectMetadata, error) {
	id := identity{apiVersion: ref.APIVersion, kind: ref.Kind, namespace: dep.namespace, name: ref.Name, uid: ref.UID}
	t, ok, err := c.targetOf(id)
	if err != nil {
		return nil, err
	}
	if !ok {
		c.recorder.Eventf(&corev1.ObjectReference{
			APIVersion: dep.info.gvk.GroupVersion().String(), Kind: dep.info.gvk.Kind, Name: dep.name, UID: dep.uid,
		}, corev1.EventTypeWarning, "OwnerRefInvalidNamespace",
			"ownerRef [%s/%s, namespace: , name: %s, uid: %s] does not exist: a cluster-scoped object cannot have a namespaced owner",
			ref.APIVersion, ref.Kind, ref.Name, ref.UID)
		return nil, nil
	}
	id.namespace = t.namespace
	if _, gone := c.absent.Get(id); gone {
		return nil, nil
	}
	owner, found, err := c.get(ctx, t)
	if err != nil {
		return nil, err
	}
	if !found {
		c.absent.Add(id, struct{}{})
		return nil, nil
	}
	return owner, nil
}

// deleteObject deletes the object at t if it is still the object whose
// owners were judged: same uid, and same resourceVersion or at least the
// same ownerReferences.
func (c *Collector) deleteObject(ctx context.Context, t target, rv string, owners []metav1.OwnerReference, policy metav1.DeletionPropagation) error {
	client := c.metadata.Resource(t.info.gvr).Namespace(t.namespace)
	pre := &metav1.Preconditions{UID: &t.uid, ResourceVersion: &rv}
	err := client.Delete(ctx, t.name, metav1.DeleteOptions{Preconditions: pre, PropagationPolicy: &policy})
	if apierrors.IsConflict(err) {
		// Changed since: fine unless its owners changed (a pod's status
		// moves all the time).
		live, found, gerr := c.get(ctx, t)
		if gerr != nil || !found {
			return gerr
		}
		if !apiequality.Semantic.DeepEqual(live.OwnerReferences, owners) {
			return err // judge again
		}
		pre.ResourceVersion = nil
		err = client.Delete(ctx, t.name, metav1.DeleteOptions{Preconditions: pre, PropagationPolicy: &policy})
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting %s: %w", describe(t), err)
	}
	return nil
}

// patchOwnerRefs sets the object's ownerReferences, if it is still at rv.
func (c *Collector) patchOwnerRefs(ctx context.Context, t target, rv string, refs []metav1.OwnerReference) (*metav1.PartialObjectMetadata, error) {
	var value any = refs
	if len(refs) == 0 {
		value = nil
	}
	return c.patchMetadata(ctx, t, map[string]any{"ownerReferences": value, "resourceVersion": rv})
}

// patchMetadata merge-patches fields of the object's metadata.
func (c *Collector) patchMetadata(ctx context.Context, t target, fields map[string]any) (*metav1.PartialObjectMetadata, error) {
	patch, err := json.Marshal(map[string]any{"metadata": fields})
	if err != nil {
		return nil, err
	}
	out, err := c.metadata.Resource(t.info.gvr).Namespace(t.namespace).Patch(ctx, t.name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return nil, fmt.Errorf("patching %s: %w", describe(t), err)
	}
	return out, nil
}

// removeFinalizer removes finalizer from the object at t, retrying on
// conflicts with other writers.
func (c *Collector) removeFinalizer(ctx context.Context, t target, finalizer string) error {
	const attempts = 5
	var err error
	for range attempts {
		var cur *metav1.PartialObjectMetadata
		var found bool
		cur, found, err = c.get(ctx, t)
		if err != nil || !found || !slices.Contains(cur.Finalizers, finalizer) {
			return err
		}
		rest := slices.DeleteFunc(slices.Clone(cur.Finalizers), func(f string) bool { return f == finalizer })
		var value any = rest
		if len(rest) == 0 {
			value = nil
		}
		_, err = c.patchMetadata(ctx, t, map[string]any{"finalizers": value, "resourceVersion": cur.ResourceVersion})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if !apierrors.IsConflict(err) {
			return err
		}
	}
	return err
}

func hasUID(refs []metav1.OwnerReference, uid types.UID) bool {
	return slices.ContainsFunc(refs, func(r metav1.OwnerReference) bool { return r.UID == uid })
}

func describe(t target) string {
	if t.namespace == "" {
		return t.info.gvr.Resource + " " + t.name
	}
	return t.info.gvr.Resource + " " + t.namespace + "/" + t.name
}

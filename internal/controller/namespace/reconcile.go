package namespace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// contentRemainingError says the namespace cannot be finalized yet; it is
// retried with backoff.
type contentRemainingError struct{ status contentStatus }

func (e *contentRemainingError) Error() string { return e.status.summary() }

// reconcile brings the namespace called name one step towards its goal: a
// namespace being deleted loses its content, then its "kubernetes"
// finalizer. Anything else needs nothing.
func (c *Controller) reconcile(ctx context.Context, name string) error {
	cached, err := c.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if cached.DeletionTimestamp == nil || !slices.Contains(cached.Spec.Finalizers, corev1.FinalizerKubernetes) {
		return nil
	}

	status := c.deleteContent(ctx, name)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	ns, err := c.updateStatus(ctx, cached, status)
	if err != nil {
		return err
	}
	if !status.done() {
		return &contentRemainingError{status}
	}
	return c.finalize(ctx, ns)
}

// resourceToDelete is a namespaced resource the namespace may hold.
type resourceToDelete struct {
	gvr              schema.GroupVersionResource
	deleteCollection bool // else each object is deleted on its own
}

// discoverResources returns the namespaced resources that can be listed
// and deleted. A partial discovery failure returns what was found with
// the error.
func (c *Controller) discoverResources(ctx context.Context) ([]resourceToDelete, error) {
	lists, err := discovery.ServerPreferredNamespacedResourcesWithContext(ctx, discovery.ToDiscoveryInterfaceWithContext(c.discovery))
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, err
	}
	var out []resourceToDelete
	for _, list := range lists {
		gv, perr := schema.ParseGroupVersion(list.GroupVersion)
		if perr != nil {
			continue
		}
		for _, r := range list.APIResources {
			verbs := r.Verbs
			canDelete := slices.Contains(verbs, "deletecollection") || slices.Contains(verbs, "delete")
			if strings.Contains(r.Name, "/") || !slices.Contains(verbs, "list") || !canDelete {
				continue
			}
			out = append(out, resourceToDelete{
				gvr:              gv.WithResource(r.Name),
				deleteCollection: slices.Contains(verbs, "deletecollection"),
			})
		}
	}
	return out, err
}

// deleteContent deletes what the namespace holds and reports what is left.
func (c *Controller) deleteContent(ctx context.Context, namespace string) contentStatus {
	status := contentStatus{remaining: map[string]int{}, finalizers: map[string]int{}}
	resources, err := c.discoverResources(ctx)
	if err != nil {
		status.discoveryErr = err
		if len(resources) == 0 {
			return status
		}
	}
	for _, r := range resources {
		left, err := c.deleteResource(ctx, namespace, r)
		if err != nil {
			status.deleteErrs = append(status.deleteErrs, fmt.Sprintf("%s: %v", r.gvr.GroupResource(), err))
			continue
		}
		if len(left) == 0 {
			continue
		}
		status.remaining[r.gvr.GroupResource().String()] += len(left)
		for _, item := range left {
			for _, f := range item.Finalizers {
				status.finalizers[f]++
			}
		}
	}
	return status
}

// deleteResource deletes the objects of one resource in the namespace and
// returns those still there afterwards (pods terminating gracefully,
// objects waiting for finalizers). Objects already being deleted are not
// deleted again, so a pass over a namespace that only waits writes nothing.
func (c *Controller) deleteResource(ctx context.Context, namespace string, r resourceToDelete) ([]metav1.PartialObjectMetadata, error) {
	client := c.metadata.Resource(r.gvr).Namespace(namespace)
	list, err := client.List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
		return nil, nil // the resource went away since discovery
	}
	if err != nil {
		return nil, fmt.Errorf("listing: %w", err)
	}
	var live []metav1.PartialObjectMetadata
	for _, item := range list.Items {
		if item.DeletionTimestamp == nil {
			live = append(live, item)
		}
	}
	if len(live) == 0 {
		return list.Items, nil
	}
	background := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &background}
	deleted := false
	if r.deleteCollection {
		err := client.DeleteCollection(ctx, opts, metav1.ListOptions{})
		switch {
		case err == nil:
			deleted = true
		case apierrors.IsMethodNotSupported(err) || apierrors.IsNotFound(err):
			// Fall back to deleting one by one.
		default:
			return nil, fmt.Errorf("deleting collection: %w", err)
		}
	}
	if !deleted {
		for _, item := range live {
			o := opts
			o.Preconditions = &metav1.Preconditions{UID: &item.UID}
			err := client.Delete(ctx, item.Name, o)
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				return nil, fmt.Errorf("deleting %s: %w", item.Name, err)
			}
		}
	}
	list, err = client.List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing after delete: %w", err)
	}
	return list.Items, nil
}

// updateStatus writes the phase and deletion conditions if they changed
// and returns the namespace as it now is.
func (c *Controller) updateStatus(ctx context.Context, cached *corev1.Namespace, status contentStatus) (*corev1.Namespace, error) {
	conditions, changed := mergeConditions(cached.Status.Conditions, status.conditions(), metav1.NewTime(c.now()))
	if !changed && cached.Status.Phase == corev1.NamespaceTerminating {
		return cached, nil
	}
	ns := cached.DeepCopy()
	ns.Status.Phase = corev1.NamespaceTerminating
	ns.Status.Conditions = conditions
	updated, err := c.client.CoreV1().Namespaces().UpdateStatus(ctx, ns, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("updating status: %w", err)
	}
	return updated, nil
}

// finalize removes the "kubernetes" finalizer; with no other finalizer
// left the api-server then deletes the namespace.
func (c *Controller) finalize(ctx context.Context, cur *corev1.Namespace) error {
	ns := cur.DeepCopy()
	ns.Spec.Finalizers = slices.DeleteFunc(ns.Spec.Finalizers, func(f corev1.FinalizerName) bool {
		return f == corev1.FinalizerKubernetes
	})
	_, err := c.client.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("finalizing: %w", err)
	}
	c.log.Info("namespace finalized", "namespace", ns.Name)
	return nil
}

// contentStatus is what one pass over a namespace found.
type contentStatus struct {
	discoveryErr error
	deleteErrs   []string       // "configmaps: listing: ..."
	remaining    map[string]int // group-resource → objects left
	finalizers   map[string]int // finalizer → objects left holding it
}

// done reports whether the namespace may be finalized.
func (s contentStatus) done() bool {
	return s.discoveryErr == nil && len(s.deleteErrs) == 0 && len(s.remaining) == 0
}

// summary describes what keeps the namespace, for logs.
func (s contentStatus) summary() string {
	var parts []string
	if s.discoveryErr != nil {
		parts = append(parts, "discovery: "+s.discoveryErr.Error())
	}
	parts = append(parts, s.deleteErrs...)
	if len(s.remaining) > 0 {
		parts = append(parts, "remaining: "+countList(s.remaining, "%s has %d resource instances"))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, "; ")
}

// countList formats a count map sorted by key.
func countList(m map[string]int, format string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf(format, k, m[k])
	}
	return strings.Join(parts, ", ")
}

// discoveryFailures describes which groups failed discovery.
func discoveryFailures(err error) string {
	var gd *discovery.ErrGroupDiscoveryFailed
	if !errors.As(err, &gd) {
		return err.Error()
	}
	failed := make([]string, 0, len(gd.Groups))
	for gv, e := range gd.Groups {
		failed = append(failed, fmt.Sprintf("%s: %v", gv, e))
	}
	sort.Strings(failed)
	return fmt.Sprintf("Discovery failed for some groups, %d failing: %s", len(failed), strings.Join(failed, ", "))
}

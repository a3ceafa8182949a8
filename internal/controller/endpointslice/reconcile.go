package endpointslice

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/k1s/k1s/internal/controller/servicepods"
)

// errStaleCache says the slice cache has not yet shown a write of ours.
var errStaleCache = errors.New("endpoint slice cache does not show the last writes yet")

// reconcile makes the slices of the service called key what its pods
// say, writing only what differs.
func (c *Controller) reconcile(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // not a key we queued
	}
	managed := labels.SelectorFromValidatedSet(labels.Set{
		discoveryv1.LabelServiceName: name,
		discoveryv1.LabelManagedBy:   managedBy,
	})
	existing, err := c.slices.EndpointSlices(namespace).List(managed)
	if err != nil {
		return fmt.Errorf("listing slices: %w", err)
	}
	if c.tracker.stale(key, existing) {
		return errStaleCache
	}
	svc, err := c.services.Services(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		// The garbage collector would delete them too (they are owned by
		// the service); doing it here does not depend on it.
		return c.apply(ctx, key, nil, plan{delete: existing})
	}
	if err != nil {
		return err
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil // ExternalName services have no endpoints
	}
	selector, ok := servicepods.Selector(svc)
	if !ok {
		return nil // slices are maintained by someone else
	}
	pods, err := c.pods.Pods(namespace).List(selector)
	if err != nil {
		return fmt.Errorf("listing pods: %w", err)
	}
	p := planSlices(svc, desiredEndpoints(svc, pods), existing, c.maxPerSlice)
	return c.apply(ctx, key, svc, p)
}

// apply writes a plan: creates first, then updates, then deletes, so a
// moved endpoint is never missing from every slice. svc, if any, gets an
// Event when a write fails.
func (c *Controller) apply(ctx context.Context, key string, svc *corev1.Service, p plan) error {
	if p.empty() {
		return nil
	}
	client := c.client.DiscoveryV1().EndpointSlices
	err := func() error {
		for _, s := range p.create {
			created, err := client(s.Namespace).Create(ctx, s, metav1.CreateOptions{})
			if apierrors.IsForbidden(err) && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil // the namespace is going away with the service
			}
			if err != nil {
				return fmt.Errorf("creating slice: %w", err)
			}
			c.tracker.wrote(key, created)
		}
		for _, s := range p.update {
			updated, err := client(s.Namespace).Update(ctx, s, metav1.UpdateOptions{})
			if err != nil {
				return fmt.Errorf("updating slice %s: %w", s.Name, err)
			}
			c.tracker.wrote(key, updated)
		}
		for _, s := range p.delete {
			err := client(s.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &s.UID}})
			if err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("deleting slice %s: %w", s.Name, err)
			}
			c.tracker.deleted(key, s.UID)
		}
		return nil
	}()
	if err != nil && svc != nil && ctx.Err() == nil && !apierrors.IsConflict(err) {
		c.recorder.Eventf(svc, corev1.EventTypeWarning, "FailedToUpdateEndpointSlices",
			"Error updating Endpoint Slices for Service %s/%s: %v", svc.Namespace, svc.Name, err)
	}
	return err
}

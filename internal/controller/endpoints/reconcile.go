package endpoints

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/k1s/k1s/internal/controller/servicepods"
)

// reconcile makes the Endpoints of the service called key what its pods
// say, writing only when something differs.
func (c *Controller) reconcile(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // not a key we queued
	}
	svc, err := c.services.Services(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return c.deleteEndpoints(ctx, namespace, name)
	}
	if err != nil {
		return err
	}
	selector, ok := servicepods.Selector(svc)
	if !ok {
		return nil // endpoints are maintained by someone else
	}
	pods, err := c.pods.Pods(namespace).List(selector)
	if err != nil {
		return fmt.Errorf("listing pods: %w", err)
	}
	subsets, truncated := endpointsFor(svc, pods)
	labels := labelsFor(svc)

	cur, err := c.endpoints.Endpoints(namespace).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if cur != nil && upToDate(cur, subsets, labels, truncated) {
		return nil
	}
	var ep *corev1.Endpoints
	if cur == nil {
		ep = &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	} else {
		ep = cur.DeepCopy()
	}
	ep.Labels = labels
	if truncated {
		if ep.Annotations == nil {
			ep.Annotations = map[string]string{}
		}
		ep.Annotations[annotationOverCapacity] = "truncated"
	} else {
		delete(ep.Annotations, annotationOverCapacity)
	}
	ep.Subsets = subsets
	if cur == nil {
		_, err = c.client.CoreV1().Endpoints(namespace).Create(ctx, ep, metav1.CreateOptions{})
	} else {
		_, err = c.client.CoreV1().Endpoints(namespace).Update(ctx, ep, metav1.UpdateOptions{})
	}
	if err != nil {
		if apierrors.IsForbidden(err) && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil // the namespace is going away with the service
		}
		if ctx.Err() == nil && !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) {
			verb, reason := "update", "FailedToUpdateEndpoint"
			if cur == nil {
				verb, reason = "create", "FailedToCreateEndpoint"
			}
			c.recorder.Eventf(svc, corev1.EventTypeWarning, reason, "Failed to %s endpoint %s/%s: %v", verb, namespace, name, err)
		}
		return fmt.Errorf("writing endpoints: %w", err)
	}
	return nil
}

// upToDate reports whether cur already holds the desired content.
func upToDate(cur *corev1.Endpoints, subsets []corev1.EndpointSubset, labels map[string]string, truncated bool) bool {
	_, overCapacity := cur.Annotations[annotationOverCapacity]
	return overCapacity == truncated &&
		maps.Equal(cur.Labels, labels) &&
		apiequality.Semantic.DeepEqual(cur.Subsets, subsets)
}

// deleteEndpoints removes the Endpoints of a deleted service.
func (c *Controller) deleteEndpoints(ctx context.Context, namespace, name string) error {
	if _, err := c.endpoints.Endpoints(namespace).Get(name); apierrors.IsNotFound(err) {
		return nil
	}
	err := c.client.CoreV1().Endpoints(namespace).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting endpoints: %w", err)
	}
	return nil
}

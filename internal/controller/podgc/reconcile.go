package podgc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

func (c *Controller) reconcile(ctx context.Context, k key) error {
	switch k.kind {
	case scanAll:
		return c.scan(ctx)
	case orphansOf:
		return c.collectOrphans(ctx, k.name)
	case unscheduled:
		return c.collectUnscheduled(ctx, k.name)
	}
	return nil
}

// scan queues the per-pod work of every pod and collects terminated pods
// beyond the threshold.
func (c *Controller) scan(ctx context.Context) error {
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing pods: %w", err)
	}
	for _, pod := range pods {
		c.enqueueFor(pod)
	}
	if c.threshold < 0 {
		return nil
	}
	var errs []error
	for _, pod := range terminatedToDelete(pods, c.threshold) {
		if err := c.forceDelete(ctx, pod); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// terminatedToDelete picks the terminated pods beyond threshold, evicted
// ones first, then the oldest.
func terminatedToDelete(pods []*corev1.Pod, threshold int) []*corev1.Pod {
	var terminated []*corev1.Pod
	for _, pod := range pods {
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			terminated = append(terminated, pod)
		}
	}
	excess := len(terminated) - threshold
	if excess <= 0 {
		return nil
	}
	slices.SortFunc(terminated, func(a, b *corev1.Pod) int {
		ea, eb := a.Status.Reason == "Evicted", b.Status.Reason == "Evicted"
		if ea != eb {
			if ea {
				return -1
			}
			return 1
		}
		return cmp.Or(
			a.CreationTimestamp.Compare(b.CreationTimestamp.Time),
			cmp.Compare(a.Namespace, b.Namespace),
			cmp.Compare(a.Name, b.Name))
	})
	return terminated[:excess]
}

// collectOrphans deletes the pods bound to node if the node is gone: the
// cache must not know it and a live GET must not find it.
func (c *Controller) collectOrphans(ctx context.Context, node string) error {
	if _, err := c.nodes.Get(node); err == nil {
		return nil
	}
	all, err := c.pods.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing pods: %w", err)
	}
	var pods []*corev1.Pod
	for _, pod := range all {
		if pod.Spec.NodeName == node {
			pods = append(pods, pod)
		}
	}
	if len(pods) == 0 {
		return nil
	}
	_, err = c.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err == nil {
		return nil // the cache lags behind
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("checking node %s: %w", node, err)
	}
	var errs []error
	for _, pod := range pods {
		c.log.Info("deleting pod bound to a missing node", "pod", pod.Namespace+"/"+pod.Name, "node", node)
		if err := c.markFailed(ctx, pod, "PodGC: node no longer exists"); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := c.forceDelete(ctx, pod); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// collectUnscheduled force deletes a terminating pod that has no node.
func (c *Controller) collectUnscheduled(ctx context.Context, name string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(name)
	if err != nil {
		return nil
	}
	pod, err := c.pods.Pods(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if pod.DeletionTimestamp == nil || pod.Spec.NodeName != "" {
		return nil
	}
	c.log.Info("deleting unscheduled terminating pod", "pod", namespace+"/"+name)
	return c.forceDelete(ctx, pod)
}

// markFailed records, for a pod still running as far as the api-server
// knows, that it failed because it was collected, as upstream does.
func (c *Controller) markFailed(ctx context.Context, pod *corev1.Pod, message string) error {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return nil
	}
	patch := fmt.Appendf(nil, `{"metadata":{"uid":%q},"status":{"phase":"Failed","conditions":[{"type":"DisruptionTarget","status":"True","reason":"DeletionByPodGC","message":%q,"lastTransitionTime":%q}]}}`,
		pod.UID, message, metav1.Now().UTC().Format("2006-01-02T15:04:05Z"))
	_, err := c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("marking pod %s/%s failed: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// forceDelete deletes the pod at once (grace period 0), if it is still
// the same pod.
func (c *Controller) forceDelete(ctx context.Context, pod *corev1.Pod) error {
	opts := metav1.DeleteOptions{
		GracePeriodSeconds: new(int64(0)),
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	}
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, opts)
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

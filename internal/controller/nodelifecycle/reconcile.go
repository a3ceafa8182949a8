package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// reconcile brings one node's conditions and taints in line with its
// heartbeats, marks its pods not ready while it is Unknown, and evicts
// the pods that do not tolerate its NoExecute taints.
func (c *Controller) reconcile(ctx context.Context, name string) error {
	node, err := c.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		c.mu.Lock()
		delete(c.health, name)
		delete(c.taintedSince, name)
		c.mu.Unlock()
		return nil
	}
	if err != nil {
		return err
	}
	lease, err := c.leases.Leases(leaseNamespace).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if err != nil {
		lease = nil
	}
	now := c.opts.Now()
	h := c.observe(node, lease, now)

	if conds := silentConditions(node, h, now, c.opts.NodeMonitorGracePeriod); conds != nil {
		c.log.Info("node stopped posting status", "node", name, "silentFor", now.Sub(h.probed).Round(time.Millisecond))
		updated := node.DeepCopy()
		updated.Status.Conditions = conds
		if node, err = c.client.CoreV1().Nodes().UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("marking node %s unknown: %w", name, err)
		}
	}
	if taints, changed := wantTaints(node, now); changed {
		updated := node.DeepCopy()
		updated.Spec.Taints = taints
		if node, err = c.client.CoreV1().Nodes().Update(ctx, updated, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("tainting node %s: %w", name, err)
		}
		c.log.Info("node taints changed", "node", name, "taints", taints)
	}

	since := c.noteTainted(node, now)
	ready := condition(node.Status.Conditions, corev1.NodeReady)
	unknown := ready != nil && ready.Status == corev1.ConditionUnknown
	if !unknown && since.IsZero() {
		return nil
	}
	pods, err := c.podsOn(name)
	if err != nil {
		return err
	}
	var errs []error
	if unknown {
		for _, pod := range pods {
			if err := c.markNotReady(ctx, pod, now); err != nil {
				errs = append(errs, err)
			}
		}
	}
	ev := evictions(pods, node.Spec.Taints, since, now, c.opts.DefaultTolerationSeconds)
	for _, pod := range ev.now {
		if err := c.evict(ctx, pod, now); err != nil {
			errs = append(errs, err)
		}
	}
	if ev.after > 0 {
		c.queue.AddAfter(name, ev.after)
	}
	return errors.Join(errs...)
}

// observe updates and returns the node's remembered health.
func (c *Controller) observe(node *corev1.Node, lease *coordinationv1.Lease, now time.Time) health {
	c.mu.Lock()
	defer c.mu.Unlock()
	var prev *health
	if h, ok := c.health[node.Name]; ok {
		prev = &h
	}
	h := observe(prev, node, lease, now)
	c.health[node.Name] = h
	return h
}

// noteTainted returns since when the node has been seen with NoExecute
// taints (for taints without timeAdded), or zero if it has none.
func (c *Controller) noteTainted(node *corev1.Node, now time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range node.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			since, ok := c.taintedSince[node.Name]
			if !ok {
				since = now
				c.taintedSince[node.Name] = since
			}
			return since
		}
	}
	delete(c.taintedSince, node.Name)
	return time.Time{}
}

// podsOn lists the cached pods bound to node.
func (c *Controller) podsOn(node string) ([]*corev1.Pod, error) {
	all, err := c.pods.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	var pods []*corev1.Pod
	for _, p := range all {
		if p.Spec.NodeName == node {
			pods = append(pods, p)
		}
	}
	return pods, nil
}

// markNotReady sets the pod's Ready condition False, so endpoints stop
// sending it traffic while its node is silent.
func (c *Controller) markNotReady(ctx context.Context, pod *corev1.Pod, now time.Time) error {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return nil
	}
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionFalse {
			return nil
		}
	}
	patch := fmt.Appendf(nil, `{"metadata":{"uid":%q},"status":{"conditions":[{"type":"Ready","status":"False","reason":%q,"lastTransitionTime":%q}]}}`,
		pod.UID, reasonUnknown, now.UTC().Format(time.RFC3339))
	_, err := c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("marking pod %s/%s not ready: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// evict records why the pod goes, as upstream's taint manager does, and
// deletes it (gracefully; its kubelet, if any, finishes the job).
func (c *Controller) evict(ctx context.Context, pod *corev1.Pod, now time.Time) error {
	c.log.Info("evicting pod from tainted node", "pod", pod.Namespace+"/"+pod.Name, "node", pod.Spec.NodeName)
	patch := fmt.Appendf(nil, `{"metadata":{"uid":%q},"status":{"conditions":[{"type":"DisruptionTarget","status":"True","reason":"DeletionByTaintManager","message":"Taint manager: deleting due to NoExecute taint","lastTransitionTime":%q}]}}`,
		pod.UID, now.UTC().Format(time.RFC3339))
	_, err := c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("marking pod %s/%s for eviction: %w", pod.Namespace, pod.Name, err)
	}
	err = c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("evicting pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

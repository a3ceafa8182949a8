package deployment

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/k1s/k1s/internal/controller/claim"
)

// Event reasons, as upstream.
const (
	eventScalingReplicaSet = "ScalingReplicaSet"
	eventSelectingAll      = "SelectingAll"
)

// reconcile moves the Deployment key one step towards its spec and
// writes its status. It reads from the informer caches (besides the
// adoption recheck), works on copies, and is safe to repeat: every write
// carries the resourceVersion it was computed from, so a decision made on
// a stale cache fails with a conflict and is made again.
func (c *Controller) reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		c.log.Error("bad queue key", "key", key, "err", err)
		return nil
	}
	cached, err := c.dLister.Deployments(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil // its ReplicaSets are the garbage collector's
	}
	if err != nil {
		return err
	}
	d := cached.DeepCopy()
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		c.log.Warn("deployment has an invalid selector", "deployment", key, "err", err)
		return nil
	}
	if sel.Empty() {
		c.recorder.Eventf(d, corev1.EventTypeWarning, eventSelectingAll, "This deployment is selecting all pods. A non-empty selector is required.")
		if d.Status.ObservedGeneration < d.Generation {
			d.Status.ObservedGeneration = d.Generation
			return c.writeStatus(ctx, d)
		}
		return nil
	}
	rsList, err := c.claimReplicaSets(ctx, d, sel)
	if err != nil {
		return err
	}
	if d.DeletionTimestamp != nil {
		newRS, olds := splitReplicaSets(d, rsList)
		return c.syncStatus(ctx, append(olds, newRS), newRS, d)
	}
	if err := c.checkPausedConditions(ctx, d); err != nil {
		return err
	}
	newRS, olds := splitReplicaSets(d, rsList)
	if newRS != nil {
		if newRS, err = c.syncNewReplicaSet(ctx, d, newRS, olds); err != nil {
			return err
		}
	}
	if d.Spec.Paused || isScalingEvent(d, newRS, olds) {
		return c.scale(ctx, d, newRS, olds)
	}
	switch d.Spec.Strategy.Type {
	case appsv1.RecreateDeploymentStrategyType:
		return c.rolloutRecreate(ctx, d, newRS, olds, sel)
	case appsv1.RollingUpdateDeploymentStrategyType:
		return c.rolloutRolling(ctx, d, newRS, olds)
	}
	return fmt.Errorf("deployment strategy %q is not supported", d.Spec.Strategy.Type)
}

// claimReplicaSets returns the ReplicaSets d controls, adopting and
// releasing as its selector says.
func (c *Controller) claimReplicaSets(ctx context.Context, d *appsv1.Deployment, sel labels.Selector) ([]*appsv1.ReplicaSet, error) {
	all, err := c.rsLister.ReplicaSets(d.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	claimer := &claim.Claimer{
		Owner: d, Kind: controllerKind(), Selector: sel,
		Recheck: claim.RecheckOwner(func(ctx context.Context) (metav1.Object, error) {
			return c.client.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
		}, d.UID),
		Patch: func(ctx context.Context, name string, patch []byte) error {
			_, err := c.client.AppsV1().ReplicaSets(d.Namespace).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		},
	}
	return claim.Claim(ctx, claimer, all)
}

// checkPausedConditions records pausing and resuming in the Progressing
// condition (unless the deadline was exceeded already).
func (c *Controller) checkPausedConditions(ctx context.Context, d *appsv1.Deployment) error {
	if !hasProgressDeadline(d) {
		return nil
	}
	cond := getCondition(d.Status, appsv1.DeploymentProgressing)
	if cond != nil && cond.Reason == reasonTimedOut {
		return nil
	}
	pausedRecorded := cond != nil && cond.Reason == reasonPaused
	switch {
	case d.Spec.Paused && !pausedRecorded:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, reasonPaused, "Deployment is paused", c.now()))
	case !d.Spec.Paused && pausedRecorded:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, reasonResumed, "Deployment is resumed", c.now()))
	default:
		return nil
	}
	return c.writeStatus(ctx, d)
}

// syncNewReplicaSet brings the existing new ReplicaSet's annotations and
// minReadySeconds up to date, then the Deployment's revision annotation.
func (c *Controller) syncNewReplicaSet(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	next := newRS.DeepCopy()
	changed := setNewReplicaSetAnnotations(d, next, maxRevision(olds)+1, true, maxSurge(d))
	if changed || next.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
		next.Spec.MinReadySeconds = d.Spec.MinReadySeconds
		updated, err := c.client.AppsV1().ReplicaSets(d.Namespace).Update(ctx, next, metav1.UpdateOptions{})
		if err != nil {
			return nil, fmt.Errorf("updating replicaset %s: %w", next.Name, err)
		}
		newRS = updated
	}
	if err := c.setRevision(ctx, d, newRS.Annotations[annotationRevision]); err != nil {
		return nil, err
	}
	if hasProgressDeadline(d) && getCondition(d.Status, appsv1.DeploymentProgressing) == nil {
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonFoundNewRS,
			fmt.Sprintf("Found new replica set %q", newRS.Name), c.now()))
		if err := c.writeStatus(ctx, d); err != nil {
			return nil, err
		}
	}
	return newRS, nil
}

// createNewReplicaSet creates the ReplicaSet for d's current template,
// sized as the strategy allows, at the next revision.
func (c *Controller) createNewReplicaSet(ctx context.Context, d *appsv1.Deployment, olds []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	rev := maxRevision(olds) + 1
	rs := newReplicaSet(d, 0, rev, maxSurge(d))
	replicas, err := newRSReplicas(d, append(slices.Clone(olds), rs), rs)
	if err != nil {
		return nil, err
	}
	rs.Spec.Replicas = &replicas
	created, err := c.client.AppsV1().ReplicaSets(d.Namespace).Create(ctx, rs, metav1.CreateOptions{})
	existed := false
	switch {
	case apierrors.IsAlreadyExists(err):
		existing, gerr := c.rsLister.ReplicaSets(d.Namespace).Get(rs.Name)
		if apierrors.IsNotFound(gerr) {
			existing, gerr = c.client.AppsV1().ReplicaSets(d.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
		}
		if gerr != nil {
			return nil, fmt.Errorf("reading existing replicaset %s: %w", rs.Name, gerr)
		}
		if ref := metav1.GetControllerOfNoCopy(existing); ref != nil && ref.UID == d.UID && equalIgnoreHash(&d.Spec.Template, &existing.Spec.Template) {
			created, existed = existing, true
			break
		}
		// Another template hashed to the same name: hash again with a
		// higher collision count next time.
		n := int32(0)
		if d.Status.CollisionCount != nil {
			n = *d.Status.CollisionCount
		}
		n++
		d.Status.CollisionCount = &n
		if werr := c.writeStatus(ctx, d); werr != nil {
			return nil, werr
		}
		return nil, fmt.Errorf("replicaset %s exists with another template; collisionCount is now %d: %w", rs.Name, n, err)
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return nil, err
	case err != nil:
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", rs.Name, err)
		if hasProgressDeadline(d) {
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, reasonFailedRSCreate, msg, c.now()))
			// The create error is what matters; this write is best effort.
			_ = c.writeStatus(ctx, d)
		}
		c.recorder.Event(d, corev1.EventTypeWarning, reasonFailedRSCreate, msg)
		return nil, fmt.Errorf("creating replicaset %s: %w", rs.Name, err)
	}
	if !existed && replicas > 0 {
		c.recorder.Eventf(d, corev1.EventTypeNormal, eventScalingReplicaSet, "Scaled up replica set %s from 0 to %d", created.Name, replicas)
	}
	if err := c.setRevision(ctx, d, strconv.FormatInt(rev, 10)); err != nil {
		return nil, err
	}
	if !existed && hasProgressDeadline(d) {
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonNewRSCreated,
			fmt.Sprintf("Created new replica set %q", created.Name), c.now()))
		if err := c.writeStatus(ctx, d); err != nil {
			return nil, err
		}
	}
	return created, nil
}

// rolloutRolling makes one step of a rolling update: grow the new
// ReplicaSet within maxSurge, else shrink the old ones within
// maxUnavailable, else (complete) clean up history.
func (c *Controller) rolloutRolling(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet) error {
	if newRS == nil {
		var err error
		if newRS, err = c.createNewReplicaSet(ctx, d, olds); err != nil {
			return err
		}
	}
	all := append(slices.Clone(olds), newRS)
	if cur := rsReplicas(newRS); cur != replicasOf(d) {
		target := replicasOf(d)
		if cur < target {
			var err error
			if target, err = newRSReplicas(d, all, newRS); err != nil {
				return err
			}
		}
		if target != cur {
			updated, err := c.scaleReplicaSet(ctx, newRS, target, d)
			if err != nil {
				return err
			}
			all[len(all)-1] = updated
			return c.syncRolloutStatus(ctx, all, updated, d)
		}
	}
	if steps := planOldScaleDown(d, newRS, activeReplicaSets(olds)); len(steps) > 0 {
		all, err := c.apply(ctx, d, steps, all)
		if err != nil {
			return err
		}
		return c.syncRolloutStatus(ctx, all, newRS, d)
	}
	if deploymentComplete(d, &d.Status) {
		if err := c.cleanup(ctx, d, olds); err != nil {
			return err
		}
	}
	return c.syncRolloutStatus(ctx, all, newRS, d)
}

// rolloutRecreate scales every old ReplicaSet to 0, waits for their pods
// to be gone, then creates (or scales up) the new one.
func (c *Controller) rolloutRecreate(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet, sel labels.Selector) error {
	all := append(slices.Clone(olds), newRS)
	if active := activeReplicaSets(olds); len(active) > 0 {
		steps := make([]resize, len(active))
		for i, rs := range active {
			steps[i] = resize{rs, 0}
		}
		all, err := c.apply(ctx, d, steps, all)
		if err != nil {
			return err
		}
		return c.syncRolloutStatus(ctx, all, newRS, d)
	}
	pods, err := c.podLister.Pods(d.Namespace).List(sel)
	if err != nil {
		return err
	}
	if oldPodsRunning(newRS, olds, pods) {
		return c.syncRolloutStatus(ctx, all, newRS, d)
	}
	if newRS == nil {
		if newRS, err = c.createNewReplicaSet(ctx, d, olds); err != nil {
			return err
		}
		all = append(slices.Clone(olds), newRS)
	}
	if rsReplicas(newRS) != replicasOf(d) {
		updated, err := c.scaleReplicaSet(ctx, newRS, replicasOf(d), d)
		if err != nil {
			return err
		}
		newRS = updated
		all[len(all)-1] = updated
	}
	if deploymentComplete(d, &d.Status) {
		if err := c.cleanup(ctx, d, olds); err != nil {
			return err
		}
	}
	return c.syncRolloutStatus(ctx, all, newRS, d)
}

// oldPodsRunning reports whether an old ReplicaSet still reports pods, or
// a pod controlled by one (among pods, those matching the selector) has
// not finished. Terminating pods count: they may still be running.
func oldPodsRunning(newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet, pods []*corev1.Pod) bool {
	oldUIDs := map[types.UID]bool{}
	for _, rs := range olds {
		if rs.Status.Replicas > 0 {
			return true
		}
		oldUIDs[rs.UID] = true
	}
	for _, p := range pods {
		ref := metav1.GetControllerOfNoCopy(p)
		if ref == nil || !oldUIDs[ref.UID] || (newRS != nil && ref.UID == newRS.UID) {
			continue
		}
		if !podFinished(p) {
			return true
		}
	}
	return false
}

// scale resizes the ReplicaSets for a changed spec.replicas (or while
// paused: no rollout progress, but scaling still applies), then writes
// the status. A paused Deployment's history is cleaned up too.
func (c *Controller) scale(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet) error {
	all := append(slices.Clone(olds), newRS)
	all, err := c.apply(ctx, d, planScale(d, newRS, olds), all)
	if err != nil {
		return err
	}
	if d.Spec.Paused {
		if err := c.cleanup(ctx, d, olds); err != nil {
			return err
		}
	}
	return c.syncStatus(ctx, all, all[len(all)-1], d)
}

// apply carries out resizes and returns all with the updated ReplicaSets
// in place.
func (c *Controller) apply(ctx context.Context, d *appsv1.Deployment, steps []resize, all []*appsv1.ReplicaSet) ([]*appsv1.ReplicaSet, error) {
	all = slices.Clone(all)
	for _, s := range steps {
		updated, err := c.scaleReplicaSet(ctx, s.rs, s.to, d)
		if err != nil {
			return nil, err
		}
		for i := range all {
			if all[i] == s.rs {
				all[i] = updated
			}
		}
	}
	return all, nil
}

// scaleReplicaSet sets rs's size to n and its replica annotations to d's
// current figures, recording a ScalingReplicaSet event if the size changed.
func (c *Controller) scaleReplicaSet(ctx context.Context, rs *appsv1.ReplicaSet, n int32, d *appsv1.Deployment) (*appsv1.ReplicaSet, error) {
	from := rsReplicas(rs)
	desired, maxReplicas := replicasOf(d), replicasOf(d)+maxSurge(d)
	if from == n && !replicasAnnotationsNeedUpdate(rs, desired, maxReplicas) {
		return rs, nil
	}
	next := rs.DeepCopy()
	next.Spec.Replicas = &n
	setReplicasAnnotations(next, desired, maxReplicas)
	updated, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("scaling replicaset %s to %d: %w", rs.Name, n, err)
	}
	switch {
	case n > from:
		c.recorder.Eventf(d, corev1.EventTypeNormal, eventScalingReplicaSet, "Scaled up replica set %s from %d to %d", rs.Name, from, n)
	case n < from:
		c.recorder.Eventf(d, corev1.EventTypeNormal, eventScalingReplicaSet, "Scaled down replica set %s from %d to %d", rs.Name, from, n)
	}
	return updated, nil
}

// cleanup deletes old ReplicaSets beyond revisionHistoryLimit that no
// longer have pods.
func (c *Controller) cleanup(ctx context.Context, d *appsv1.Deployment, olds []*appsv1.ReplicaSet) error {
	if d.Spec.RevisionHistoryLimit == nil {
		return nil
	}
	for _, rs := range cleanupCandidates(olds, *d.Spec.RevisionHistoryLimit) {
		uid := rs.UID
		err := c.client.AppsV1().ReplicaSets(rs.Namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting old replicaset %s: %w", rs.Name, err)
		}
	}
	return nil
}

// syncStatus writes calculateStatus if it changed.
func (c *Controller) syncStatus(ctx context.Context, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) error {
	st := calculateStatus(all, newRS, d, c.now())
	if apiequality.Semantic.DeepEqual(d.Status, st) {
		return nil
	}
	d.Status = st
	return c.writeStatus(ctx, d)
}

// syncRolloutStatus writes rolloutStatus if it changed; otherwise it
// makes sure d is looked at again when its progress deadline passes.
func (c *Controller) syncRolloutStatus(ctx context.Context, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) error {
	now := c.now()
	st := rolloutStatus(all, newRS, d, now)
	if apiequality.Semantic.DeepEqual(d.Status, st) {
		if after, ok := progressCheckAfter(d, &st, now); ok {
			c.queue.AddAfter(d.Namespace+"/"+d.Name, after)
		}
		return nil
	}
	d.Status = st
	return c.writeStatus(ctx, d)
}

// writeStatus writes d's status and replaces d with what was written, so
// later writes in the same pass carry the new resourceVersion.
func (c *Controller) writeStatus(ctx context.Context, d *appsv1.Deployment) error {
	updated, err := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("updating status: %w", err)
	}
	*d = *updated
	return nil
}

// setRevision sets d's revision annotation to rev. It is written through
// the main resource, not with the status as upstream does: upstream's
// Deployment status strategy lets annotations through, but a status
// write that resets all metadata (as k1s's does) would drop it.
func (c *Controller) setRevision(ctx context.Context, d *appsv1.Deployment, rev string) error {
	if rev == "" || d.Annotations[annotationRevision] == rev {
		return nil
	}
	next := d.DeepCopy()
	if next.Annotations == nil {
		next.Annotations = map[string]string{}
	}
	next.Annotations[annotationRevision] = rev
	updated, err := c.client.AppsV1().Deployments(d.Namespace).Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("setting revision %s: %w", rev, err)
	}
	// Keep the status computed so far; take the new metadata.
	d.ObjectMeta = updated.ObjectMeta
	return nil
}

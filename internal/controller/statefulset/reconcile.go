package statefulset

import (
	"context"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/k1s/k1s/internal/controller/claim"
	"github.com/k1s/k1s/internal/controller/history"
)

// Event reasons, as upstream.
const (
	eventSuccessfulCreate = "SuccessfulCreate"
	eventFailedCreate     = "FailedCreate"
	eventSuccessfulDelete = "SuccessfulDelete"
	eventFailedDelete     = "FailedDelete"
)

// reconcile moves the StatefulSet key one step towards its spec and writes
// its status. It reads only from the informer caches (besides the
// adoption recheck) and never mutates what it read.
func (c *Controller) reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		c.log.Error("bad queue key", "key", key, "err", err)
		return nil
	}
	set, err := c.setLister.StatefulSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil {
		c.log.Warn("statefulset has an invalid selector", "statefulset", key, "err", err)
		return nil
	}
	claimer := &claim.Claimer{
		Owner: set, Kind: controllerKind(), Selector: sel,
		Recheck: claim.RecheckOwner(func(ctx context.Context) (metav1.Object, error) {
			return c.client.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
		}, set.UID),
		Patch: func(ctx context.Context, pod string, patch []byte) error {
			_, err := c.client.CoreV1().Pods(ns).Patch(ctx, pod, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		},
	}
	pods, err := claim.Claim(ctx, claimer, c.candidatePods(set))
	if err != nil {
		return err
	}

	if set.DeletionTimestamp != nil {
		return nil // the garbage collector removes its pods and revisions
	}
	revs, owned, collisions, err := c.syncRevisions(ctx, set)
	if err != nil {
		return err
	}
	existing := map[string]*corev1.PersistentVolumeClaim{}
	if pvcs, err := c.claimLister.PersistentVolumeClaims(ns).List(labels.Everything()); err == nil {
		for _, pvc := range pvcs {
			existing[pvc.Name] = pvc
		}
	}
	var actErr error
	for _, a := range decide(set, revs, pods, existing) {
		if actErr = c.do(ctx, set, a); actErr != nil {
			break
		}
	}

	status := calculateStatus(set, revs, pods)
	status.CollisionCount = collisions
	if !apiequality.Semantic.DeepEqual(set.Status, status) {
		next := set.DeepCopy()
		next.Status = status
		if _, err := c.client.AppsV1().StatefulSets(ns).UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil {
			return errors.Join(actErr, fmt.Errorf("updating status: %w", err))
		}
	}
	live := map[string]bool{status.CurrentRevision: true, status.UpdateRevision: true}
	for _, p := range pods {
		live[p.Labels[labelRevisionHash]] = true
	}
	limit := 10
	if set.Spec.RevisionHistoryLimit != nil {
		limit = int(*set.Spec.RevisionHistoryLimit)
	}
	return errors.Join(actErr, c.history.Trim(ctx, owned, live, limit))
}

// syncRevisions makes sure set's template has a ControllerRevision, the
// newest, and returns the current and update revisions, the set's
// revisions as they were before, and its collision count.
func (c *Controller) syncRevisions(ctx context.Context, set *appsv1.StatefulSet) (revisions, []*appsv1.ControllerRevision, *int32, error) {
	all, err := c.revLister.ControllerRevisions(set.Namespace).List(labels.Everything())
	if err != nil {
		return revisions{}, nil, nil, err
	}
	owned := history.Owned(all, set)
	var collisions *int32
	if set.Status.CollisionCount != nil {
		collisions = new(*set.Status.CollisionCount)
	}
	var update *appsv1.ControllerRevision
	for attempt := 0; ; attempt++ {
		want, err := history.New(set, controllerKind(), &set.Spec.Template, history.Next(owned), collisions)
		if err != nil {
			return revisions{}, nil, nil, err
		}
		update, err = c.history.Ensure(ctx, owned, want)
		if errors.Is(err, history.ErrCollision) && attempt < 10 {
			collisions = new(deref(collisions) + 1)
			continue
		}
		if err != nil {
			return revisions{}, nil, nil, err
		}
		break
	}
	revs := revisions{current: update.Name, update: update.Name, currentSet: set}
	for _, cr := range owned {
		if cr.Name != set.Status.CurrentRevision || cr.Name == update.Name {
			continue
		}
		tmpl, err := history.Template(cr)
		if err != nil {
			c.log.Warn("statefulset has an unreadable current revision", "statefulset", set.Namespace+"/"+set.Name, "err", err)
			break
		}
		cs := set.DeepCopy()
		cs.Spec.Template = *tmpl
		revs.current, revs.currentSet = cr.Name, cs
	}
	return revs, owned, collisions, nil
}

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

// candidatePods returns the pods (terminating ones included) in set's
// namespace that it controls, or orphans named as one of its ordinals.
func (c *Controller) candidatePods(set *appsv1.StatefulSet) []*corev1.Pod {
	var out []*corev1.Pod
	for _, idx := range []string{string(set.UID), orphanKey} {
		objs, _ := c.podIndexer.ByIndex(podsByController, idx)
		for _, o := range objs {
			p := o.(*corev1.Pod)
			if p.Namespace != set.Namespace {
				continue
			}
			if _, ok := ordinalOf(set, p); ok || idx != orphanKey {
				out = append(out, p)
			}
		}
	}
	return out
}

// do carries out one action of a plan.
func (c *Controller) do(ctx context.Context, set *appsv1.StatefulSet, a action) error {
	switch a.kind {
	case createPod, createClaims:
		for _, pvc := range a.claims {
			if err := c.createClaim(ctx, set, a.pod.Name, pvc); err != nil {
				return err
			}
		}
		if a.kind == createClaims {
			return nil
		}
		_, err := c.client.CoreV1().Pods(set.Namespace).Create(ctx, a.pod, metav1.CreateOptions{})
		switch {
		case err == nil:
			c.recorder.Eventf(set, corev1.EventTypeNormal, eventSuccessfulCreate,
				"create Pod %s in StatefulSet %s successful", a.pod.Name, set.Name)
			return nil
		case apierrors.IsAlreadyExists(err):
			return nil // the cache lags behind our own create
		case ctx.Err() != nil:
			return err
		default:
			c.recorder.Eventf(set, corev1.EventTypeWarning, eventFailedCreate,
				"create Pod %s in StatefulSet %s failed error: %v", a.pod.Name, set.Name, err)
			return fmt.Errorf("creating pod %s: %w", a.pod.Name, err)
		}
	case ownClaims:
		for _, pvc := range a.claims {
			_, err := c.client.CoreV1().PersistentVolumeClaims(set.Namespace).Update(ctx, pvc, metav1.UpdateOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("handing claim %s to pod %s: %w", pvc.Name, a.pod.Name, err)
			}
		}
		return nil
	case deletePod:
		uid := a.pod.UID
		err := c.client.CoreV1().Pods(set.Namespace).Delete(ctx, a.pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		switch {
		case err == nil:
			c.recorder.Eventf(set, corev1.EventTypeNormal, eventSuccessfulDelete,
				"delete Pod %s in StatefulSet %s successful", a.pod.Name, set.Name)
			return nil
		case apierrors.IsNotFound(err), apierrors.IsConflict(err):
			return nil // gone or replaced meanwhile
		case ctx.Err() != nil:
			return err
		default:
			c.recorder.Eventf(set, corev1.EventTypeWarning, eventFailedDelete,
				"delete Pod %s in StatefulSet %s failed error: %v", a.pod.Name, set.Name, err)
			return fmt.Errorf("deleting pod %s: %w", a.pod.Name, err)
		}
	}
	return nil
}

func (c *Controller) createClaim(ctx context.Context, set *appsv1.StatefulSet, pod string, pvc *corev1.PersistentVolumeClaim) error {
	_, err := c.client.CoreV1().PersistentVolumeClaims(set.Namespace).Create(ctx, pvc, metav1.CreateOptions{})
	switch {
	case err == nil:
		c.recorder.Eventf(set, corev1.EventTypeNormal, eventSuccessfulCreate,
			"create Claim %s Pod %s in StatefulSet %s success", pvc.Name, pod, set.Name)
		return nil
	case apierrors.IsAlreadyExists(err):
		return nil
	case ctx.Err() != nil:
		return err
	default:
		c.recorder.Eventf(set, corev1.EventTypeWarning, eventFailedCreate,
			"create Claim %s for Pod %s in StatefulSet %s failed error: %v", pvc.Name, pod, set.Name, err)
		return fmt.Errorf("creating claim %s: %w", pvc.Name, err)
	}
}

// calculateStatus is the status set should have given the pods it
// controls; its ObservedGeneration is set.Generation.
func calculateStatus(set *appsv1.StatefulSet, revs revisions, pods []*corev1.Pod) appsv1.StatefulSetStatus {
	st := *set.Status.DeepCopy()
	st.ObservedGeneration = set.Generation
	st.UpdateRevision = revs.update
	st.CurrentRevision = revs.current
	var replicas, ready, current, updated int32
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		if _, ok := ordinalOf(set, p); !ok {
			continue
		}
		replicas++
		if podRunningReady(p) {
			ready++
		}
		switch p.Labels[labelRevisionHash] {
		case st.UpdateRevision:
			updated++
		case st.CurrentRevision:
			current++
		}
	}
	if st.CurrentRevision == st.UpdateRevision {
		current = updated
	}
	// The rollout is done: every wanted pod runs the new template.
	if updated == specReplicas(set) && replicas == updated {
		st.CurrentRevision, current = st.UpdateRevision, updated
	}
	st.Replicas = replicas
	st.ReadyReplicas = ready
	st.AvailableReplicas = ready
	st.CurrentReplicas = current
	st.UpdatedReplicas = updated
	return st
}

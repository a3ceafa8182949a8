package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// defaultVolumeBindTimeout bounds how long a pod's binding waits for its
// claims to be bound.
const defaultVolumeBindTimeout = 30 * time.Second

var (
	errVolumeBindTimeout = errors.New("timed out waiting for the persistent volume claims to be bound")
	// errPodGone ends a wait for the claims of a pod deleted meanwhile.
	errPodGone = errors.New("pod deleted")
)

// volumeAssumptions are the scheduler's volume decisions not yet seen
// through the informers, like upstream's assume cache: the node chosen for
// a claim to be provisioned, and the claim a static volume is promised
// to. A later pod sharing the claim follows the first one's node, and two
// claims never get the same volume. Each entry belongs to the pod whose
// binding made it and goes when that binding ends. The shell guards it
// with its mutex.
type volumeAssumptions struct {
	claims  map[string]assumedEntry // claim namespace/name -> node
	volumes map[string]assumedEntry // PV name -> claim namespace/name
}

type assumedEntry struct {
	value string
	pod   types.UID
}

func (a *volumeAssumptions) assume(pod types.UID, plan []volumeAction) {
	if a.claims == nil {
		a.claims, a.volumes = map[string]assumedEntry{}, map[string]assumedEntry{}
	}
	for _, act := range plan {
		key := act.claim.Namespace + "/" + act.claim.Name
		if act.pv != nil {
			if _, ok := a.volumes[act.pv.Name]; !ok {
				a.volumes[act.pv.Name] = assumedEntry{key, pod}
			}
			continue
		}
		if _, ok := a.claims[key]; !ok {
			a.claims[key] = assumedEntry{act.node, pod}
		}
	}
}

func (a *volumeAssumptions) forget(pod types.UID) {
	for k, e := range a.claims {
		if e.pod == pod {
			delete(a.claims, k)
		}
	}
	for k, e := range a.volumes {
		if e.pod == pod {
			delete(a.volumes, k)
		}
	}
}

// newVolumeSource reads the informers' listers and the assumptions; the
// caller holds s.mu.
func (s *shell) newVolumeSource() *volumeSource {
	return &volumeSource{
		claim: func(ns, name string) (*corev1.PersistentVolumeClaim, bool) {
			pvc, err := s.claims.PersistentVolumeClaims(ns).Get(name)
			return pvc, err == nil
		},
		volume: func(name string) (*corev1.PersistentVolume, bool) {
			pv, err := s.volumes.Get(name)
			return pv, err == nil
		},
		volumes: func() []*corev1.PersistentVolume {
			list, _ := s.volumes.List(labels.Everything())
			return list
		},
		class: func(name string) (*storagev1.StorageClass, bool) {
			if name == "" {
				return nil, false
			}
			c, err := s.classes.Get(name)
			return c, err == nil
		},
		assumedNode:  func(key string) string { return s.assumed.claims[key].value },
		assumedClaim: func(pv string) (string, bool) { e, ok := s.assumed.volumes[pv]; return e.value, ok },
	}
}

// notifier wakes everyone waiting at each event, so waiters watch the
// informers rather than poll.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

// changed returns a channel closed at the next notify; take it before
// looking at the state it guards.
func (n *notifier) changed() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

func (n *notifier) notify() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
}

// bindVolumes is upstream's VolumeBinding PreBind: it promises each static
// volume of the plan to its claim (claimRef; the PV controller completes
// the binding) and marks each claim to provision with the chosen node,
// then waits until every claim is bound. On failure it takes back the
// selected-node annotations it wrote.
func (s *shell) bindVolumes(ctx context.Context, pod *corev1.Pod, plan []volumeAction) error {
	if len(plan) == 0 {
		return nil
	}
	var annotated []volumeAction
	err := func() error {
		for _, a := range plan {
			if a.pv != nil {
				if err := s.promiseVolume(ctx, a); err != nil {
					return err
				}
				continue
			}
			if a.claim.Annotations[annSelectedNode] == a.node {
				continue
			}
			if err := s.patchSelectedNode(ctx, a.claim, &a.node); err != nil {
				return err
			}
			annotated = append(annotated, a)
		}
		return s.waitBound(ctx, pod, plan)
	}()
	if err != nil {
		for _, a := range annotated {
			s.unselectNode(ctx, a)
		}
	}
	return err
}

// promiseVolume sets a static volume's claimRef to the claim; the
// resourceVersion makes it fail if the volume changed since the decision.
func (s *shell) promiseVolume(ctx context.Context, a volumeAction) error {
	if ref := a.pv.Spec.ClaimRef; ref != nil && ref.UID == a.claim.UID && boundToClaim(a.pv, a.claim) {
		return nil
	}
	pv := a.pv.DeepCopy()
	pv.Spec.ClaimRef = &corev1.ObjectReference{
		Kind: "PersistentVolumeClaim", APIVersion: "v1",
		Namespace: a.claim.Namespace, Name: a.claim.Name, UID: a.claim.UID, ResourceVersion: a.claim.ResourceVersion,
	}
	if pv.Annotations == nil {
		pv.Annotations = map[string]string{}
	}
	pv.Annotations[annBoundByCtrl] = "yes"
	if _, err := s.client.CoreV1().PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("binding volume %s to claim %s/%s: %w", pv.Name, a.claim.Namespace, a.claim.Name, err)
	}
	return nil
}

// patchSelectedNode sets (node non-nil) or removes the claim's
// selected-node annotation.
func (s *shell) patchSelectedNode(ctx context.Context, pvc *corev1.PersistentVolumeClaim, node *string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{annSelectedNode: node}}})
	if err != nil {
		return fmt.Errorf("selected-node patch: %w", err)
	}
	_, err = s.client.CoreV1().PersistentVolumeClaims(pvc.Namespace).Patch(ctx, pvc.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("selecting node for claim %s/%s: %w", pvc.Namespace, pvc.Name, err)
	}
	return nil
}

// unselectNode removes the annotation this scheduler set on a claim that
// is still unbound, so that the claim is not provisioned for a node its
// pod may not go to.
func (s *shell) unselectNode(ctx context.Context, a volumeAction) {
	pvc, err := s.client.CoreV1().PersistentVolumeClaims(a.claim.Namespace).Get(ctx, a.claim.Name, metav1.GetOptions{})
	if err != nil || claimBound(pvc) || pvc.Annotations[annSelectedNode] != a.node {
		return
	}
	if err := s.patchSelectedNode(ctx, pvc, nil); err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		s.log.Info("removing selected-node failed", "claim", a.claim.Namespace+"/"+a.claim.Name, "err", err)
	}
}

// waitBound waits, watching the claim and volume informers, until every
// claim of the plan is bound, at most s.volumeBindTimeout, and no longer
// than the pod exists.
func (s *shell) waitBound(ctx context.Context, pod *corev1.Pod, plan []volumeAction) error {
	timer := time.NewTimer(s.volumeBindTimeout)
	defer timer.Stop()
	seen := map[string]bool{} // claims seen with the selected-node annotation
	for {
		changed := s.volumeEvents.changed()
		if cur, err := s.pods.Pods(pod.Namespace).Get(pod.Name); err != nil || cur.UID != pod.UID || cur.DeletionTimestamp != nil {
			return errPodGone
		}
		done, err := s.planBound(plan, seen)
		if err != nil || done {
			return err
		}
		select {
		case <-changed:
		case <-timer.C:
			return errVolumeBindTimeout
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// planBound checks the plan's claims in the informers, as upstream's
// checkBindings: done when all are bound to volumes admitting the node; an
// error when that can no longer happen.
func (s *shell) planBound(plan []volumeAction, seen map[string]bool) (bool, error) {
	done := true
	for _, a := range plan {
		key := a.claim.Namespace + "/" + a.claim.Name
		pvc, err := s.claims.PersistentVolumeClaims(a.claim.Namespace).Get(a.claim.Name)
		switch {
		case err != nil:
			return false, fmt.Errorf("persistentvolumeclaim %q not found", a.claim.Name)
		case pvc.DeletionTimestamp != nil:
			return false, fmt.Errorf("persistentvolumeclaim %q is being deleted", a.claim.Name)
		case pvc.UID != a.claim.UID:
			return false, fmt.Errorf("persistentvolumeclaim %q was recreated", a.claim.Name)
		}
		if !claimBound(pvc) {
			done = false
			if a.pv != nil {
				if pv, err := s.volumes.Get(a.pv.Name); err == nil && pv.Spec.ClaimRef != nil && !boundToClaim(pv, pvc) {
					return false, fmt.Errorf("volume %s was bound to another claim", a.pv.Name)
				}
				continue
			}
			switch sel := pvc.Annotations[annSelectedNode]; {
			case sel == a.node:
				seen[key] = true
			case sel != "" || seen[key]:
				return false, fmt.Errorf("selected-node annotation of claim %q reset", a.claim.Name)
			}
			continue
		}
		pv, err := s.volumes.Get(pvc.Spec.VolumeName)
		if err != nil || !boundToClaim(pv, pvc) {
			// The volume informer is behind; forgetting the assumption
			// before it shows the claimRef could offer the volume again.
			done = false
			continue
		}
		node, err := s.nodeNamed(a.node)
		if err != nil {
			return false, err
		}
		if !volumeAffinity(pv).matches(node) {
			return false, fmt.Errorf("volume %s node affinity does not admit node %s", pv.Name, a.node)
		}
	}
	return done, nil
}

func (s *shell) nodeNamed(name string) (*corev1.Node, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.cache.nodes[name]; n != nil && n.node != nil {
		return n.node, nil
	}
	return nil, fmt.Errorf("node %s is gone", name)
}

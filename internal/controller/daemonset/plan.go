package daemonset

import (
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/k1s/k1s/internal/controller/history"
)

// templateHash is the hash of ds's template as its ControllerRevision
// names it (with ds's collision count): pods carry it in the
// controller-revision-hash label, and a pod whose label differs runs an
// old template.
func templateHash(ds *appsv1.DaemonSet) string {
	data, err := history.Patch(&ds.Spec.Template)
	if err != nil {
		return ""
	}
	return history.Hash(data, ds.Status.CollisionCount)
}

// targetNode is the node p is bound to, or else the one its required node
// affinity pins it to (a single term "metadata.name In [node]"), or "".
func targetNode(p *corev1.Pod) string {
	if p.Spec.NodeName != "" {
		return p.Spec.NodeName
	}
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, r := range term.MatchFields {
			if r.Key == metav1.ObjectNameField && r.Operator == corev1.NodeSelectorOpIn && len(r.Values) == 1 {
				return r.Values[0]
			}
		}
	}
	return ""
}

// nodeState is one node as a DaemonSet sees it: whether its pod belongs
// there, and the DaemonSet's active pods bound to it.
type nodeState struct {
	name      string
	placement placement
	pods      []*corev1.Pod // oldest first
}

// groupByNode pairs every node with ds's pods on it or pinned to it
// (targetNode), sorted by node name. Pods for no node or for a node that
// does not exist are returned apart.
func groupByNode(ds *appsv1.DaemonSet, nodes []*corev1.Node, pods []*corev1.Pod) ([]nodeState, []*corev1.Pod) {
	byName := make(map[string]int, len(nodes))
	states := make([]nodeState, len(nodes))
	sorted := slices.Clone(nodes)
	slices.SortFunc(sorted, func(a, b *corev1.Node) int { return strings.Compare(a.Name, b.Name) })
	for i, n := range sorted {
		states[i] = nodeState{name: n.Name, placement: nodePlacement(ds, n)}
		byName[n.Name] = i
	}
	var orphaned []*corev1.Pod
	for _, p := range pods {
		i, ok := byName[targetNode(p)]
		if !ok {
			orphaned = append(orphaned, p)
			continue
		}
		states[i].pods = append(states[i].pods, p)
	}
	for i := range states {
		slices.SortStableFunc(states[i].pods, func(a, b *corev1.Pod) int {
			return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
		})
	}
	return states, orphaned
}

// surging says whether a RollingUpdate with maxSurge is under way, in
// which a node may run an old pod and a new one side by side.
type surging struct {
	on       bool
	minReady time.Duration
	now      time.Time
}

// plan decides the pods to create (by node name) and delete so that each
// node runs exactly one pod of ds where it should and none where it
// should not. Failed or succeeded pods are deleted first and replaced in
// a later pass, except failed pods on the nodes in held (backing off),
// which stay for now. Of duplicates the pod of the current template that
// is ready, else the oldest, stays; while surging, as upstream, the
// oldest new pod and the oldest old pod may both stay, the old one only
// while it is ready and the new one not yet available.
func plan(states []nodeState, orphaned []*corev1.Pod, hash string, held map[string]bool, surge surging) (create []string, remove []*corev1.Pod) {
	remove = append(remove, orphaned...)
	for _, s := range states {
		var live []*corev1.Pod
		for _, p := range s.pods {
			switch {
			case p.Status.Phase == corev1.PodFailed && held[s.name]:
			case p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded:
				remove = append(remove, p)
			default:
				live = append(live, p)
			}
		}
		switch {
		case !s.placement.shouldContinueRunning:
			remove = append(remove, live...)
		case len(live) == 0 && len(s.pods) == 0 && s.placement.shouldRun:
			create = append(create, s.name)
		case len(live) > 1 && surge.on:
			var oldestNew, oldestOld *corev1.Pod
			for _, p := range live { // oldest first
				switch {
				case p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == hash && oldestNew == nil:
					oldestNew = p
				case p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] != hash && oldestOld == nil:
					oldestOld = p
				default:
					remove = append(remove, p)
				}
			}
			if oldestNew != nil && oldestOld != nil &&
				(!podReady(oldestOld) || podAvailable(oldestNew, surge.minReady, surge.now)) {
				remove = append(remove, oldestOld)
			}
		case len(live) > 1:
			keep := 0
			for i, p := range live {
				if p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == hash && podReady(p) {
					keep = i
					break
				}
			}
			for i, p := range live {
				if i != keep {
					remove = append(remove, p)
				}
			}
		}
	}
	return create, remove
}

// rollingSurge is a RollingUpdate with maxSurge, as upstream: a node
// whose old pod is available gets a new pod beside it, at most surge
// nodes at a time; a node whose old pod is not available gets its new
// pod at once; an old pod goes once the new one beside it is available.
// Nodes go in name order, so the choice is deterministic.
func rollingSurge(ds *appsv1.DaemonSet, states []nodeState, hash string, now time.Time, surge int) (create []string, remove []*corev1.Pod) {
	minReady := time.Duration(ds.Spec.MinReadySeconds) * time.Second
	var candidates []string
	surging := 0
	for _, s := range states {
		if !s.placement.shouldRun {
			continue
		}
		var newPod, oldPod *corev1.Pod
		dup := false
		for _, p := range s.pods {
			if p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == hash {
				dup = dup || newPod != nil
				newPod = p
			} else {
				dup = dup || oldPod != nil
				oldPod = p
			}
		}
		switch {
		case dup, oldPod == nil:
			// Duplicates are plan's; a node with only a new pod is done.
		case newPod == nil && !podAvailable(oldPod, minReady, now):
			create = append(create, s.name)
		case newPod == nil:
			candidates = append(candidates, s.name)
		case !podAvailable(newPod, minReady, now):
			surging++
		default:
			remove = append(remove, oldPod)
		}
	}
	for _, n := range candidates {
		if surging >= surge {
			break
		}
		create = append(create, n)
		surging++
	}
	return create, remove
}

// maxSurge is spec.updateStrategy.rollingUpdate.maxSurge scaled to
// desired nodes (percentages rounded up); 0 means no surge.
func maxSurge(ds *appsv1.DaemonSet, desired int) int {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ru == nil || ru.MaxSurge == nil {
		return 0
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(ru.MaxSurge, desired, true)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// desiredNodes counts the nodes that should run a pod of ds.
func desiredNodes(states []nodeState) int {
	n := 0
	for _, s := range states {
		if s.placement.shouldRun {
			n++
		}
	}
	return n
}

// rollingDeletes picks the old-template pods a RollingUpdate deletes now
// so that their nodes get the new template: every old pod that is not
// available (its node is down already), and available ones while fewer
// than maxUnavailable nodes that should run a pod lack an available one.
// Nodes go in name order, so the choice is deterministic.
func rollingDeletes(ds *appsv1.DaemonSet, states []nodeState, hash string, now time.Time) []*corev1.Pod {
	minReady := time.Duration(ds.Spec.MinReadySeconds) * time.Second
	desired, unavailable := 0, 0
	var oldAvailable, out []*corev1.Pod
	for _, s := range states {
		if !s.placement.shouldRun {
			continue
		}
		desired++
		if len(s.pods) != 1 {
			unavailable++ // missing or duplicated: plan deals with it first
			continue
		}
		p := s.pods[0]
		avail := podAvailable(p, minReady, now)
		if !avail {
			unavailable++
		}
		if p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == hash {
			continue
		}
		if avail {
			oldAvailable = append(oldAvailable, p)
		} else {
			out = append(out, p)
		}
	}
	budget := maxUnavailable(ds, desired) - unavailable
	for _, p := range oldAvailable {
		if budget <= 0 {
			break
		}
		out = append(out, p)
		budget--
	}
	return out
}

// maxUnavailable is spec.updateStrategy.rollingUpdate.maxUnavailable
// scaled to desired nodes (percentages rounded up), at least 1.
func maxUnavailable(ds *appsv1.DaemonSet, desired int) int {
	v := intstr.FromInt32(1)
	if ru := ds.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.MaxUnavailable != nil {
		v = *ru.MaxUnavailable
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(&v, desired, true)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// calculateStatus is the status ds should have given its nodes.
func calculateStatus(ds *appsv1.DaemonSet, states []nodeState, hash string, now time.Time) appsv1.DaemonSetStatus {
	st := *ds.Status.DeepCopy()
	minReady := time.Duration(ds.Spec.MinReadySeconds) * time.Second
	var desired, current, mis, ready, available, updated int32
	for _, s := range states {
		if !s.placement.shouldRun {
			if len(s.pods) > 0 {
				mis++
			}
			continue
		}
		desired++
		if len(s.pods) == 0 {
			continue
		}
		current++
		p := s.pods[0]
		if podReady(p) {
			ready++
			if podAvailable(p, minReady, now) {
				available++
			}
		}
		if p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == hash {
			updated++
		}
	}
	st.DesiredNumberScheduled = desired
	st.CurrentNumberScheduled = current
	st.NumberMisscheduled = mis
	st.NumberReady = ready
	st.NumberAvailable = available
	st.NumberUnavailable = max(desired-available, 0)
	st.UpdatedNumberScheduled = updated
	st.ObservedGeneration = ds.Generation
	return st
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podAvailable: ready for at least minReady.
func podAvailable(p *corev1.Pod, minReady time.Duration, now time.Time) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			if c.Status != corev1.ConditionTrue {
				return false
			}
			return minReady == 0 || (!c.LastTransitionTime.IsZero() && c.LastTransitionTime.Add(minReady).Before(now))
		}
	}
	return false
}

package replicaset

import (
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// deletionCostAnnotation lets users say which pods to remove first on
// scale-down: lower cost goes first (upstream's PodDeletionCost).
const deletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// podsToDelete picks the n least valuable of pods (all active and owned by
// the ReplicaSet). related are the active pods of the ReplicaSet and its
// siblings (same owning controller): a pod sharing its node with more of
// them is removed first, spreading what remains.
func podsToDelete(pods, related []*corev1.Pod, n int) []*corev1.Pod {
	if n >= len(pods) {
		return slices.Clone(pods)
	}
	onNode := map[string]int{}
	for _, p := range related {
		onNode[p.Spec.NodeName]++
	}
	ranked := slices.Clone(pods)
	slices.SortStableFunc(ranked, func(a, b *corev1.Pod) int {
		return comparePodValue(a, b, onNode[a.Spec.NodeName], onNode[b.Spec.NodeName])
	})
	return ranked[:n]
}

// comparePodValue orders pods from least to most valuable, as upstream
// does: it is negative when a should be deleted before b. rankA and rankB
// are how many related pods share each pod's node.
//
//  1. unscheduled < scheduled
//  2. Pending < Unknown < Running
//  3. not ready < ready
//  4. lower pod-deletion-cost < higher
//  5. more related pods on the same node < fewer
//  6. ready for less time < ready for longer
//  7. more container restarts < fewer
//  8. newer < older
//
// Upstream buckets times 6 and 8 logarithmically (LogarithmicScaleDown);
// here they are compared exactly.
func comparePodValue(a, b *corev1.Pod, rankA, rankB int) int {
	if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
		return boolFirst(a.Spec.NodeName == "")
	}
	if pa, pb := phaseOrdinal(a.Status.Phase), phaseOrdinal(b.Status.Phase); pa != pb {
		return pa - pb
	}
	readyA, readyB := podReady(a), podReady(b)
	if readyA != readyB {
		return boolFirst(!readyA)
	}
	if ca, cb := deletionCost(a), deletionCost(b); ca != cb {
		return cmpInt(ca, cb)
	}
	if rankA != rankB {
		return rankB - rankA
	}
	if readyA && readyB {
		ta, tb := readySince(a), readySince(b)
		if !ta.Equal(tb) {
			return laterOrZeroFirst(ta, tb)
		}
	}
	if ra, rb := maxRestarts(a.Status.ContainerStatuses), maxRestarts(b.Status.ContainerStatuses); ra != rb {
		return rb - ra
	}
	if ra, rb := maxRestarts(a.Status.InitContainerStatuses), maxRestarts(b.Status.InitContainerStatuses); ra != rb {
		return rb - ra
	}
	ca, cb := a.CreationTimestamp.Time, b.CreationTimestamp.Time
	if !ca.Equal(cb) {
		return laterOrZeroFirst(ca, cb)
	}
	return 0
}

func phaseOrdinal(p corev1.PodPhase) int {
	switch p {
	case corev1.PodPending:
		return 0
	case corev1.PodUnknown:
		return 1
	case corev1.PodRunning:
		return 2
	default:
		return 0 // no phase yet: as pending
	}
}

// boolFirst orders the side for which first is true before the other.
func boolFirst(first bool) int {
	if first {
		return -1
	}
	return 1
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// laterOrZeroFirst orders a zero time first, then the later time first.
func laterOrZeroFirst(a, b time.Time) int {
	switch {
	case a.IsZero() != b.IsZero():
		return boolFirst(a.IsZero())
	case a.After(b):
		return -1
	case b.After(a):
		return 1
	}
	return 0
}

// deletionCost reads the deletion-cost annotation; missing or malformed is 0.
func deletionCost(p *corev1.Pod) int {
	v, ok := p.Annotations[deletionCostAnnotation]
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0
	}
	return int(n)
}

func maxRestarts(statuses []corev1.ContainerStatus) int {
	m := 0
	for _, s := range statuses {
		m = max(m, int(s.RestartCount))
	}
	return m
}

// podReady reports the pod's Ready condition.
func podReady(p *corev1.Pod) bool {
	c := readyCondition(p)
	return c != nil && c.Status == corev1.ConditionTrue
}

// readySince is when the pod last became ready; zero if unknown.
func readySince(p *corev1.Pod) time.Time {
	if c := readyCondition(p); c != nil {
		return c.LastTransitionTime.Time
	}
	return time.Time{}
}

func readyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// podAvailable reports whether p has been ready for at least minReady at now.
func podAvailable(p *corev1.Pod, minReady time.Duration, now time.Time) bool {
	if !podReady(p) {
		return false
	}
	if minReady == 0 {
		return true
	}
	since := readySince(p)
	return !since.IsZero() && since.Add(minReady).Before(now)
}

// podActive reports whether p counts toward a ReplicaSet: not finished and
// not being deleted.
func podActive(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil
}

package scheduler

import (
	"math"

	corev1 "k8s.io/api/core/v1"
)

// maxNodeScore is what each score plugin gives its best node after
// normalization.
const maxNodeScore = 100

// scorePlugin ranks a feasible node for the cycle's pod; normalize then
// maps the scores of all feasible nodes, in place, to 0..maxNodeScore.
type scorePlugin interface {
	score(cy *cycle, n *nodeInfo) int64
	normalize(scores []int64)
}

// leastAllocated prefers the node with the most cpu and memory left after
// placing the pod: the mean over both of (allocatable - requested) * 100 /
// allocatable, where requests use the scoring defaults for containers
// without one.
type leastAllocated struct{}

func (leastAllocated) score(cy *cycle, n *nodeInfo) int64 {
	cpu := leastRequested(n.nonZero.milliCPU+cy.pod.nonZero.milliCPU, n.allocatable.milliCPU)
	mem := leastRequested(n.nonZero.memory+cy.pod.nonZero.memory, n.allocatable.memory)
	return (cpu + mem) / 2
}

func (leastAllocated) normalize([]int64) {}

func leastRequested(requested, capacity int64) int64 {
	if capacity == 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * maxNodeScore / capacity
}

// balancedAllocation prefers the node whose cpu and memory would be used
// in equal fractions: (1 - |cpu fraction - memory fraction| / 2) * 100,
// using actual requests. A pod requesting neither scores 0 everywhere.
type balancedAllocation struct{}

func (balancedAllocation) score(cy *cycle, n *nodeInfo) int64 {
	r := &cy.pod.request
	if r.milliCPU == 0 && r.memory == 0 {
		return 0
	}
	cpu, cpuOK := fraction(n.requested.milliCPU+r.milliCPU, n.allocatable.milliCPU)
	mem, memOK := fraction(n.requested.memory+r.memory, n.allocatable.memory)
	std := 0.0
	if cpuOK && memOK {
		std = math.Abs(cpu-mem) / 2
	}
	return int64((1 - std) * maxNodeScore)
}

func (balancedAllocation) normalize([]int64) {}

// fraction is requested/allocatable capped at 1; ok is false for a
// resource the node does not have.
func fraction(requested, allocatable int64) (f float64, ok bool) {
	if allocatable == 0 {
		return 0, false
	}
	return min(float64(requested)/float64(allocatable), 1), true
}

// selectorSpread prefers nodes with fewer pods of the pod's controller
// (the same ReplicaSet, StatefulSet, Job...): 100 * (max - count) / max
// over the feasible nodes.
type selectorSpread struct{}

func (selectorSpread) score(cy *cycle, n *nodeInfo) int64 {
	if cy.pod.owner == "" {
		return 0
	}
	return int64(n.owners[cy.pod.owner])
}

func (selectorSpread) normalize(scores []int64) { normalize(scores, true) }

// preferredNodeAffinity prefers nodes matching the heaviest preferred
// node affinity terms: the sum of matching weights, scaled to 100.
type preferredNodeAffinity struct{}

func (preferredNodeAffinity) score(cy *cycle, n *nodeInfo) int64 {
	var sum int64
	for i := range cy.pod.preferred {
		if t := &cy.pod.preferred[i]; t.term.matches(n.node) {
			sum += t.weight
		}
	}
	return sum
}

func (preferredNodeAffinity) normalize(scores []int64) { normalize(scores, false) }

// taintPreference prefers nodes with fewer PreferNoSchedule taints the pod
// does not tolerate.
type taintPreference struct{}

func (taintPreference) score(cy *cycle, n *nodeInfo) int64 {
	var count int64
	for i := range n.taints {
		t := &n.taints[i]
		if t.Effect == corev1.TaintEffectPreferNoSchedule && !tolerates(cy.pod.pod.Spec.Tolerations, t) {
			count++
		}
	}
	return count
}

func (taintPreference) normalize(scores []int64) { normalize(scores, true) }

// normalize scales scores to 0..maxNodeScore by their maximum, reversed
// (fewer is better) if asked, as upstream's default normalization: all
// zeros stay 0, or become maxNodeScore when reversed.
func normalize(scores []int64, reverse bool) {
	var top int64
	for _, s := range scores {
		top = max(top, s)
	}
	for i, s := range scores {
		switch {
		case top == 0 && reverse:
			scores[i] = maxNodeScore
		case top == 0:
		case reverse:
			scores[i] = maxNodeScore - maxNodeScore*s/top
		default:
			scores[i] = maxNodeScore * s / top
		}
	}
}

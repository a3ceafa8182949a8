package scheduler

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// chain places one pod at a time: filter plugins decide which nodes are
// feasible, score plugins rank them, and the best weighted sum wins.
// It is deterministic for a given random source and not safe for
// concurrent use.
type chain struct {
	filters []filterPlugin
	scores  []weightedScore
	rand    *rand.Rand

	// nextStart rotates where the search for feasible nodes begins, so
	// that sampling a large cluster does not always look at the same
	// nodes first.
	nextStart int
	// Buffers reused across cycles.
	feasible []*nodeInfo
	total    []int64
	column   []int64
}

type weightedScore struct {
	plugin scorePlugin
	weight int64
}

// newChain builds the scheduler's decision: every filter and score plugin,
// in order, one line each. Filters run in upstream's order, and only the
// first that rejects a node gives the reasons reported for it.
func newChain(rng *rand.Rand) *chain {
	return &chain{
		filters: []filterPlugin{
			nodeUnschedulable{},  // spec.unschedulable (cordon)
			nodeName{},           // spec.nodeName
			nodeReady{},          // Ready condition, as the not-ready/unreachable taints
			taintToleration{},    // NoSchedule and NoExecute taints
			nodeAffinity{},       // nodeSelector and required node affinity
			hostPorts{},          // host port conflicts
			resourcesFit{},       // cpu, memory, ephemeral-storage, extended resources, pod count
			volumeRestrictions{}, // ReadWriteOncePod claims in use
			volumeBinding{},      // bound volumes' node affinity; volumes to bind or provision
			interPodAffinity{},   // required pod affinity and anti-affinity
		},
		scores: []weightedScore{
			{leastAllocated{}, 1},        // most cpu and memory left
			{balancedAllocation{}, 1},    // cpu and memory used evenly
			{selectorSpread{}, 1},        // fewest pods of the same controller
			{preferredNodeAffinity{}, 1}, // preferred node affinity weights
			{taintPreference{}, 1},       // fewest untolerated PreferNoSchedule taints
		},
		rand: rng,
	}
}

// numFeasibleNodesToFind is how many feasible nodes are enough to score,
// as upstream's adaptive default: all of a cluster under 100 nodes, then a
// share falling from 50% by 1% per 125 nodes, at least 5% and 100 nodes.
func numFeasibleNodesToFind(all int) int {
	if all < 100 {
		return all
	}
	percent := max(50-all/125, 5)
	return max(all*percent/100, 100)
}

// schedule picks a node for the pod among the cache's nodes, or says why
// none fits.
func (ch *chain) schedule(p *podInfo, c *nodeCache) (string, *fitError) {
	nodes := c.list
	if len(nodes) == 0 {
		return "", &fitError{}
	}
	if p.unresolvable != "" {
		return "", &fitError{numNodes: len(nodes), unresolvable: p.unresolvable}
	}
	cy := newCycle(p, c)
	want := numFeasibleNodesToFind(len(nodes))
	ch.feasible = ch.feasible[:0]
	var reasons map[string]int
	start, looked := ch.nextStart%len(nodes), 0
	for ; looked < len(nodes) && len(ch.feasible) < want; looked++ {
		n := nodes[(start+looked)%len(nodes)]
		why := ch.filter(cy, n)
		if why == nil {
			ch.feasible = append(ch.feasible, n)
			continue
		}
		if reasons == nil {
			reasons = map[string]int{}
		}
		for _, r := range why {
			reasons[r]++
		}
	}
	ch.nextStart = (start + looked) % len(nodes)
	switch len(ch.feasible) {
	case 0:
		return "", &fitError{numNodes: len(nodes), reasons: reasons}
	case 1:
		return ch.feasible[0].name, nil
	}
	return ch.best(cy), nil
}

func (ch *chain) filter(cy *cycle, n *nodeInfo) []string {
	for _, f := range ch.filters {
		if why := f.filter(cy, n); why != nil {
			return why
		}
	}
	return nil
}

// best scores the feasible nodes and returns the one with the highest
// weighted sum, a tie broken uniformly at random.
func (ch *chain) best(cy *cycle) string {
	n := len(ch.feasible)
	ch.total = slices.Grow(ch.total[:0], n)[:n]
	ch.column = slices.Grow(ch.column[:0], n)[:n]
	clear(ch.total)
	for _, s := range ch.scores {
		for i, node := range ch.feasible {
			ch.column[i] = s.plugin.score(cy, node)
		}
		s.plugin.normalize(ch.column)
		for i, v := range ch.column {
			ch.total[i] += v * s.weight
		}
	}
	bestIdx, ties := 0, 1
	for i := 1; i < n; i++ {
		switch {
		case ch.total[i] > ch.total[bestIdx]:
			bestIdx, ties = i, 1
		case ch.total[i] == ch.total[bestIdx]:
			// Reservoir sampling: each tied node wins with equal odds.
			ties++
			if ch.rand.IntN(ties) == 0 {
				bestIdx = i
			}
		}
	}
	return ch.feasible[bestIdx].name
}

// fitError says why no node can host a pod.
type fitError struct {
	numNodes     int
	reasons      map[string]int // reason -> nodes rejected for it
	unresolvable string
}

// Error is the message of the PodScheduled condition and the
// FailedScheduling event, in upstream's form:
//
//	0/3 nodes are available: 1 node(s) had untolerated taint {k: v}, 2 Insufficient cpu. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.
//
// This scheduler does not preempt, so the preemption part always says so.
func (e *fitError) Error() string {
	if e.numNodes == 0 {
		return "no nodes available to schedule pods"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "0/%d nodes are available:", e.numNodes)
	if e.unresolvable != "" {
		fmt.Fprintf(&b, " %s.", e.unresolvable)
	} else if len(e.reasons) > 0 {
		histogram := make([]string, 0, len(e.reasons))
		for r, n := range e.reasons {
			histogram = append(histogram, fmt.Sprintf("%d %s", n, r))
		}
		slices.Sort(histogram)
		fmt.Fprintf(&b, " %s.", strings.Join(histogram, ", "))
	}
	fmt.Fprintf(&b, " preemption: 0/%d nodes are available: %d Preemption is not helpful for scheduling.", e.numNodes, e.numNodes)
	return b.String()
}

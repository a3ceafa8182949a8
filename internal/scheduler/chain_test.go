package scheduler

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestNumFeasibleNodesToFind(t *testing.T) {
	for all, want := range map[int]int{0: 0, 3: 3, 99: 99, 100: 100, 200: 100, 1000: 420, 5000: 500, 10000: 500} {
		if got := numFeasibleNodesToFind(all); got != want {
			t.Errorf("numFeasibleNodesToFind(%d) = %d, want %d", all, got, want)
		}
	}
}

func TestFitErrorMessage(t *testing.T) {
	taint := taints(corev1.Taint{Key: "key", Value: "value", Effect: corev1.TaintEffectNoSchedule})
	tests := []struct {
		name  string
		nodes []*corev1.Node
		pod   *corev1.Pod
		want  string
	}{
		{"no nodes", nil, testPod("p", "1", ""), "no nodes available to schedule pods"},
		{"cpu and taint", []*corev1.Node{testNode("a", "1", "1Gi"), testNode("b", "1", "1Gi"), testNode("c", "8", "1Gi", taint)}, testPod("p", "2", ""),
			"0/3 nodes are available: 1 node(s) had untolerated taint {key: value}, 2 Insufficient cpu. " +
				"preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."},
		{"one node, two reasons", []*corev1.Node{testNode("a", "1", "1Gi")}, testPod("p", "2", "2Gi"),
			"0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. " +
				"preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."},
		{"only the first rejecting filter counts", []*corev1.Node{testNode("a", "1", "1Gi", func(n *corev1.Node) { n.Spec.Unschedulable = true })}, testPod("p", "2", ""),
			"0/1 nodes are available: 1 node(s) were unschedulable. " +
				"preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			node, err := testChain(1).schedule(newPodInfo(tc.pod, nil), testCluster(tc.nodes))
			if err == nil {
				t.Fatalf("scheduled on %s, want a fit error", node)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}

	p := newPodInfo(testPod("p", "", ""), nil)
	p.unresolvable = `persistentvolumeclaim "data" not found`
	_, err := testChain(1).schedule(p, testCluster([]*corev1.Node{testNode("a", "1", "1Gi"), testNode("b", "1", "1Gi")}))
	want := `0/2 nodes are available: persistentvolumeclaim "data" not found. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.`
	if err == nil || err.Error() != want {
		t.Errorf("missing claim: got %v, want %q", err, want)
	}
}

// TestChainLeastAllocatedPlacement places six pods of one ReplicaSet (500m and
// 1Gi each) on three 4-cpu/8Gi nodes where other pods already use 0, 2 and
// 3 cpus (and half as many Gi ×2, so balanced allocation is 100 everywhere
// and ranks nothing). Per pod, least allocated (LA) and spread (S) decide:
//
//	pod  a: LA S   b: LA S   c: LA S   → node
//	1       87 100    37 100    12 100   a
//	2       75 0      37 100    12 100   b (137)
//	3       75 0      25 0      12 100   c (112)
//	4       75 0      25 0       0 0     a
//	5       62 0      25 50      0 50    b (75)
//	6       62 0      12 0       0 50    a (62)
//
// so a gets 3, b 2 and c 1. The integration test checks the same through
// the api-server.
func TestChainLeastAllocatedPlacement(t *testing.T) {
	c := testCluster(
		[]*corev1.Node{testNode("a", "4", "8Gi"), testNode("b", "4", "8Gi"), testNode("c", "4", "8Gi")},
		testPod("used-b", "2", "4Gi", onNode("b")), testPod("used-c", "3", "6Gi", onNode("c")),
	)
	ch := testChain(1)
	var got []string
	for i := range 6 {
		p := newPodInfo(testPod(fmt.Sprintf("web-%d", i), "500m", "1Gi", ownedBy("rs")), nil)
		node, err := ch.schedule(p, c)
		if err != nil {
			t.Fatalf("pod %d: %v", i, err)
		}
		c.assume(p, node)
		got = append(got, node)
	}
	if want := "a b c a b a"; strings.Join(got, " ") != want {
		t.Errorf("placements: got %v, want %s", got, want)
	}
}

// TestChainBurstNeverOvercommits assumes pods one after another, as the loop
// does, onto nodes that hold three each.
func TestChainBurstNeverOvercommits(t *testing.T) {
	var nodes []*corev1.Node
	for i := range 10 {
		nodes = append(nodes, testNode(fmt.Sprintf("n%d", i), "1", "1Gi"))
	}
	c := testCluster(nodes)
	ch := testChain(7)
	placed, failed := 0, 0
	var lastErr error
	for i := range 200 {
		p := newPodInfo(testPod(fmt.Sprintf("p%d", i), "300m", "100Mi"), nil)
		node, err := ch.schedule(p, c)
		if err != nil {
			failed++
			lastErr = err
			continue
		}
		c.assume(p, node)
		placed++
	}
	if placed != 30 || failed != 170 {
		t.Errorf("placed %d, failed %d; want 30 and 170", placed, failed)
	}
	for _, n := range c.list {
		if n.requested.milliCPU > n.allocatable.milliCPU || len(n.pods) != 3 {
			t.Errorf("node %s: %d pods requesting %dm of %dm", n.name, len(n.pods), n.requested.milliCPU, n.allocatable.milliCPU)
		}
	}
	want := "0/10 nodes are available: 10 Insufficient cpu. preemption: 0/10 nodes are available: 10 Preemption is not helpful for scheduling."
	if lastErr == nil || lastErr.Error() != want {
		t.Errorf("got %v, want %q", lastErr, want)
	}
}

func TestTiesBrokenAtRandom(t *testing.T) {
	c := testCluster([]*corev1.Node{testNode("a", "4", "8Gi"), testNode("b", "4", "8Gi"), testNode("c", "4", "8Gi")})
	ch := testChain(3)
	seen := map[string]int{}
	for range 300 {
		node, err := ch.schedule(newPodInfo(testPod("p", "1", "1Gi"), nil), c)
		if err != nil {
			t.Fatal(err)
		}
		seen[node]++
	}
	for _, n := range []string{"a", "b", "c"} {
		if seen[n] < 50 {
			t.Errorf("tied node %s chosen %d times of 300: %v", n, seen[n], seen)
		}
	}
}

// TestSampling checks that on a large cluster the chain stops after
// upstream's share of feasible nodes, and starts the next search where
// this one stopped.
func TestSampling(t *testing.T) {
	var nodes []*corev1.Node
	for i := range 1000 {
		nodes = append(nodes, testNode(fmt.Sprintf("n%04d", i), "4", "8Gi"))
	}
	c := testCluster(nodes)
	ch := testChain(1)
	if _, err := ch.schedule(newPodInfo(testPod("p", "1", "1Gi"), nil), c); err != nil {
		t.Fatal(err)
	}
	if len(ch.feasible) != 420 || ch.nextStart != 420 {
		t.Errorf("first pod: %d feasible, next start %d; want 420 and 420", len(ch.feasible), ch.nextStart)
	}
	if _, err := ch.schedule(newPodInfo(testPod("q", "1", "1Gi"), nil), c); err != nil {
		t.Fatal(err)
	}
	if ch.nextStart != 840 {
		t.Errorf("second pod: next start %d, want 840", ch.nextStart)
	}
}

func TestCacheAssumeConfirmForget(t *testing.T) {
	c := testCluster([]*corev1.Node{testNode("a", "4", "8Gi"), testNode("b", "4", "8Gi")})
	pod := testPod("p", "1", "1Gi")
	c.assume(newPodInfo(pod, nil), "a")
	if got := c.nodes["a"].requested.milliCPU; got != 1000 {
		t.Errorf("assumed: a requests %dm, want 1000m", got)
	}
	// Bound elsewhere by someone else: the observed binding wins.
	bound := pod.DeepCopy()
	bound.Spec.NodeName = "b"
	c.setPod(bound)
	if a, b := c.nodes["a"].requested.milliCPU, c.nodes["b"].requested.milliCPU; a != 0 || b != 1000 {
		t.Errorf("confirmed on b: a %dm, b %dm; want 0 and 1000", a, b)
	}
	c.forget(pod.UID) // a late failed binding must not drop a bound pod
	if got := c.nodes["b"].requested.milliCPU; got != 1000 {
		t.Errorf("after forget of a confirmed pod: b %dm, want 1000m", got)
	}
	c.assume(newPodInfo(testPod("q", "1", "1Gi"), nil), "a")
	c.forget("uid-q")
	if got := c.nodes["a"].requested.milliCPU; got != 0 {
		t.Errorf("after forget: a %dm, want 0", got)
	}
	// A node removed while pods are bound to it keeps their count.
	c.removeNode("b")
	if len(c.list) != 1 || c.nodes["b"] == nil || c.nodes["b"].requested.milliCPU != 1000 {
		t.Errorf("after removing b: %d listed, b %+v", len(c.list), c.nodes["b"])
	}
	c.setNode(testNode("b", "4", "8Gi"))
	if len(c.list) != 2 || c.nodes["b"].requested.milliCPU != 1000 {
		t.Errorf("b back: %d listed, b requests %dm", len(c.list), c.nodes["b"].requested.milliCPU)
	}
	c.removePod(pod.UID)
	if c.nodes["b"].requested.milliCPU != 0 || len(c.pods) != 0 {
		t.Errorf("after delete: b requests %dm, %d pods cached", c.nodes["b"].requested.milliCPU, len(c.pods))
	}
}

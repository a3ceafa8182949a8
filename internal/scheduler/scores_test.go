package scheduler

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestPodRequests(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	ctr := func(name, cpu string) corev1.Container {
		c := corev1.Container{Name: name}
		if cpu != "" {
			c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
		}
		return c
	}
	sidecar := func(name, cpu string) corev1.Container {
		c := ctr(name, cpu)
		c.RestartPolicy = &always
		return c
	}
	tests := []struct {
		name                string
		spec                corev1.PodSpec
		wantCPU, nonZeroCPU int64
		wantMem, nonZeroMem int64
	}{
		{"containers add up", corev1.PodSpec{Containers: []corev1.Container{ctr("a", "1"), ctr("b", "500m")}}, 1500, 1500, 0, 2 * defaultMemoryRequest},
		{"no requests", corev1.PodSpec{Containers: []corev1.Container{ctr("a", ""), ctr("b", "")}}, 0, 200, 0, 2 * defaultMemoryRequest},
		{"largest init container", corev1.PodSpec{
			InitContainers: []corev1.Container{ctr("i1", "2"), ctr("i2", "3")},
			Containers:     []corev1.Container{ctr("a", "1")},
		}, 3000, 3000, 0, defaultMemoryRequest},
		{"sidecars run beside later init containers and the app", corev1.PodSpec{
			InitContainers: []corev1.Container{sidecar("s", "500m"), ctr("i", "2")},
			Containers:     []corev1.Container{ctr("a", "1")},
		}, 2500, 2500, 0, 2 * defaultMemoryRequest},
		{"sidecars add to the app", corev1.PodSpec{
			InitContainers: []corev1.Container{ctr("i", "1"), sidecar("s", "500m")},
			Containers:     []corev1.Container{ctr("a", "1")},
		}, 1500, 1500, 0, 2 * defaultMemoryRequest},
		{"overhead", corev1.PodSpec{
			Containers: []corev1.Container{ctr("a", "1")},
			Overhead:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("1Mi")},
		}, 1250, 1250, 1 << 20, defaultMemoryRequest + 1<<20},
		{"pod-level requests win", corev1.PodSpec{
			Containers: []corev1.Container{ctr("a", "1"), ctr("b", "")},
			Resources:  &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3")}},
		}, 3000, 3000, 0, 2 * defaultMemoryRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, nz := podRequests(&corev1.Pod{Spec: tc.spec})
			got := fmt.Sprint(req.milliCPU, nz.milliCPU, req.memory, nz.memory)
			want := fmt.Sprint(tc.wantCPU, tc.nonZeroCPU, tc.wantMem, tc.nonZeroMem)
			if got != want {
				t.Errorf("cpu, nonzero cpu, memory, nonzero memory: got %s, want %s", got, want)
			}
		})
	}
}

func TestScores(t *testing.T) {
	preferred := func(weights ...int32) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			var terms []corev1.PreferredSchedulingTerm
			for i, w := range weights {
				terms = append(terms, corev1.PreferredSchedulingTerm{Weight: w, Preference: corev1.NodeSelectorTerm{
					MatchExpressions: []corev1.NodeSelectorRequirement{{Key: fmt.Sprintf("pref%d", i), Operator: corev1.NodeSelectorOpExists}},
				}})
			}
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: terms}}
		}
	}
	prefer := func(key string) corev1.Taint {
		return corev1.Taint{Key: key, Effect: corev1.TaintEffectPreferNoSchedule}
	}
	tests := []struct {
		name   string
		plugin scorePlugin
		node   *corev1.Node
		bound  []*corev1.Pod
		pod    *corev1.Pod
		want   int64
	}{
		// (4000-2000)*100/4000 = 50 for cpu and memory alike.
		{"least allocated", leastAllocated{}, testNode("n", "4", "8Gi"), []*corev1.Pod{testPod("b", "1", "2Gi", onNode("n"))}, testPod("p", "1", "2Gi"), 50},
		// Defaults 100m and 200Mi: cpu 90, memory (1024-200)*100/1024 = 80.
		{"least allocated, no requests", leastAllocated{}, testNode("n", "1", "1Gi"), nil, testPod("p", "", ""), 85},
		{"least allocated, over capacity", leastAllocated{}, testNode("n", "1", "1Gi"), nil, testPod("p", "2", "2Gi"), 0},
		// cpu 1/4, memory 4/8: (1 - 0.25/2) * 100.
		{"balanced", balancedAllocation{}, testNode("n", "4", "8Gi"), nil, testPod("p", "1", "4Gi"), 87},
		{"balanced, even", balancedAllocation{}, testNode("n", "4", "8Gi"), []*corev1.Pod{testPod("b", "1", "2Gi", onNode("n"))}, testPod("p", "1", "2Gi"), 100},
		{"balanced, fractions capped at 1", balancedAllocation{}, testNode("n", "1", "8Gi"), nil, testPod("p", "2", "0"), 50},
		{"balanced, no requests", balancedAllocation{}, testNode("n", "4", "8Gi"), nil, testPod("p", "", ""), 0},
		{"spread counts the owner's pods", selectorSpread{}, testNode("n", "4", "8Gi"),
			[]*corev1.Pod{testPod("b1", "", "", onNode("n"), ownedBy("rs")), testPod("b2", "", "", onNode("n"), ownedBy("rs")), testPod("b3", "", "", onNode("n"), ownedBy("other"))},
			testPod("p", "", "", ownedBy("rs")), 2},
		{"spread without an owner", selectorSpread{}, testNode("n", "4", "8Gi"), []*corev1.Pod{testPod("b1", "", "", onNode("n"), ownedBy("rs"))},
			testPod("p", "", ""), 0},
		{"preferred affinity sums matching weights", preferredNodeAffinity{}, testNode("n", "4", "8Gi", nodeLabels("pref0", "", "pref2", "")), nil,
			testPod("p", "", "", preferred(10, 20, 30)), 40},
		{"untolerated PreferNoSchedule taints", taintPreference{}, testNode("n", "4", "8Gi", taints(prefer("a"), prefer("b"), prefer("c"))), nil,
			testPod("p", "", "", func(p *corev1.Pod) {
				p.Spec.Tolerations = []corev1.Toleration{{Key: "a", Operator: corev1.TolerationOpExists}}
			}), 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testCluster([]*corev1.Node{tc.node}, tc.bound...)
			if got := tc.plugin.score(newCycle(newPodInfo(tc.pod, nil), c), c.nodes[tc.node.Name]); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		in      []int64
		reverse bool
		want    []int64
	}{
		{[]int64{0, 5, 10}, false, []int64{0, 50, 100}},
		{[]int64{0, 5, 10}, true, []int64{100, 50, 0}},
		{[]int64{0, 0}, false, []int64{0, 0}},
		{[]int64{0, 0}, true, []int64{100, 100}},
		{[]int64{1, 3}, false, []int64{33, 100}},
	}
	for _, tc := range tests {
		got := slices.Clone(tc.in)
		normalize(got, tc.reverse)
		if !slices.Equal(got, tc.want) {
			t.Errorf("normalize(%v, %v) = %v, want %v", tc.in, tc.reverse, got, tc.want)
		}
	}
}

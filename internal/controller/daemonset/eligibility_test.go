package daemonset

import (
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func testNode(name string, lbls map[string]string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls}, Spec: corev1.NodeSpec{Taints: taints}}
}

func testDS(spec corev1.PodSpec) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "ds", Namespace: "ns"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "d"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "d"}}, Spec: spec},
		},
	}
}

func affinity(terms ...corev1.NodeSelectorTerm) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms},
	}}
}

func TestNodePlacement(t *testing.T) {
	deleting := testNode("n", nil)
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)}
	tests := []struct {
		name      string
		spec      corev1.PodSpec
		node      *corev1.Node
		run, cont bool
	}{
		{"plain node", corev1.PodSpec{}, testNode("n", nil), true, true},
		{"node being deleted", corev1.PodSpec{}, deleting, false, false},
		{"selector matches", corev1.PodSpec{NodeSelector: map[string]string{"disk": "ssd"}}, testNode("n", map[string]string{"disk": "ssd"}), true, true},
		{"selector does not match", corev1.PodSpec{NodeSelector: map[string]string{"disk": "ssd"}}, testNode("n", map[string]string{"disk": "hdd"}), false, false},
		{"affinity In matches", corev1.PodSpec{Affinity: affinity(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
			{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a", "b"}}}})}, testNode("n", map[string]string{"zone": "b"}), true, true},
		{"affinity NotIn excludes", corev1.PodSpec{Affinity: affinity(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
			{Key: "zone", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"b"}}}})}, testNode("n", map[string]string{"zone": "b"}), false, false},
		{"affinity terms are ORed", corev1.PodSpec{Affinity: affinity(
			corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "gpu", Operator: corev1.NodeSelectorOpExists}}},
			corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"n"}}}},
		)}, testNode("n", nil), true, true},
		{"affinity matchFields other node", corev1.PodSpec{Affinity: affinity(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{
			{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"other"}}}})}, testNode("n", nil), false, false},
		{"empty term matches nothing", corev1.PodSpec{Affinity: affinity(corev1.NodeSelectorTerm{})}, testNode("n", nil), false, false},
		{"affinity Gt", corev1.PodSpec{Affinity: affinity(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
			{Key: "cores", Operator: corev1.NodeSelectorOpGt, Values: []string{"4"}}}})}, testNode("n", map[string]string{"cores": "8"}), true, true},
		{"untolerated NoSchedule taint", corev1.PodSpec{}, testNode("n", nil, corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}), false, true},
		{"untolerated NoExecute taint", corev1.PodSpec{}, testNode("n", nil, corev1.Taint{Key: "dedicated", Effect: corev1.TaintEffectNoExecute}), false, false},
		{"PreferNoSchedule taint ignored", corev1.PodSpec{}, testNode("n", nil, corev1.Taint{Key: "dedicated", Effect: corev1.TaintEffectPreferNoSchedule}), true, true},
		{"tolerated by Equal", corev1.PodSpec{Tolerations: []corev1.Toleration{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}}},
			testNode("n", nil, corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}), true, true},
		{"Equal with another value", corev1.PodSpec{Tolerations: []corev1.Toleration{{Key: "dedicated", Value: "web"}}},
			testNode("n", nil, corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}), false, true},
		{"tolerate everything", corev1.PodSpec{Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}},
			testNode("n", nil, corev1.Taint{Key: "x", Effect: corev1.TaintEffectNoExecute}), true, true},
		{"default: not-ready", corev1.PodSpec{}, testNode("n", nil, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}), true, true},
		{"default: unreachable", corev1.PodSpec{}, testNode("n", nil, corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}), true, true},
		{"default: memory-pressure", corev1.PodSpec{}, testNode("n", nil, corev1.Taint{Key: corev1.TaintNodeMemoryPressure, Effect: corev1.TaintEffectNoSchedule}), true, true},
		{"default: unschedulable", corev1.PodSpec{}, testNode("n", nil, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}), true, true},
		{"network-unavailable without hostNetwork", corev1.PodSpec{}, testNode("n", nil, corev1.Taint{Key: corev1.TaintNodeNetworkUnavailable, Effect: corev1.TaintEffectNoSchedule}), false, true},
		{"network-unavailable with hostNetwork", corev1.PodSpec{HostNetwork: true}, testNode("n", nil, corev1.Taint{Key: corev1.TaintNodeNetworkUnavailable, Effect: corev1.TaintEffectNoSchedule}), true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := nodePlacement(testDS(tt.spec), tt.node)
			if got.shouldRun != tt.run || got.shouldContinueRunning != tt.cont {
				t.Errorf("nodePlacement = run %v, continue %v; want run %v, continue %v", got.shouldRun, got.shouldContinueRunning, tt.run, tt.cont)
			}
		})
	}
}

func TestWithDefaultTolerationsNoDuplicates(t *testing.T) {
	own := []corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}
	got := withDefaultTolerations(own, false)
	if want := len(defaultTolerations(false)); len(got) != want {
		t.Errorf("got %d tolerations, want %d", len(got), want)
	}
	if len(own) != 1 {
		t.Errorf("input modified")
	}
}

func testPod(name, node, hash string, ready bool) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{appsv1.DefaultDaemonSetUniqueLabelKey: hash}},
		Spec:       corev1.PodSpec{NodeName: node},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	if ready {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	}
	return p
}

func names(pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func TestPlan(t *testing.T) {
	ds := testDS(corev1.PodSpec{NodeSelector: map[string]string{"role": "worker"}})
	worker := map[string]string{"role": "worker"}
	nodes := []*corev1.Node{testNode("c", worker), testNode("a", worker), testNode("b", nil), testNode("d", worker)}
	failed := testPod("d1", "d", "h", false)
	failed.Status.Phase = corev1.PodFailed
	pods := []*corev1.Pod{
		testPod("a1", "a", "h", true),
		testPod("a2", "a", "h", true), // duplicate
		testPod("b1", "b", "h", true), // node no longer selected
		testPod("x1", "x", "h", true), // node gone
		failed,
	}
	states, orphaned := groupByNode(ds, nodes, pods)
	create, remove := plan(states, orphaned, "h", nil, surging{})
	if got, want := create, []string{"c"}; !slices.Equal(got, want) {
		t.Errorf("create = %v, want %v", got, want)
	}
	if got, want := names(remove), []string{"x1", "a2", "b1", "d1"}; !slices.Equal(got, want) {
		t.Errorf("remove = %v, want %v", got, want)
	}
	st := calculateStatus(ds, states, "h", time.Now())
	if st.DesiredNumberScheduled != 3 || st.CurrentNumberScheduled != 2 || st.NumberMisscheduled != 1 || st.NumberReady != 1 {
		t.Errorf("status = %+v", st)
	}
}

func TestRollingDeletes(t *testing.T) {
	one := intstr.FromInt32(1)
	two := intstr.FromInt32(2)
	nodes := []*corev1.Node{testNode("a", nil), testNode("b", nil), testNode("c", nil), testNode("d", nil)}
	tests := []struct {
		name string
		max  *intstr.IntOrString
		pods []*corev1.Pod
		want []string
	}{
		{"one at a time", &one, []*corev1.Pod{testPod("a1", "a", "old", true), testPod("b1", "b", "old", true), testPod("c1", "c", "old", true), testPod("d1", "d", "old", true)}, []string{"a1"}},
		{"two at a time", &two, []*corev1.Pod{testPod("a1", "a", "old", true), testPod("b1", "b", "old", true), testPod("c1", "c", "old", true), testPod("d1", "d", "old", true)}, []string{"a1", "b1"}},
		{"budget used by a node without pod", &one, []*corev1.Pod{testPod("b1", "b", "old", true), testPod("c1", "c", "old", true), testPod("d1", "d", "old", true)}, nil},
		{"budget used by a new pod not ready", &one, []*corev1.Pod{testPod("a1", "a", "new", false), testPod("b1", "b", "old", true), testPod("c1", "c", "old", true), testPod("d1", "d", "old", true)}, nil},
		{"unavailable old pods go at once", &one, []*corev1.Pod{testPod("a1", "a", "new", true), testPod("b1", "b", "old", false), testPod("c1", "c", "old", false), testPod("d1", "d", "old", true)}, []string{"b1", "c1"}},
		{"all updated", &one, []*corev1.Pod{testPod("a1", "a", "new", true), testPod("b1", "b", "new", true), testPod("c1", "c", "new", true), testPod("d1", "d", "new", true)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := testDS(corev1.PodSpec{})
			ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: tt.max}}
			states, _ := groupByNode(ds, nodes, tt.pods)
			if got := names(rollingDeletes(ds, states, "new", time.Now())); !slices.Equal(got, tt.want) {
				t.Errorf("rollingDeletes = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPinnedAffinity(t *testing.T) {
	own := affinity(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
		{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}})
	own.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution = []corev1.PreferredSchedulingTerm{{Weight: 1}}
	for _, a := range []*corev1.Affinity{nil, own} {
		pod := podFromTemplate(testDS(corev1.PodSpec{Affinity: a}), "h", "node-7")
		if got := targetNode(pod); got != "node-7" {
			t.Errorf("targetNode = %q, want node-7", got)
		}
		if !matchesRequiredAffinity(pod.Spec.Affinity, testNode("node-7", nil)) || matchesRequiredAffinity(pod.Spec.Affinity, testNode("node-8", nil)) {
			t.Errorf("pinned affinity %+v does not select exactly node-7", pod.Spec.Affinity)
		}
		if pod.Spec.NodeName != "" || pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] != "h" {
			t.Errorf("pod nodeName %q, hash label %q", pod.Spec.NodeName, pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey])
		}
	}
	if n := len(own.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions); n != 1 {
		t.Errorf("template affinity modified")
	}
	if len(podFromTemplate(testDS(corev1.PodSpec{Affinity: own}), "h", "n").Spec.Affinity.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Errorf("preferred terms dropped")
	}
	bound := testPod("p", "node-3", "h", true)
	if got := targetNode(bound); got != "node-3" {
		t.Errorf("targetNode of a bound pod = %q, want node-3", got)
	}
}

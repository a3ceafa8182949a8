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

func TestRollingSurge(t *testing.T) {
	one := intstr.FromInt32(1)
	nodes := []*corev1.Node{testNode("a", nil), testNode("b", nil), testNode("c", nil)}
	tests := []struct {
		name       string
		pods       []*corev1.Pod
		wantCreate []string
		wantRemove []string
	}{
		{name: "one new pod beside an old one",
			pods:       []*corev1.Pod{testPod("a1", "a", "old", true), testPod("b1", "b", "old", true), testPod("c1", "c", "old", true)},
			wantCreate: []string{"a"}},
		{name: "surge in use: wait",
			pods: []*corev1.Pod{testPod("a1", "a", "old", true), testPod("a2", "a", "new", false), testPod("b1", "b", "old", true), testPod("c1", "c", "old", true)}},
		{name: "new pod available: old goes",
			pods:       []*corev1.Pod{testPod("a1", "a", "old", true), testPod("a2", "a", "new", true), testPod("b1", "b", "old", true)},
			wantRemove: []string{"a1"}, wantCreate: []string{"b"}},
		{name: "unavailable old pod: replaced at once",
			pods:       []*corev1.Pod{testPod("a1", "a", "old", true), testPod("a2", "a", "new", false), testPod("b1", "b", "old", false), testPod("c1", "c", "old", true)},
			wantCreate: []string{"b"}},
		{name: "done",
			pods: []*corev1.Pod{testPod("a1", "a", "new", true), testPod("b1", "b", "new", true), testPod("c1", "c", "new", true)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := testDS(corev1.PodSpec{})
			ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxSurge: &one}}
			states, _ := groupByNode(ds, nodes, tt.pods)
			create, remove := rollingSurge(ds, states, "new", time.Now(), maxSurge(ds, desiredNodes(states)))
			if !slices.Equal(create, tt.wantCreate) || !slices.Equal(names(remove), tt.wantRemove) {
				t.Errorf("create %v remove %v, want %v and %v", create, names(remove), tt.wantCreate, tt.wantRemove)
			}
		})
	}
}

func TestPlanWhileSurging(t *testing.T) {
	ds := testDS(corev1.PodSpec{})
	nodes := []*corev1.Node{testNode("a", nil), testNode("b", nil), testNode("c", nil)}
	older := func(p *corev1.Pod) *corev1.Pod {
		p.CreationTimestamp = metav1.NewTime(time.Unix(1, 0))
		return p
	}
	pods := []*corev1.Pod{
		older(testPod("a1", "a", "old", true)), testPod("a2", "a", "new", false), // surge under way: both stay
		older(testPod("b1", "b", "old", false)), testPod("b2", "b", "new", false), // old not ready: goes
		older(testPod("c1", "c", "old", true)), testPod("c2", "c", "new", true), testPod("c3", "c", "new", true), // new available: old goes, extra new goes
	}
	states, orphaned := groupByNode(ds, nodes, pods)
	create, remove := plan(states, orphaned, "new", nil, surging{on: true, now: time.Now()})
	if len(create) != 0 {
		t.Errorf("create = %v", create)
	}
	got := names(remove)
	slices.Sort(got)
	if want := []string{"b1", "c1", "c3"}; !slices.Equal(got, want) {
		t.Errorf("remove = %v, want %v", got, want)
	}
}

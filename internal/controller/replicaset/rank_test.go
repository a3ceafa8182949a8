package replicaset

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

// pod builds a pod for ranking: options set its fields.
func pod(name string, opts ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(t0)}}
	for _, o := range opts {
		o(p)
	}
	return p
}

func onNode(n string) func(*corev1.Pod) { return func(p *corev1.Pod) { p.Spec.NodeName = n } }
func phase(ph corev1.PodPhase) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Status.Phase = ph }
}
func readyAt(at time.Time) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{
			Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(at)})
	}
}
func createdAt(at time.Time) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(at) }
}
func restarts(n int32) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: "c", RestartCount: n})
	}
}
func cost(c string) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Annotations = map[string]string{deletionCostAnnotation: c} }
}

func TestComparePodValue(t *testing.T) {
	tests := []struct {
		name         string
		first, later *corev1.Pod // first is deleted before later
		rankF, rankL int
	}{
		{"unscheduled before scheduled", pod("a", readyAt(t0)), pod("b", onNode("n"), phase(corev1.PodPending)), 0, 0},
		{"pending before unknown", pod("a", onNode("n"), phase(corev1.PodPending)), pod("b", onNode("n"), phase(corev1.PodUnknown)), 0, 0},
		{"unknown before running", pod("a", onNode("n"), phase(corev1.PodUnknown)), pod("b", onNode("n"), phase(corev1.PodRunning)), 0, 0},
		{"no phase counts as pending", pod("a", onNode("n")), pod("b", onNode("n"), phase(corev1.PodUnknown)), 0, 0},
		{"not ready before ready", pod("a", onNode("n"), phase(corev1.PodRunning)), pod("b", onNode("n"), readyAt(t0)), 0, 0},
		{"lower deletion cost first", pod("a", onNode("n"), readyAt(t0), cost("-5")), pod("b", onNode("n"), readyAt(t0)), 0, 0},
		{"deletion cost beats doubling up", pod("a", onNode("n"), readyAt(t0), cost("1")), pod("b", onNode("n"), readyAt(t0), cost("2")), 1, 5},
		{"bad deletion cost is 0", pod("a", onNode("n"), readyAt(t0), cost("x")), pod("b", onNode("n"), readyAt(t0), cost("3")), 0, 0},
		{"doubled up first", pod("a", onNode("n"), readyAt(t0)), pod("b", onNode("m"), readyAt(t0)), 3, 1},
		{"ready for less time first", pod("a", onNode("n"), readyAt(t0.Add(time.Minute))), pod("b", onNode("n"), readyAt(t0)), 0, 0},
		{"more restarts first", pod("a", onNode("n"), readyAt(t0), restarts(4)), pod("b", onNode("n"), readyAt(t0), restarts(1)), 0, 0},
		{"newer first", pod("a", onNode("n"), readyAt(t0), createdAt(t0.Add(time.Second))), pod("b", onNode("n"), readyAt(t0)), 0, 0},
		{"no creation time first", pod("a", onNode("n"), createdAt(time.Time{})), pod("b", onNode("n")), 0, 0},
		{"phase beats readiness time", pod("a", onNode("n"), phase(corev1.PodPending), createdAt(t0.Add(-time.Hour))), pod("b", onNode("n"), readyAt(t0)), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := comparePodValue(tt.first, tt.later, tt.rankF, tt.rankL); got >= 0 {
				t.Errorf("compare(first, later) = %d, want < 0", got)
			}
			if got := comparePodValue(tt.later, tt.first, tt.rankL, tt.rankF); got <= 0 {
				t.Errorf("compare(later, first) = %d, want > 0", got)
			}
		})
	}
	if got := comparePodValue(pod("a"), pod("b"), 0, 0); got != 0 {
		t.Errorf("equal pods compare %d, want 0", got)
	}
}

func TestPodsToDelete(t *testing.T) {
	// On node n1 three related pods (two of ours and a sibling's), on n2
	// one: with everything else equal, n1's go first.
	a := pod("a", onNode("n1"), readyAt(t0))
	b := pod("b", onNode("n2"), readyAt(t0))
	c := pod("c", onNode("n1"), readyAt(t0))
	sibling := pod("s", onNode("n1"), readyAt(t0))
	unscheduled := pod("u")
	notReady := pod("nr", onNode("n2"), phase(corev1.PodRunning))
	ours := []*corev1.Pod{a, b, c, unscheduled, notReady}
	related := []*corev1.Pod{a, b, c, sibling, notReady}

	tests := []struct {
		n    int
		want []string
	}{
		{1, []string{"u"}},
		{2, []string{"u", "nr"}},
		{4, []string{"u", "nr", "a", "c"}},
		{5, []string{"a", "b", "c", "u", "nr"}}, // all: no ranking needed
		{9, []string{"a", "b", "c", "u", "nr"}},
	}
	for _, tt := range tests {
		got := names(podsToDelete(ours, related, tt.n))
		if !equalStrings(got, tt.want) {
			t.Errorf("podsToDelete(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
	if ours[0] != a || ours[3] != unscheduled {
		t.Error("podsToDelete reordered its input")
	}
}

func names(pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPodAvailable(t *testing.T) {
	tests := []struct {
		name     string
		pod      *corev1.Pod
		minReady time.Duration
		now      time.Time
		want     bool
	}{
		{"not ready", pod("a", phase(corev1.PodRunning)), 0, t0, false},
		{"ready, no minReady", pod("a", readyAt(t0)), 0, t0, true},
		{"ready too recently", pod("a", readyAt(t0)), 10 * time.Second, t0.Add(10 * time.Second), false},
		{"ready long enough", pod("a", readyAt(t0)), 10 * time.Second, t0.Add(11 * time.Second), true},
		{"ready with no time", pod("a", readyAt(time.Time{})), time.Second, t0, false},
	}
	for _, tt := range tests {
		if got := podAvailable(tt.pod, tt.minReady, tt.now); got != tt.want {
			t.Errorf("%s: podAvailable = %v, want %v", tt.name, got, tt.want)
		}
	}
}

package podgc

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestTerminatedToDelete(t *testing.T) {
	base := time.Unix(1_700_000_000, 0)
	pod := func(name string, age int, phase corev1.PodPhase, reason string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", CreationTimestamp: metav1.NewTime(base.Add(-time.Duration(age) * time.Minute))},
			Status:     corev1.PodStatus{Phase: phase, Reason: reason},
		}
	}
	pods := []*corev1.Pod{
		pod("running-old", 100, corev1.PodRunning, ""),
		pod("done-new", 1, corev1.PodSucceeded, ""),
		pod("failed-old", 50, corev1.PodFailed, ""),
		pod("done-mid", 10, corev1.PodSucceeded, ""),
		pod("evicted-new", 2, corev1.PodFailed, "Evicted"),
		pod("pending", 70, corev1.PodPending, ""),
	}
	tests := []struct {
		threshold int
		want      string
	}{
		{10, "[]"},
		{4, "[]"},
		{3, "[evicted-new]"},
		{2, "[evicted-new failed-old]"},
		{0, "[evicted-new failed-old done-mid done-new]"},
	}
	for _, tt := range tests {
		var names []string
		for _, p := range terminatedToDelete(pods, tt.threshold) {
			names = append(names, p.Name)
		}
		if got := fmt.Sprint(names); got != tt.want {
			t.Errorf("threshold %d: got %s, want %s", tt.threshold, got, tt.want)
		}
	}
}

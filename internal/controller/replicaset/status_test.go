package replicaset

import (
	"errors"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testRS(replicas, minReady int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "rs", Namespace: "ns", Generation: 4},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        &replicas,
			MinReadySeconds: minReady,
			Selector:        &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}},
			Template:        corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x", "v": "1"}}},
		},
	}
}

func labelled(l map[string]string) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Labels = l }
}

func TestCalculateStatus(t *testing.T) {
	full := map[string]string{"app": "x", "v": "1", "extra": "y"}
	partial := map[string]string{"app": "x"}
	now := t0.Add(time.Minute)
	pods := []*corev1.Pod{
		pod("a", labelled(full), readyAt(t0)),                    // ready, available
		pod("b", labelled(full), readyAt(now.Add(-time.Second))), // ready, not yet available
		pod("c", labelled(partial), phase(corev1.PodRunning)),    // not ready
	}
	st := calculateStatus(testRS(3, 10), pods, nil, now)
	if st.Replicas != 3 || st.FullyLabeledReplicas != 2 || st.ReadyReplicas != 2 || st.AvailableReplicas != 1 || st.ObservedGeneration != 4 {
		t.Errorf("status = %+v", st)
	}
	if len(st.Conditions) != 0 {
		t.Errorf("conditions = %+v, want none", st.Conditions)
	}
}

func TestCalculateStatusReplicaFailure(t *testing.T) {
	quota := errors.New("exceeded quota")
	tests := []struct {
		name       string
		replicas   int32
		pods       int
		err        error
		existing   bool
		wantReason string // "" for no condition
	}{
		{"create failed", 3, 1, quota, false, reasonFailedCreate},
		{"delete failed", 1, 2, quota, false, reasonFailedDelete},
		{"kept while failing", 3, 1, quota, true, "Old"},
		{"removed on success", 3, 3, nil, true, ""},
	}
	for _, tt := range tests {
		rs := testRS(tt.replicas, 0)
		if tt.existing {
			rs.Status.Conditions = []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: "Old"}}
		}
		var pods []*corev1.Pod
		for range tt.pods {
			pods = append(pods, pod("p"))
		}
		st := calculateStatus(rs, pods, tt.err, t0)
		c := findCondition(st.Conditions, appsv1.ReplicaSetReplicaFailure)
		switch {
		case tt.wantReason == "" && c != nil:
			t.Errorf("%s: condition %+v, want none", tt.name, c)
		case tt.wantReason != "" && (c == nil || c.Reason != tt.wantReason):
			t.Errorf("%s: condition %+v, want reason %s", tt.name, c, tt.wantReason)
		}
		if tt.existing && len(rs.Status.Conditions) != 1 {
			t.Errorf("%s: calculateStatus changed its input", tt.name)
		}
	}
}

func TestNextAvailable(t *testing.T) {
	now := t0.Add(3 * time.Second)
	pods := []*corev1.Pod{
		pod("a", readyAt(t0)),                   // available at t0+5s
		pod("b", readyAt(t0.Add(time.Second))),  // at t0+6s
		pod("c", phase(corev1.PodRunning)),      // never by itself
		pod("d", readyAt(t0.Add(-time.Minute))), // already available
	}
	d, ok := nextAvailable(testRS(4, 5), pods, now)
	if !ok || d < 2*time.Second || d > 2*time.Second+100*time.Millisecond {
		t.Errorf("nextAvailable = %v, %v; want just over 2s", d, ok)
	}
	if _, ok := nextAvailable(testRS(4, 0), pods, now); ok {
		t.Error("nextAvailable without minReadySeconds should report nothing")
	}
}

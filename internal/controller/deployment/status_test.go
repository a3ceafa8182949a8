package deployment

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func withDeadline(d *appsv1.Deployment, seconds int32) *appsv1.Deployment {
	d.Spec.ProgressDeadlineSeconds = &seconds
	return d
}

func progressing(reason string, status corev1.ConditionStatus, updated time.Time) appsv1.DeploymentCondition {
	return appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: status, Reason: reason,
		LastUpdateTime: metav1.NewTime(updated), LastTransitionTime: metav1.NewTime(updated)}
}

func TestCalculateStatus(t *testing.T) {
	d := deploy(4, "1", "1")
	d.Generation = 7
	newRS := rs("new", 3, 2, 9)
	newRS.Status.ReadyReplicas = 3
	old := rs("old", 2, 2, 0)
	st := calculateStatus([]*appsv1.ReplicaSet{old, newRS}, newRS, d, t0)
	if st.ObservedGeneration != 7 || st.Replicas != 5 || st.UpdatedReplicas != 3 || st.ReadyReplicas != 5 ||
		st.AvailableReplicas != 4 || st.UnavailableReplicas != 1 {
		t.Errorf("status %+v", st)
	}
	if c := getCondition(st, appsv1.DeploymentAvailable); c == nil || c.Status != corev1.ConditionTrue || c.Reason != reasonMinimumReplicasAvailable {
		t.Errorf("Available %+v, want True (4 available >= 4-1)", c)
	}
	newRS.Status.AvailableReplicas, old.Status.AvailableReplicas = 0, 2
	st = calculateStatus([]*appsv1.ReplicaSet{old, newRS, nil}, newRS, d, t0)
	if c := getCondition(st, appsv1.DeploymentAvailable); c == nil || c.Status != corev1.ConditionFalse || c.Reason != reasonMinimumReplicasUnavailable {
		t.Errorf("Available %+v, want False (2 available < 3)", c)
	}
}

// TestRolloutStatusProgress walks the Progressing condition through its
// decisions: each case gives the Deployment's current status, the
// ReplicaSets now and the time, and the condition wanted.
func TestRolloutStatusProgress(t *testing.T) {
	const deadline = 60
	now := t0.Add(time.Hour)
	tests := []struct {
		name       string
		current    *appsv1.DeploymentCondition
		oldStatus  appsv1.DeploymentStatus
		newRS, old *appsv1.ReplicaSet
		noDeadline bool
		wantReason string
		wantStatus corev1.ConditionStatus
		wantUpdate time.Time // lastUpdateTime wanted
	}{
		{name: "complete", current: new(progressing(reasonRSUpdated, corev1.ConditionTrue, now.Add(-time.Minute))),
			newRS: rs("new", 3, 3, 9), old: rs("old", 0, 0, 0),
			wantReason: reasonNewRSAvailable, wantStatus: corev1.ConditionTrue, wantUpdate: now},
		{name: "progress moves lastUpdateTime", current: new(progressing(reasonRSUpdated, corev1.ConditionTrue, now.Add(-time.Minute))),
			oldStatus: appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1},
			newRS:     rs("new", 2, 0, 9), old: rs("old", 2, 2, 0),
			wantReason: reasonRSUpdated, wantStatus: corev1.ConditionTrue, wantUpdate: now},
		{name: "no progress within the deadline: unchanged", current: new(progressing(reasonRSUpdated, corev1.ConditionTrue, now.Add(-30*time.Second))),
			oldStatus: appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2},
			newRS:     rs("new", 2, 0, 9), old: rs("old", 2, 2, 0),
			wantReason: reasonRSUpdated, wantStatus: corev1.ConditionTrue, wantUpdate: now.Add(-30 * time.Second)},
		{name: "no progress past the deadline: timed out", current: new(progressing(reasonRSUpdated, corev1.ConditionTrue, now.Add(-2*time.Minute))),
			oldStatus: appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2},
			newRS:     rs("new", 2, 0, 9), old: rs("old", 2, 2, 0),
			wantReason: reasonTimedOut, wantStatus: corev1.ConditionFalse, wantUpdate: now},
		{name: "a complete rollout is not re-evaluated", current: new(progressing(reasonNewRSAvailable, corev1.ConditionTrue, now.Add(-time.Hour))),
			oldStatus: appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3},
			newRS:     rs("new", 3, 1, 9), old: rs("old", 0, 0, 0),
			wantReason: reasonNewRSAvailable, wantStatus: corev1.ConditionTrue, wantUpdate: now.Add(-time.Hour)},
		{name: "resumed, then progress", current: new(progressing(reasonResumed, corev1.ConditionUnknown, now.Add(-time.Hour))),
			oldStatus: appsv1.DeploymentStatus{Replicas: 3},
			newRS:     rs("new", 1, 0, 9), old: rs("old", 3, 3, 0),
			wantReason: reasonRSUpdated, wantStatus: corev1.ConditionTrue, wantUpdate: now},
		{name: "no deadline: no condition", noDeadline: true, current: new(progressing(reasonRSUpdated, corev1.ConditionTrue, now)),
			newRS: rs("new", 3, 3, 9), old: rs("old", 0, 0, 0)},
	}
	for _, tt := range tests {
		d := withDeadline(deploy(3, "1", "1"), deadline)
		if tt.noDeadline {
			d.Spec.ProgressDeadlineSeconds = nil
		}
		d.Status = tt.oldStatus
		if tt.current != nil {
			d.Status.Conditions = []appsv1.DeploymentCondition{*tt.current}
		}
		st := rolloutStatus([]*appsv1.ReplicaSet{tt.old, tt.newRS}, tt.newRS, d, now)
		c := getCondition(st, appsv1.DeploymentProgressing)
		if tt.wantReason == "" {
			if c != nil {
				t.Errorf("%s: Progressing %+v, want none", tt.name, c)
			}
			continue
		}
		if c == nil || c.Reason != tt.wantReason || c.Status != tt.wantStatus || !c.LastUpdateTime.Time.Equal(tt.wantUpdate) {
			t.Errorf("%s: Progressing %+v, want %s/%s updated at %v", tt.name, c, tt.wantStatus, tt.wantReason, tt.wantUpdate)
		}
	}
}

func TestRolloutStatusReplicaFailure(t *testing.T) {
	d := withDeadline(deploy(3, "1", "1"), 600)
	newRS, old := rs("new", 3, 0, 9), rs("old", 0, 0, 0)
	old.Status.Conditions = []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedDelete"}}
	newRS.Status.Conditions = []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: "exceeded quota"}}
	st := rolloutStatus([]*appsv1.ReplicaSet{old, newRS}, newRS, d, t0)
	if c := getCondition(st, appsv1.DeploymentReplicaFailure); c == nil || c.Reason != "FailedCreate" || c.Message != "exceeded quota" {
		t.Errorf("ReplicaFailure %+v, want the new ReplicaSet's", c)
	}
	newRS.Status.Conditions, old.Status.Conditions = nil, nil
	d.Status = st
	st = rolloutStatus([]*appsv1.ReplicaSet{old, newRS}, newRS, d, t0)
	if c := getCondition(st, appsv1.DeploymentReplicaFailure); c != nil {
		t.Errorf("ReplicaFailure %+v kept after the ReplicaSets recovered", c)
	}
}

func TestProgressCheckAfter(t *testing.T) {
	now := t0.Add(time.Hour)
	d := withDeadline(deploy(3, "1", "1"), 600)
	d.Status.Conditions = []appsv1.DeploymentCondition{progressing(reasonRSUpdated, corev1.ConditionTrue, now.Add(-100*time.Second))}
	st := appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 1}
	if after, ok := progressCheckAfter(d, &st, now); !ok || after != 501*time.Second {
		t.Errorf("progressCheckAfter = %v, %v; want 501s", after, ok)
	}
	d.Status.Conditions[0].LastUpdateTime = metav1.NewTime(now.Add(-time.Hour))
	if after, ok := progressCheckAfter(d, &st, now); !ok || after != time.Second {
		t.Errorf("past the deadline: progressCheckAfter = %v, %v; want 1s", after, ok)
	}
	complete := appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3, ObservedGeneration: 1}
	if _, ok := progressCheckAfter(d, &complete, now); ok {
		t.Error("a complete rollout needs no check")
	}
	d.Status.Conditions[0].Reason = reasonTimedOut
	if _, ok := progressCheckAfter(d, &st, now); ok {
		t.Error("a timed-out rollout needs no check")
	}
}

func TestSetCondition(t *testing.T) {
	var st appsv1.DeploymentStatus
	setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionFalse, "A", "", t0))
	setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionFalse, "A", "", t0.Add(time.Hour)))
	if c := getCondition(st, appsv1.DeploymentAvailable); !c.LastUpdateTime.Time.Equal(t0) {
		t.Error("same status and reason should change nothing")
	}
	setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionFalse, "B", "", t0.Add(time.Hour)))
	if c := getCondition(st, appsv1.DeploymentAvailable); c.Reason != "B" || !c.LastTransitionTime.Time.Equal(t0) || !c.LastUpdateTime.Time.Equal(t0.Add(time.Hour)) {
		t.Errorf("same status, new reason: %+v; transition time should stay", c)
	}
	setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionTrue, "C", "", t0.Add(2*time.Hour)))
	if c := getCondition(st, appsv1.DeploymentAvailable); !c.LastTransitionTime.Time.Equal(t0.Add(2*time.Hour)) || len(st.Conditions) != 1 {
		t.Errorf("new status: %+v", st.Conditions)
	}
}

func TestOldPodsRunning(t *testing.T) {
	newRS, old := rs("new", 3, 0, 9), rs("old", 0, 0, 0)
	reporting := rs("reporting", 0, 0, 0)
	reporting.Status.Replicas = 1 // scaled to 0, pods not yet gone
	podOf := func(owner *appsv1.ReplicaSet, ph corev1.PodPhase) *corev1.Pod {
		p := &corev1.Pod{Status: corev1.PodStatus{Phase: ph}}
		p.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(owner, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))}
		return p
	}
	tests := []struct {
		name string
		olds []*appsv1.ReplicaSet
		pods []*corev1.Pod
		want bool
	}{
		{"none", []*appsv1.ReplicaSet{old}, nil, false},
		{"new pods only", []*appsv1.ReplicaSet{old}, []*corev1.Pod{podOf(newRS, corev1.PodRunning)}, false},
		{"old pod running", []*appsv1.ReplicaSet{old}, []*corev1.Pod{podOf(old, corev1.PodRunning)}, true},
		{"old pod pending", []*appsv1.ReplicaSet{old}, []*corev1.Pod{podOf(old, corev1.PodPending)}, true},
		{"old pods finished", []*appsv1.ReplicaSet{old}, []*corev1.Pod{podOf(old, corev1.PodSucceeded), podOf(old, corev1.PodFailed)}, false},
		{"old set still reports pods", []*appsv1.ReplicaSet{reporting}, nil, true},
	}
	for _, tt := range tests {
		if got := oldPodsRunning(newRS, tt.olds, tt.pods); got != tt.want {
			t.Errorf("%s: oldPodsRunning = %v, want %v", tt.name, got, tt.want)
		}
	}
}

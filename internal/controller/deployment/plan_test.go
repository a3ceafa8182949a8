package deployment

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

// deploy builds a rolling-update Deployment of n replicas with the given
// maxSurge and maxUnavailable ("" for the default 25%).
func deploy(n int32, surge, unavailable string) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "ns", UID: "d-uid", Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: &n,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:2"}}},
			},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{}},
		},
	}
	if surge != "" {
		v := intstr.Parse(surge)
		d.Spec.Strategy.RollingUpdate.MaxSurge = &v
	}
	if unavailable != "" {
		v := intstr.Parse(unavailable)
		d.Spec.Strategy.RollingUpdate.MaxUnavailable = &v
	}
	return d
}

func recreate(n int32) *appsv1.Deployment {
	d := deploy(n, "", "")
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	return d
}

// rs builds a ReplicaSet: spec replicas, available pods, created age
// minutes after t0; annotations as "key=value" pairs.
func rs(name string, replicas, available int32, age int, annotations ...string) *appsv1.ReplicaSet {
	r := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name),
			CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(age) * time.Minute)), Annotations: map[string]string{}},
		Spec:   appsv1.ReplicaSetSpec{Replicas: &replicas},
		Status: appsv1.ReplicaSetStatus{Replicas: replicas, ReadyReplicas: available, AvailableReplicas: available},
	}
	for i := 0; i+1 < len(annotations); i += 2 {
		r.Annotations[annotations[i]] = annotations[i+1]
	}
	return r
}

func TestResolveFenceposts(t *testing.T) {
	tests := []struct {
		surge, unavailable string
		desired            int32
		wantSurge, wantU   int32
	}{
		{"25%", "25%", 10, 3, 2}, // surge rounds up, unavailable down
		{"25%", "25%", 4, 1, 1},
		{"25%", "25%", 1, 1, 0},
		{"1", "1", 6, 1, 1},
		{"0", "0", 3, 0, 1},    // both zero: one may be unavailable
		{"0%", "10%", 5, 0, 1}, // 10% of 5 rounds down to 0, then 1
		{"50%", "0", 3, 2, 0},
		{"100%", "100%", 7, 7, 7},
		{"", "", 8, 0, 1}, // unset: zero, then the fencepost rule
		{"3", "30%", 0, 3, 0},
	}
	for _, tt := range tests {
		var s, u *intstr.IntOrString
		if tt.surge != "" {
			v := intstr.Parse(tt.surge)
			s = &v
		}
		if tt.unavailable != "" {
			v := intstr.Parse(tt.unavailable)
			u = &v
		}
		gotS, gotU, err := resolveFenceposts(s, u, tt.desired)
		if err != nil || gotS != tt.wantSurge || gotU != tt.wantU {
			t.Errorf("resolveFenceposts(%s, %s, %d) = %d, %d, %v; want %d, %d", tt.surge, tt.unavailable, tt.desired, gotS, gotU, err, tt.wantSurge, tt.wantU)
		}
	}
	bad := intstr.FromString("lots")
	if _, _, err := resolveFenceposts(&bad, nil, 3); err == nil {
		t.Error("resolveFenceposts accepted a malformed percentage")
	}
}

func TestMaxSurgeAndUnavailable(t *testing.T) {
	tests := []struct {
		name          string
		d             *appsv1.Deployment
		surge, unavbl int32
	}{
		{"defaults 25% of 10", deploy(10, "", ""), 3, 2},
		{"recreate", recreate(10), 0, 0},
		{"unavailable capped at replicas", deploy(2, "0", "5"), 0, 2},
		{"zero replicas", deploy(0, "1", "1"), 1, 0},
	}
	for _, tt := range tests {
		if s, u := maxSurge(tt.d), maxUnavailable(tt.d); s != tt.surge || u != tt.unavbl {
			t.Errorf("%s: maxSurge %d maxUnavailable %d, want %d %d", tt.name, s, u, tt.surge, tt.unavbl)
		}
	}
}

func TestNewRSReplicas(t *testing.T) {
	tests := []struct {
		name    string
		d       *appsv1.Deployment
		old     int32 // replicas of the one old ReplicaSet
		oldPods int32 // pods it still reports (status.replicas)
		cur     int32 // replicas of the new one
		want    int32
	}{
		{"start: one surge pod", deploy(6, "1", "1"), 6, 6, 0, 1},
		{"at the surge limit", deploy(6, "1", "1"), 5, 5, 2, 2},
		{"room after scale-down", deploy(6, "1", "1"), 4, 4, 2, 3},
		{"old set still has the pod it is deleting", deploy(6, "1", "1"), 5, 6, 1, 1},
		{"never beyond replicas", deploy(6, "3", "1"), 0, 0, 5, 6},
		{"25% of 10 surges 3", deploy(10, "", ""), 10, 10, 0, 3},
		{"recreate takes all", recreate(4), 0, 0, 0, 4},
	}
	for _, tt := range tests {
		newRS := rs("new", tt.cur, 0, 1)
		old := rs("old", tt.old, tt.old, 0)
		old.Status.Replicas = tt.oldPods
		got, err := newRSReplicas(tt.d, []*appsv1.ReplicaSet{old, newRS}, newRS)
		if err != nil || got != tt.want {
			t.Errorf("%s: newRSReplicas = %d, %v; want %d", tt.name, got, err, tt.want)
		}
	}
}

// sizes renders resizes as "name:to" for comparison.
func sizes(steps []resize) string {
	s := ""
	for _, r := range steps {
		s += fmt.Sprintf("%s:%d ", r.rs.Name, r.to)
	}
	return s
}

func TestPlanOldScaleDown(t *testing.T) {
	tests := []struct {
		name string
		d    *appsv1.Deployment
		newR *appsv1.ReplicaSet
		olds []*appsv1.ReplicaSet
		want string
	}{
		{"surge pod not ready: one old may go (maxUnavailable 1)",
			deploy(6, "1", "1"), rs("new", 1, 0, 9), []*appsv1.ReplicaSet{rs("old", 6, 6, 0)}, "old:5 "},
		{"availability at the floor: nothing",
			deploy(6, "1", "1"), rs("new", 2, 0, 9), []*appsv1.ReplicaSet{rs("old", 5, 5, 0)}, ""},
		{"a new pod became available: one more old goes",
			deploy(6, "1", "1"), rs("new", 2, 1, 9), []*appsv1.ReplicaSet{rs("old", 5, 5, 0)}, "old:4 "},
		{"stale status after a scale-down counts only the spec",
			deploy(6, "1", "1"), rs("new", 2, 1, 9), []*appsv1.ReplicaSet{rs("old", 4, 5, 0)}, ""},
		{"unhealthy old pods go first, oldest first",
			deploy(6, "1", "1"), rs("new", 1, 0, 9), []*appsv1.ReplicaSet{rs("b", 3, 3, 2), rs("a", 3, 1, 1)}, "a:2 "},
		{"unavailable old pods cleaned beyond the availability floor",
			deploy(4, "0", "1"), rs("new", 0, 0, 9), []*appsv1.ReplicaSet{rs("a", 4, 2, 1)}, "a:3 "},
		{"scale-down spreads over old sets oldest first",
			deploy(10, "0", "5"), rs("new", 0, 0, 9), []*appsv1.ReplicaSet{rs("b", 5, 5, 2), rs("a", 5, 5, 1)}, "a:0 "},
		{"no old pods: nothing",
			deploy(3, "1", "1"), rs("new", 3, 3, 9), nil, ""},
	}
	for _, tt := range tests {
		if got := sizes(planOldScaleDown(tt.d, tt.newR, tt.olds)); got != tt.want {
			t.Errorf("%s: planOldScaleDown = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestPlanScale(t *testing.T) {
	ann := func(desired, max int32) []string {
		return []string{annotationDesiredReplicas, strconv.Itoa(int(desired)), annotationMaxReplicas, strconv.Itoa(int(max))}
	}
	tests := []struct {
		name string
		d    *appsv1.Deployment
		newR *appsv1.ReplicaSet
		olds []*appsv1.ReplicaSet
		want string
	}{
		{"one active set takes the new size",
			deploy(5, "1", "1"), rs("new", 3, 3, 9, ann(3, 4)...), []*appsv1.ReplicaSet{rs("old", 0, 0, 0)}, "new:5 "},
		{"already that size: nothing",
			deploy(3, "1", "1"), rs("new", 3, 3, 9), nil, ""},
		{"none active: the newest old set grows (paused, template changed)",
			deploy(2, "1", "1"), nil, []*appsv1.ReplicaSet{rs("a", 0, 0, 0), rs("b", 0, 0, 5)}, "b:2 "},
		{"saturated new set: old ones to zero",
			deploy(4, "1", "1"), rs("new", 4, 4, 9, ann(4, 5)...), []*appsv1.ReplicaSet{rs("old", 1, 1, 0)}, "old:0 "},
		// Upstream's example: 10 replicas, surge 3, mid-rollout 8 old + 5 new
		// (13 = 10+3), scaled to 15 (max 18): +5 split 8:5 → +3 old, +2 new.
		{"proportional scale-up mid-rollout",
			deploy(15, "3", "2"), rs("new", 5, 0, 9, ann(10, 13)...), []*appsv1.ReplicaSet{rs("old", 8, 8, 0, ann(10, 13)...)}, "old:11 new:7 "},
		{"proportional scale-down mid-rollout",
			deploy(5, "3", "2"), rs("new", 5, 0, 9, ann(10, 13)...), []*appsv1.ReplicaSet{rs("old", 8, 8, 0, ann(10, 13)...)}, "old:5 new:3 "},
		{"equal sizes grow the newer first",
			deploy(5, "1", "1"), rs("new", 2, 0, 9, ann(3, 4)...), []*appsv1.ReplicaSet{rs("old", 2, 2, 0, ann(3, 4)...)}, "new:3 old:3 "},
		{"scaled to zero: everything to zero",
			deploy(0, "1", "1"), rs("new", 2, 0, 9, ann(3, 4)...), []*appsv1.ReplicaSet{rs("old", 2, 2, 0, ann(3, 4)...)}, "old:0 new:0 "},
		{"recreate with two active sets: nothing",
			recreate(5), rs("new", 2, 0, 9), []*appsv1.ReplicaSet{rs("old", 2, 2, 0)}, ""},
	}
	for _, tt := range tests {
		if got := sizes(planScale(tt.d, tt.newR, tt.olds)); got != tt.want {
			t.Errorf("%s: planScale = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestIsScalingEvent(t *testing.T) {
	d := deploy(5, "1", "1")
	if isScalingEvent(d, rs("new", 5, 5, 9, annotationDesiredReplicas, "5"), nil) {
		t.Error("same size reported as scaling")
	}
	if !isScalingEvent(d, rs("new", 3, 3, 9, annotationDesiredReplicas, "3"), nil) {
		t.Error("changed size not reported")
	}
	if isScalingEvent(d, rs("new", 0, 0, 9, annotationDesiredReplicas, "3"), nil) {
		t.Error("an inactive set counted")
	}
	if isScalingEvent(d, rs("new", 3, 3, 9), nil) {
		t.Error("a set without the annotation counted")
	}
}

func TestCleanupCandidates(t *testing.T) {
	withRev := func(r *appsv1.ReplicaSet, rev int) *appsv1.ReplicaSet {
		r.Annotations[annotationRevision] = strconv.Itoa(rev)
		return r
	}
	busy := withRev(rs("busy", 1, 1, 0), 1)
	unsettled := withRev(rs("unsettled", 0, 0, 0), 2)
	unsettled.Generation = 3
	deleting := withRev(rs("deleting", 0, 0, 0), 3)
	deleting.DeletionTimestamp = &metav1.Time{Time: t0}
	olds := []*appsv1.ReplicaSet{
		withRev(rs("r5", 0, 0, 0), 5), withRev(rs("r4", 0, 0, 0), 4), busy, unsettled, deleting,
	}
	tests := []struct {
		limit int32
		want  string
	}{
		{10, ""},
		{4, ""},       // 4 alive (deleting excluded)
		{2, ""},       // lowest two: busy and unsettled, both kept
		{1, "r4 "},    // three lowest: busy, unsettled, r4
		{0, "r4 r5 "}, // all
	}
	for _, tt := range tests {
		got := ""
		for _, r := range cleanupCandidates(olds, tt.limit) {
			got += r.Name + " "
		}
		if got != tt.want {
			t.Errorf("limit %d: cleanupCandidates = %q, want %q", tt.limit, got, tt.want)
		}
	}
}

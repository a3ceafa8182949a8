package nodelifecycle

import (
	"slices"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Unix(1_700_000_000, 0)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func readyNode(status corev1.ConditionStatus, heartbeat time.Time) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n", CreationTimestamp: metav1.NewTime(at(-1000))},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: status, LastHeartbeatTime: metav1.NewTime(heartbeat)},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
		}},
	}
}

func leaseAt(renew time.Time) *coordinationv1.Lease {
	r := metav1.NewMicroTime(renew)
	return &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{RenewTime: &r}}
}

func TestObserve(t *testing.T) {
	tests := []struct {
		name  string
		prev  *health
		node  *corev1.Node
		lease *coordinationv1.Lease
		want  health
	}{
		{"first look: grace from now", nil, readyNode(corev1.ConditionTrue, at(-500)), nil, health{heartbeat: at(-500), probed: at(0)}},
		{"never reported: grace from creation", nil, &corev1.Node{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(at(-30))}}, nil, health{probed: at(-30)}},
		{"lease newer than status", nil, readyNode(corev1.ConditionTrue, at(-500)), leaseAt(at(-2)), health{heartbeat: at(-2), probed: at(0)}},
		{"no change keeps probe time", &health{heartbeat: at(-2), probed: at(-10)}, readyNode(corev1.ConditionTrue, at(-500)), leaseAt(at(-2)), health{heartbeat: at(-2), probed: at(-10)}},
		{"renewal moves probe time, whatever the kubelet's clock", &health{heartbeat: at(-2), probed: at(-10)}, readyNode(corev1.ConditionTrue, at(-500)), leaseAt(at(-900)), health{heartbeat: at(-500), probed: at(0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := observe(tt.prev, tt.node, tt.lease, at(0)); got != tt.want {
				t.Errorf("observe = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSilentConditions(t *testing.T) {
	const grace = 40 * time.Second
	type cond struct {
		t      corev1.NodeConditionType
		status corev1.ConditionStatus
		reason string
	}
	tests := []struct {
		name string
		node *corev1.Node
		h    health
		want []cond // nil: no change
	}{
		{"within grace", readyNode(corev1.ConditionTrue, at(-30)), health{probed: at(-40)}, nil},
		{"silent", readyNode(corev1.ConditionTrue, at(-30)), health{probed: at(-41)}, []cond{
			{corev1.NodeReady, corev1.ConditionUnknown, reasonUnknown},
			{corev1.NodeMemoryPressure, corev1.ConditionUnknown, reasonUnknown},
			{corev1.NodeDiskPressure, corev1.ConditionUnknown, reasonNeverUpdated},
			{corev1.NodePIDPressure, corev1.ConditionUnknown, reasonNeverUpdated},
		}},
		{"already unknown", &corev1.Node{Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionUnknown}, {Type: corev1.NodeMemoryPressure, Status: corev1.ConditionUnknown},
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionUnknown}, {Type: corev1.NodePIDPressure, Status: corev1.ConditionUnknown},
		}}}, health{probed: at(-100)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.node.DeepCopy()
			conds := silentConditions(tt.node, tt.h, at(0), grace)
			var got []cond
			for _, c := range conds {
				got = append(got, cond{c.Type, c.Status, c.Reason})
				if c.Status == corev1.ConditionUnknown && !c.LastTransitionTime.Time.Equal(at(0)) {
					t.Errorf("%s lastTransitionTime %v, want %v", c.Type, c.LastTransitionTime, at(0))
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("conditions %v, want %v", got, tt.want)
			}
			if tt.node.Status.Conditions[0].Status != before.Status.Conditions[0].Status {
				t.Error("input node was mutated")
			}
		})
	}
}

func TestWantTaints(t *testing.T) {
	added := metav1.NewTime(at(-60))
	other := corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}
	unreachable := corev1.Taint{Key: TaintUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &added}
	unreachableNoSchedule := corev1.Taint{Key: TaintUnreachable, Effect: corev1.TaintEffectNoSchedule, TimeAdded: &added}
	tests := []struct {
		name    string
		ready   corev1.ConditionStatus // "" for no Ready condition
		taints  []corev1.Taint
		want    []string
		changed bool
	}{
		{"ready, untainted", corev1.ConditionTrue, []corev1.Taint{other}, []string{"dedicated"}, false},
		{"no condition yet", "", nil, nil, false},
		{"unknown gets unreachable", corev1.ConditionUnknown, []corev1.Taint{other}, []string{"dedicated", TaintUnreachable, TaintUnreachable}, true},
		{"unknown keeps unreachable", corev1.ConditionUnknown, []corev1.Taint{unreachable, unreachableNoSchedule}, []string{TaintUnreachable, TaintUnreachable}, false},
		{"false swaps to not-ready", corev1.ConditionFalse, []corev1.Taint{unreachable, other}, []string{"dedicated", TaintNotReady, TaintNotReady}, true},
		{"ready again drops it", corev1.ConditionTrue, []corev1.Taint{other, unreachable}, []string{"dedicated"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := &corev1.Node{Spec: corev1.NodeSpec{Taints: tt.taints}}
			if tt.ready != "" {
				node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: tt.ready}}
			}
			taints, changed := wantTaints(node, at(0))
			var got []string
			for _, tn := range taints {
				got = append(got, tn.Key)
				if tn.Key == TaintUnreachable && tt.changed && !tn.TimeAdded.Time.Equal(at(0)) && len(tt.taints) == 1 {
					t.Errorf("timeAdded %v", tn.TimeAdded)
				}
			}
			if !slices.Equal(got, tt.want) || changed != tt.changed {
				t.Errorf("taints %v changed %v, want %v %v", got, changed, tt.want, tt.changed)
			}
			for _, tn := range taints {
				if tn.Key == TaintUnreachable && !tt.changed && !tn.TimeAdded.Equal(&added) {
					t.Errorf("kept taint lost its timeAdded: %v", tn.TimeAdded)
				}
			}
		})
	}
}

func TestConditionTaints(t *testing.T) {
	node := &corev1.Node{
		Spec: corev1.NodeSpec{Unschedulable: true},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue},
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionTrue},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
		}},
	}
	taints, changed := wantTaints(node, at(0))
	var got []string
	for _, tn := range taints {
		got = append(got, tn.Key+":"+string(tn.Effect))
	}
	want := []string{corev1.TaintNodeDiskPressure + ":NoSchedule", corev1.TaintNodeUnschedulable + ":NoSchedule"}
	if !changed || !slices.Equal(got, want) {
		t.Errorf("taints %v changed %v, want %v", got, changed, want)
	}
	// Once the conditions clear, they go.
	node.Spec.Taints, node.Spec.Unschedulable = taints, false
	node.Status.Conditions[1].Status = corev1.ConditionFalse
	if taints, changed := wantTaints(node, at(1)); !changed || len(taints) != 0 {
		t.Errorf("after the conditions cleared: %v changed %v", taints, changed)
	}
}

func TestEvictions(t *testing.T) {
	secs := func(s int64) *int64 { return &s }
	pod := func(name string, tols ...corev1.Toleration) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{Tolerations: tols}}
	}
	tolerate := func(key string, s *int64) corev1.Toleration {
		return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: s}
	}
	addedAt := func(s int) *metav1.Time { t := metav1.NewTime(at(s)); return &t }
	unreachable := corev1.Taint{Key: TaintUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: addedAt(-10)}
	custom := corev1.Taint{Key: "maintenance", Value: "now", Effect: corev1.TaintEffectNoExecute}
	noSchedule := corev1.Taint{Key: "maintenance", Effect: corev1.TaintEffectNoSchedule}
	terminating := pod("terminating")
	terminating.DeletionTimestamp = addedAt(-1)

	tests := []struct {
		name      string
		pods      []*corev1.Pod
		taints    []corev1.Taint
		defaults  int64
		wantNow   []string
		wantAfter time.Duration
	}{
		{"no NoExecute taints", []*corev1.Pod{pod("a")}, []corev1.Taint{noSchedule}, 300, nil, 0},
		{"default toleration pending", []*corev1.Pod{pod("a")}, []corev1.Taint{unreachable}, 300, nil, 290 * time.Second},
		{"default toleration over", []*corev1.Pod{pod("a")}, []corev1.Taint{unreachable}, 5, []string{"a"}, 0},
		{"own toleration wins over default", []*corev1.Pod{pod("a", tolerate(TaintUnreachable, secs(30)))}, []corev1.Taint{unreachable}, 1, nil, 20 * time.Second},
		{"tolerated forever", []*corev1.Pod{pod("a", corev1.Toleration{Operator: corev1.TolerationOpExists})}, []corev1.Taint{unreachable, custom}, 1, nil, 0},
		{"zero seconds is now", []*corev1.Pod{pod("a", tolerate(TaintUnreachable, secs(0)))}, []corev1.Taint{unreachable}, 300, []string{"a"}, 0},
		{"untolerated custom taint is now", []*corev1.Pod{pod("a"), pod("b", corev1.Toleration{Key: "maintenance", Operator: corev1.TolerationOpEqual, Value: "now"})},
			[]corev1.Taint{custom}, 300, []string{"a"}, 0},
		{"wrong value does not tolerate", []*corev1.Pod{pod("a", corev1.Toleration{Key: "maintenance", Value: "later"})}, []corev1.Taint{custom}, 300, []string{"a"}, 0},
		{"taint without timeAdded counts from since", []*corev1.Pod{pod("a", tolerate("maintenance", secs(60)))}, []corev1.Taint{custom}, 300, nil, 40 * time.Second},
		{"shortest wait wins", []*corev1.Pod{pod("a", tolerate(TaintUnreachable, secs(100))), pod("b", tolerate(TaintUnreachable, secs(50)))},
			[]corev1.Taint{unreachable}, 300, nil, 40 * time.Second},
		{"terminating pods left alone", []*corev1.Pod{terminating}, []corev1.Taint{unreachable}, 0, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := evictions(tt.pods, tt.taints, at(-20), at(0), tt.defaults)
			var got []string
			for _, p := range ev.now {
				got = append(got, p.Name)
			}
			if !slices.Equal(got, tt.wantNow) || ev.after != tt.wantAfter {
				t.Errorf("evict %v after %v, want %v after %v", got, ev.after, tt.wantNow, tt.wantAfter)
			}
		})
	}
}

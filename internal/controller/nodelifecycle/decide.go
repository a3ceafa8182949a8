package nodelifecycle

import (
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The decision core: pure functions of their inputs, no I/O, no clock.

const (
	// TaintUnreachable is put on a node whose kubelet stopped reporting.
	TaintUnreachable = "node.kubernetes.io/unreachable"
	// TaintNotReady is put on a node whose kubelet reports Ready=False.
	TaintNotReady = "node.kubernetes.io/not-ready"

	reasonUnknown      = "NodeStatusUnknown"
	messageUnknown     = "Kubelet stopped posting node status."
	reasonNeverUpdated = "NodeStatusNeverUpdated"
	messageNeverUpdate = "Kubelet never posted node status."
)

// monitoredConditions are set to Unknown when the kubelet goes silent.
var monitoredConditions = [...]corev1.NodeConditionType{
	corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure,
}

// health is what the controller remembers of a node between looks: the
// last heartbeat the kubelet reported and when this controller saw it
// change, by its own clock, so the kubelet's clock does not matter.
type health struct {
	heartbeat time.Time // latest of lease renewTime and Ready lastHeartbeatTime
	probed    time.Time // local time heartbeat was last seen to change
}

// observe returns the node's health after a look at now. A node seen for
// the first time gets a full grace period from now, unless it never
// reported at all, in which case the grace period runs from its creation.
func observe(prev *health, node *corev1.Node, lease *coordinationv1.Lease, now time.Time) health {
	var hb time.Time
	if c := condition(node.Status.Conditions, corev1.NodeReady); c != nil {
		hb = c.LastHeartbeatTime.Time
	}
	if lease != nil && lease.Spec.RenewTime != nil && lease.Spec.RenewTime.After(hb) {
		hb = lease.Spec.RenewTime.Time
	}
	switch {
	case prev == nil && hb.IsZero():
		return health{probed: node.CreationTimestamp.Time}
	case prev == nil || !hb.Equal(prev.heartbeat):
		return health{heartbeat: hb, probed: now}
	}
	return *prev
}

// silentConditions returns the node's conditions as they must be once the
// kubelet has been silent for longer than grace: the monitored ones
// Unknown. It returns nil when nothing needs to change.
func silentConditions(node *corev1.Node, h health, now time.Time, grace time.Duration) []corev1.NodeCondition {
	if now.Sub(h.probed) <= grace {
		return nil
	}
	conds := make([]corev1.NodeCondition, len(node.Status.Conditions))
	copy(conds, node.Status.Conditions)
	changed := false
	for _, t := range monitoredConditions {
		c := condition(conds, t)
		if c == nil {
			conds = append(conds, corev1.NodeCondition{
				Type: t, Status: corev1.ConditionUnknown, Reason: reasonNeverUpdated, Message: messageNeverUpdate,
				LastHeartbeatTime: metav1.NewTime(h.probed), LastTransitionTime: metav1.NewTime(now),
			})
			changed = true
			continue
		}
		if c.Status == corev1.ConditionUnknown {
			continue
		}
		c.Status, c.Reason, c.Message = corev1.ConditionUnknown, reasonUnknown, messageUnknown
		c.LastTransitionTime = metav1.NewTime(now)
		changed = true
	}
	if !changed {
		return nil
	}
	return conds
}

// wantTaints returns the node's taints as its Ready condition asks:
// unreachable:NoExecute while Unknown, not-ready:NoExecute
// while False, neither while True. Taints kept keep their timeAdded; new
// ones get now. ok is false when nothing needs to change.
func wantTaints(node *corev1.Node, now time.Time) (taints []corev1.Taint, ok bool) {
	type keyEffect struct {
		key    string
		effect corev1.TaintEffect
	}
	want := map[keyEffect]bool{}
	if c := condition(node.Status.Conditions, corev1.NodeReady); c != nil {
		switch c.Status {
		case corev1.ConditionUnknown:
			want[keyEffect{TaintUnreachable, corev1.TaintEffectNoExecute}] = true
			want[keyEffect{TaintUnreachable, corev1.TaintEffectNoSchedule}] = true
		case corev1.ConditionFalse:
			want[keyEffect{TaintNotReady, corev1.TaintEffectNoExecute}] = true
			want[keyEffect{TaintNotReady, corev1.TaintEffectNoSchedule}] = true
		}
	}
	// The NoSchedule taints upstream's scheduler relies on instead of
	// reading node conditions itself.
	for cond, key := range conditionTaints {
		if c := condition(node.Status.Conditions, cond); c != nil && c.Status == corev1.ConditionTrue {
			want[keyEffect{key, corev1.TaintEffectNoSchedule}] = true
		}
	}
	if node.Spec.Unschedulable {
		want[keyEffect{corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule}] = true
	}
	managed := func(k keyEffect) bool {
		switch k.key {
		case TaintUnreachable, TaintNotReady:
			return k.effect == corev1.TaintEffectNoExecute || k.effect == corev1.TaintEffectNoSchedule
		case corev1.TaintNodeUnschedulable:
			return k.effect == corev1.TaintEffectNoSchedule
		}
		for _, key := range conditionTaints {
			if k.key == key && k.effect == corev1.TaintEffectNoSchedule {
				return true
			}
		}
		return false
	}
	has := map[keyEffect]bool{}
	for _, t := range node.Spec.Taints {
		k := keyEffect{t.Key, t.Effect}
		switch {
		case managed(k) && want[k]:
			has[k] = true
			taints = append(taints, t)
		case managed(k):
			ok = true // dropped
		default:
			taints = append(taints, t)
		}
	}
	// Add the missing ones in a stable order.
	for _, k := range []keyEffect{
		{TaintUnreachable, corev1.TaintEffectNoExecute}, {TaintNotReady, corev1.TaintEffectNoExecute},
		{TaintUnreachable, corev1.TaintEffectNoSchedule}, {TaintNotReady, corev1.TaintEffectNoSchedule},
		{corev1.TaintNodeMemoryPressure, corev1.TaintEffectNoSchedule}, {corev1.TaintNodeDiskPressure, corev1.TaintEffectNoSchedule},
		{corev1.TaintNodePIDPressure, corev1.TaintEffectNoSchedule}, {corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule},
		{corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule},
	} {
		if want[k] && !has[k] {
			added := metav1.NewTime(now)
			taints = append(taints, corev1.Taint{Key: k.key, Effect: k.effect, TimeAdded: &added})
			ok = true
		}
	}
	return taints, ok
}

// conditionTaints maps node conditions to the NoSchedule taints they add.
var conditionTaints = map[corev1.NodeConditionType]string{
	corev1.NodeMemoryPressure:     corev1.TaintNodeMemoryPressure,
	corev1.NodeDiskPressure:       corev1.TaintNodeDiskPressure,
	corev1.NodePIDPressure:        corev1.TaintNodePIDPressure,
	corev1.NodeNetworkUnavailable: corev1.TaintNodeNetworkUnavailable,
}

// eviction is the verdict on the pods of a NoExecute-tainted node.
type eviction struct {
	now   []*corev1.Pod // to delete at once
	after time.Duration // when to look again for the others; 0: no need
}

// evictions decides which pods on a node with taints must go. A pod that
// does not tolerate every NoExecute taint goes at once; one that
// tolerates them all for a while goes when the shortest while, counted
// from when the taint was added (or from since, if it does not say), is
// over. Pods without a toleration for not-ready or unreachable are
// treated as tolerating them for defaultSeconds, as upstream's
// DefaultTolerationSeconds admission would have made them.
func evictions(pods []*corev1.Pod, taints []corev1.Taint, since, now time.Time, defaultSeconds int64) eviction {
	var noExec []corev1.Taint
	for _, t := range taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			noExec = append(noExec, t)
		}
	}
	var ev eviction
	if len(noExec) == 0 {
		return ev
	}
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		tols := withDefaultTolerations(pod.Spec.Tolerations, defaultSeconds)
		var deadline time.Time // zero: tolerated forever
		evictNow := false
		for _, taint := range noExec {
			secs, tolerated := toleratedFor(tols, &taint)
			if !tolerated {
				evictNow = true
				break
			}
			if secs == nil {
				continue
			}
			start := since
			if taint.TimeAdded != nil {
				start = taint.TimeAdded.Time
			}
			d := start.Add(time.Duration(max(*secs, 0)) * time.Second)
			if deadline.IsZero() || d.Before(deadline) {
				deadline = d
			}
		}
		switch {
		case evictNow || (!deadline.IsZero() && !deadline.After(now)):
			ev.now = append(ev.now, pod)
		case !deadline.IsZero():
			if wait := deadline.Sub(now); ev.after == 0 || wait < ev.after {
				ev.after = wait
			}
		}
	}
	return ev
}

// toleratedFor reports whether tols tolerate taint and, if so, for how
// many seconds at most: the least tolerationSeconds among the tolerations
// that match, or nil (forever) if none of them sets one, as upstream.
func toleratedFor(tols []corev1.Toleration, taint *corev1.Taint) (*int64, bool) {
	var secs *int64
	tolerated := false
	for i := range tols {
		t := &tols[i]
		if !tolerates(t, taint) {
			continue
		}
		tolerated = true
		if t.TolerationSeconds != nil && (secs == nil || *t.TolerationSeconds < *secs) {
			secs = t.TolerationSeconds
		}
	}
	return secs, tolerated
}

// tolerates reports whether t matches taint: same effect (or any), same
// key (or any with Exists), and same value unless the operator is Exists.
func tolerates(t *corev1.Toleration, taint *corev1.Taint) bool {
	if t.Effect != "" && t.Effect != taint.Effect {
		return false
	}
	if t.Key != "" && t.Key != taint.Key {
		return false
	}
	switch t.Operator {
	case corev1.TolerationOpExists:
		return true
	case corev1.TolerationOpEqual, "":
		return t.Key != "" && t.Value == taint.Value
	}
	return false
}

// withDefaultTolerations adds, as the DefaultTolerationSeconds admission
// plugin does, a toleration of seconds for not-ready and unreachable to
// tolerations that have none for them.
func withDefaultTolerations(tols []corev1.Toleration, seconds int64) []corev1.Toleration {
	out := tols
	for _, key := range [...]string{TaintNotReady, TaintUnreachable} {
		covered := false
		for _, t := range tols {
			if (t.Key == key || t.Key == "") && (t.Effect == corev1.TaintEffectNoExecute || t.Effect == "") {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out[:len(out):len(out)], corev1.Toleration{
				Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &seconds,
			})
		}
	}
	return out
}

// condition returns the condition of type t in conds, or nil.
func condition(conds []corev1.NodeCondition, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

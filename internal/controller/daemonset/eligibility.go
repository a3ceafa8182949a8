package daemonset

import (
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// defaultTolerations are added to every daemon pod, as upstream does: a
// daemon keeps running on a node that is not ready, unreachable, under
// resource pressure or cordoned. Pods with hostNetwork also tolerate
// node.kubernetes.io/network-unavailable (they bring the network up).
func defaultTolerations(hostNetwork bool) []corev1.Toleration {
	ts := []corev1.Toleration{
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	}
	if hostNetwork {
		ts = append(ts, corev1.Toleration{Key: corev1.TaintNodeNetworkUnavailable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
	}
	return ts
}

// withDefaultTolerations returns tolerations plus the default ones it does
// not already contain.
func withDefaultTolerations(tolerations []corev1.Toleration, hostNetwork bool) []corev1.Toleration {
	out := slices.Clone(tolerations)
	for _, d := range defaultTolerations(hostNetwork) {
		if !slices.ContainsFunc(out, func(t corev1.Toleration) bool {
			return t.Key == d.Key && t.Effect == d.Effect && t.Operator == d.Operator && t.Value == d.Value
		}) {
			out = append(out, d)
		}
	}
	return out
}

// placement says what a DaemonSet wants on one node.
type placement struct {
	// shouldRun: a new daemon pod may be placed on the node.
	shouldRun bool
	// shouldContinueRunning: a daemon pod already there may stay; a
	// NoSchedule taint added later does not evict it, a NoExecute one does.
	shouldContinueRunning bool
}

// nodePlacement decides whether ds's pods belong on node: its node
// selector, required node affinity, and the node's NoSchedule and
// NoExecute taints against the template's tolerations plus the default
// ones. A node being deleted gets nothing.
func nodePlacement(ds *appsv1.DaemonSet, node *corev1.Node) placement {
	if node.DeletionTimestamp != nil {
		return placement{}
	}
	spec := &ds.Spec.Template.Spec
	if !matchesNodeSelector(spec.NodeSelector, node) || !matchesRequiredAffinity(spec.Affinity, node) {
		return placement{}
	}
	tolerations := withDefaultTolerations(spec.Tolerations, spec.HostNetwork)
	p := placement{shouldRun: true, shouldContinueRunning: true}
	for i := range node.Spec.Taints {
		t := &node.Spec.Taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if tolerated(tolerations, t) {
			continue
		}
		p.shouldRun = false
		if t.Effect == corev1.TaintEffectNoExecute {
			p.shouldContinueRunning = false
		}
	}
	return p
}

func tolerated(tolerations []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range tolerations {
		if tolerates(&tolerations[i], taint) {
			return true
		}
	}
	return false
}

// tolerates is the upstream matching rule: effects equal (or the
// toleration's empty), keys equal (or the toleration's empty with Exists),
// and Exists, or Equal (the default) with equal values.
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
	case "", corev1.TolerationOpEqual:
		return t.Value == taint.Value
	default:
		return false
	}
}

func matchesNodeSelector(sel map[string]string, node *corev1.Node) bool {
	if len(sel) == 0 {
		return true
	}
	return labels.SelectorFromSet(sel).Matches(labels.Set(node.Labels))
}

// matchesRequiredAffinity reports whether node satisfies one of the
// required node selector terms (terms are ORed, requirements ANDed; a
// term with no requirements matches nothing, as upstream).
func matchesRequiredAffinity(a *corev1.Affinity, node *corev1.Node) bool {
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return true
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		if matchesTerm(&term, node) {
			return true
		}
	}
	return false
}

func matchesTerm(term *corev1.NodeSelectorTerm, node *corev1.Node) bool {
	if len(term.MatchExpressions) == 0 && len(term.MatchFields) == 0 {
		return false
	}
	for _, r := range term.MatchExpressions {
		if !matchesRequirement(r, labels.Set(node.Labels)) {
			return false
		}
	}
	for _, r := range term.MatchFields {
		// metadata.name is the only field selector upstream supports.
		if r.Key != "metadata.name" || !matchesRequirement(r, labels.Set{"metadata.name": node.Name}) {
			return false
		}
	}
	return true
}

func matchesRequirement(r corev1.NodeSelectorRequirement, set labels.Set) bool {
	var op selection.Operator
	switch r.Operator {
	case corev1.NodeSelectorOpIn:
		op = selection.In
	case corev1.NodeSelectorOpNotIn:
		op = selection.NotIn
	case corev1.NodeSelectorOpExists:
		op = selection.Exists
	case corev1.NodeSelectorOpDoesNotExist:
		op = selection.DoesNotExist
	case corev1.NodeSelectorOpGt:
		op = selection.GreaterThan
	case corev1.NodeSelectorOpLt:
		op = selection.LessThan
	default:
		return false
	}
	req, err := labels.NewRequirement(r.Key, op, r.Values)
	if err != nil {
		return false
	}
	return req.Matches(set)
}

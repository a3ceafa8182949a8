package scheduler

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// nodeSelector is a compiled corev1.NodeSelector: it matches a node when
// any of its terms does. A nil *nodeSelector matches every node.
type nodeSelector struct {
	terms []nodeSelectorTerm
}

// nodeSelectorTerm matches when all its expressions and fields do. An
// invalid term (a bad key, a non-integer for Gt) or an empty one matches
// nothing, as upstream.
type nodeSelectorTerm struct {
	labels labels.Selector
	fields []corev1.NodeSelectorRequirement // only metadata.name
	valid  bool
}

var selectionOps = map[corev1.NodeSelectorOperator]selection.Operator{
	corev1.NodeSelectorOpIn:           selection.In,
	corev1.NodeSelectorOpNotIn:        selection.NotIn,
	corev1.NodeSelectorOpExists:       selection.Exists,
	corev1.NodeSelectorOpDoesNotExist: selection.DoesNotExist,
	corev1.NodeSelectorOpGt:           selection.GreaterThan,
	corev1.NodeSelectorOpLt:           selection.LessThan,
}

// compileNodeSelector returns nil for a nil selector.
func compileNodeSelector(ns *corev1.NodeSelector) *nodeSelector {
	if ns == nil {
		return nil
	}
	s := &nodeSelector{}
	for i := range ns.NodeSelectorTerms {
		s.terms = append(s.terms, compileTerm(&ns.NodeSelectorTerms[i]))
	}
	return s
}

func compileTerm(t *corev1.NodeSelectorTerm) nodeSelectorTerm {
	if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
		return nodeSelectorTerm{}
	}
	sel := labels.NewSelector()
	for _, e := range t.MatchExpressions {
		op, ok := selectionOps[e.Operator]
		if !ok {
			return nodeSelectorTerm{}
		}
		r, err := labels.NewRequirement(e.Key, op, e.Values)
		if err != nil {
			return nodeSelectorTerm{}
		}
		sel = sel.Add(*r)
	}
	for _, f := range t.MatchFields {
		if f.Key != "metadata.name" || (f.Operator != corev1.NodeSelectorOpIn && f.Operator != corev1.NodeSelectorOpNotIn) {
			return nodeSelectorTerm{}
		}
	}
	return nodeSelectorTerm{labels: sel, fields: t.MatchFields, valid: true}
}

func (s *nodeSelector) matches(node *corev1.Node) bool {
	if s == nil {
		return true
	}
	for i := range s.terms {
		if s.terms[i].matches(node) {
			return true
		}
	}
	return false
}

func (t *nodeSelectorTerm) matches(node *corev1.Node) bool {
	if !t.valid || !t.labels.Matches(labels.Set(node.Labels)) {
		return false
	}
	for _, f := range t.fields {
		in := slices.Contains(f.Values, node.Name)
		if in != (f.Operator == corev1.NodeSelectorOpIn) {
			return false
		}
	}
	return true
}

// preferredTerm is one weighted term of preferred node affinity.
type preferredTerm struct {
	weight int64
	term   nodeSelectorTerm
}

// tolerates reports whether any toleration tolerates the taint.
func tolerates(tolerations []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range tolerations {
		if toleratesTaint(&tolerations[i], taint) {
			return true
		}
	}
	return false
}

func toleratesTaint(t *corev1.Toleration, taint *corev1.Taint) bool {
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
	}
	return false
}

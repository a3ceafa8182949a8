package namespace

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// conditions returns the deletion conditions for what a pass found,
// without transition times. A True condition means a problem.
func (s contentStatus) conditions() []corev1.NamespaceCondition {
	cond := func(t corev1.NamespaceConditionType, bad bool, badReason, badMsg, goodReason, goodMsg string) corev1.NamespaceCondition {
		if bad {
			return corev1.NamespaceCondition{Type: t, Status: corev1.ConditionTrue, Reason: badReason, Message: badMsg}
		}
		return corev1.NamespaceCondition{Type: t, Status: corev1.ConditionFalse, Reason: goodReason, Message: goodMsg}
	}
	var discoveryMsg string
	if s.discoveryErr != nil {
		discoveryMsg = discoveryFailures(s.discoveryErr)
	}
	return []corev1.NamespaceCondition{
		cond(corev1.NamespaceDeletionDiscoveryFailure, s.discoveryErr != nil,
			"DiscoveryFailed", discoveryMsg,
			"ResourcesDiscovered", "All resources successfully discovered"),
		cond(corev1.NamespaceDeletionGVParsingFailure, false,
			"", "",
			"ParsedGroupVersions", "All legacy kube types successfully parsed"),
		cond(corev1.NamespaceDeletionContentFailure, len(s.deleteErrs) > 0,
			"ContentDeletionFailed", fmt.Sprintf("Failed to delete all resource types, %d remaining: %s", len(s.deleteErrs), strings.Join(s.deleteErrs, ", ")),
			"ContentDeleted", "All content successfully deleted, may be waiting on finalization"),
		cond(corev1.NamespaceContentRemaining, len(s.remaining) > 0,
			"SomeResourcesRemain", "Some resources are remaining: "+countList(s.remaining, "%s has %d resource instances"),
			"ContentRemoved", "All content successfully removed"),
		cond(corev1.NamespaceFinalizersRemaining, len(s.finalizers) > 0,
			"SomeFinalizersRemain", "Some content in the namespace has finalizers remaining: "+countList(s.finalizers, "%s in %d resource instances"),
			"ContentHasNoFinalizers", "All content-preserving finalizers finished"),
	}
}

// mergeConditions returns current with the deletion conditions replaced by
// desired, keeping the transition time of a condition whose status did not
// change, and reports whether anything changed. Conditions of other types
// are kept as they are. It does not modify current.
func mergeConditions(current, desired []corev1.NamespaceCondition, now metav1.Time) ([]corev1.NamespaceCondition, bool) {
	out := make([]corev1.NamespaceCondition, 0, len(current)+len(desired))
	changed := false
	byType := map[corev1.NamespaceConditionType]corev1.NamespaceCondition{}
	for _, c := range current {
		byType[c.Type] = c
	}
	replaced := map[corev1.NamespaceConditionType]bool{}
	for _, d := range desired {
		replaced[d.Type] = true
	}
	for _, c := range current {
		if !replaced[c.Type] {
			out = append(out, c)
		}
	}
	for _, d := range desired {
		old, ok := byType[d.Type]
		switch {
		case !ok || old.Status != d.Status:
			d.LastTransitionTime = now
			changed = true
		default:
			d.LastTransitionTime = old.LastTransitionTime
			if old.Reason != d.Reason || old.Message != d.Message {
				changed = true
			}
		}
		out = append(out, d)
	}
	return out, changed
}

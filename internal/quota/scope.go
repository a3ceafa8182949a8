package quota

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// podResourceNames are the quota resources a pod may cost, besides
// hugepages and extended resources.
var podResourceNames = []corev1.ResourceName{
	"count/pods", corev1.ResourcePods,
	corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage,
	corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory, corev1.ResourceRequestsEphemeralStorage,
	corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory, corev1.ResourceLimitsEphemeralStorage,
}

var serviceResourceNames = []corev1.ResourceName{
	"count/services", corev1.ResourceServices, corev1.ResourceServicesNodePorts, corev1.ResourceServicesLoadBalancers,
}

var claimResourceNames = []corev1.ResourceName{
	"count/persistentvolumeclaims", corev1.ResourcePersistentVolumeClaims, corev1.ResourceRequestsStorage,
}

// Accounts reports whether objects of gr can cost the quota resource name.
func Accounts(gr schema.GroupResource, name corev1.ResourceName) bool {
	switch gr {
	case podsResource:
		return slices.Contains(podResourceNames, name) ||
			strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix) ||
			strings.HasPrefix(string(name), corev1.ResourceRequestsHugePagesPrefix) ||
			!nativeResource(name) && strings.HasPrefix(string(name), corev1.DefaultResourceRequestsPrefix)
	case servicesResource:
		return slices.Contains(serviceResourceNames, name)
	case claimsResource:
		if slices.Contains(claimResourceNames, name) {
			return true
		}
		return strings.HasSuffix(string(name), storageClassInfix+string(corev1.ResourcePersistentVolumeClaims)) ||
			strings.HasSuffix(string(name), storageClassInfix+string(corev1.ResourceRequestsStorage))
	}
	if legacy, ok := legacyCountNames[gr]; ok && name == legacy {
		return true
	}
	return name == CountName(gr)
}

// accounted returns the names of hard that objects of gr can cost.
func accounted(gr schema.GroupResource, hard corev1.ResourceList) []corev1.ResourceName {
	var out []corev1.ResourceName
	for name := range hard {
		if Accounts(gr, name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Matches reports whether obj, an object of gr, is charged to q: q's
// status.hard limits something objects of gr cost, and obj is in all of
// q's scopes. Only pods are in scopes; a scoped quota never matches other
// objects. A scope selector that cannot be evaluated matches nothing.
func Matches(q *corev1.ResourceQuota, gr schema.GroupResource, obj runtime.Object) bool {
	ok, err := matches(q, gr, obj)
	return ok && err == nil
}

func matches(q *corev1.ResourceQuota, gr schema.GroupResource, obj runtime.Object) (bool, error) {
	if len(accounted(gr, q.Status.Hard)) == 0 {
		return false, nil
	}
	return InScope(q, gr, obj)
}

// InScope reports whether obj, an object of gr, is in every scope of q
// (spec.scopes and spec.scopeSelector); an unscoped quota takes everything.
func InScope(q *corev1.ResourceQuota, gr schema.GroupResource, obj runtime.Object) (bool, error) {
	for _, sel := range scopeSelectors(q) {
		in, err := inScope(sel, gr, obj)
		if err != nil {
			return false, fmt.Errorf("quota %s: scope %s: %w", q.Name, sel.ScopeName, err)
		}
		if !in {
			return false, nil
		}
	}
	return true, nil
}

// scopeSelectors are q's scopes as selector requirements: each of
// spec.scopes as Exists, then spec.scopeSelector's expressions.
func scopeSelectors(q *corev1.ResourceQuota) []corev1.ScopedResourceSelectorRequirement {
	var out []corev1.ScopedResourceSelectorRequirement
	for _, s := range q.Spec.Scopes {
		out = append(out, corev1.ScopedResourceSelectorRequirement{ScopeName: s, Operator: corev1.ScopeSelectorOpExists})
	}
	if q.Spec.ScopeSelector != nil {
		out = append(out, q.Spec.ScopeSelector.MatchExpressions...)
	}
	return out
}

func inScope(sel corev1.ScopedResourceSelectorRequirement, gr schema.GroupResource, obj runtime.Object) (bool, error) {
	if gr != podsResource {
		return false, nil
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return false, fmt.Errorf("want a *v1.Pod, got %T", obj)
	}
	switch sel.ScopeName {
	case corev1.ResourceQuotaScopeTerminating:
		return terminating(pod), nil
	case corev1.ResourceQuotaScopeNotTerminating:
		return !terminating(pod), nil
	case corev1.ResourceQuotaScopeBestEffort:
		return bestEffort(pod), nil
	case corev1.ResourceQuotaScopeNotBestEffort:
		return !bestEffort(pod), nil
	case corev1.ResourceQuotaScopePriorityClass:
		return priorityClassIn(pod.Spec.PriorityClassName, sel)
	case corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
		return crossNamespaceAffinity(pod), nil
	}
	return false, nil
}

// terminating pods have an active deadline.
func terminating(pod *corev1.Pod) bool {
	return pod.Spec.ActiveDeadlineSeconds != nil && *pod.Spec.ActiveDeadlineSeconds >= 0
}

// bestEffort reports whether the pod's QoS class is BestEffort: no
// container (nor the pod) requests or limits cpu or memory.
func bestEffort(pod *corev1.Pod) bool {
	if pod.Status.QOSClass != "" {
		return pod.Status.QOSClass == corev1.PodQOSBestEffort
	}
	sets := func(l corev1.ResourceList) bool {
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if q, ok := l[name]; ok && !q.IsZero() {
				return true
			}
		}
		return false
	}
	if r := pod.Spec.Resources; r != nil && (sets(r.Requests) || sets(r.Limits)) {
		return false
	}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			if sets(c.Resources.Requests) || sets(c.Resources.Limits) {
				return false
			}
		}
	}
	return true
}

// priorityClassIn evaluates a PriorityClass scope selector the way a label
// selector on {PriorityClass: <name>} would (no label when the pod names
// no class).
func priorityClassIn(class string, sel corev1.ScopedResourceSelectorRequirement) (bool, error) {
	switch sel.Operator {
	case corev1.ScopeSelectorOpExists:
		return class != "", nil
	case corev1.ScopeSelectorOpDoesNotExist:
		return class == "", nil
	case corev1.ScopeSelectorOpIn:
		if len(sel.Values) == 0 {
			return false, fmt.Errorf("operator In needs values")
		}
		return class != "" && slices.Contains(sel.Values, class), nil
	case corev1.ScopeSelectorOpNotIn:
		if len(sel.Values) == 0 {
			return false, fmt.Errorf("operator NotIn needs values")
		}
		return class == "" || !slices.Contains(sel.Values, class), nil
	}
	return false, fmt.Errorf("unknown operator %q", sel.Operator)
}

// crossNamespaceAffinity reports whether a pod (anti-)affinity term looks
// at other namespaces.
func crossNamespaceAffinity(pod *corev1.Pod) bool {
	a := pod.Spec.Affinity
	if a == nil {
		return false
	}
	cross := func(t corev1.PodAffinityTerm) bool { return len(t.Namespaces) > 0 || t.NamespaceSelector != nil }
	var terms []corev1.PodAffinityTerm
	if a.PodAffinity != nil {
		terms = append(terms, a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution...)
		for _, w := range a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, w.PodAffinityTerm)
		}
	}
	if a.PodAntiAffinity != nil {
		terms = append(terms, a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution...)
		for _, w := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, w.PodAffinityTerm)
		}
	}
	return slices.ContainsFunc(terms, cross)
}

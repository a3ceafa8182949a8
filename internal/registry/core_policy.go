package registry

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// coreLimitRangeResource is core/v1 limitranges; enforcing them at pod
// admission is not this package's job.
func coreLimitRangeResource() *Resource {
	return &Resource{
		Version: "v1", Kind: "LimitRange", Plural: "limitranges", Singular: "limitrange",
		ShortNames: []string{"limits"}, Namespaced: true,
		New:     func() runtime.Object { return &corev1.LimitRange{} },
		NewList: func() runtime.Object { return &corev1.LimitRangeList{} },
		Default: func(obj runtime.Object) {
			lr := obj.(*corev1.LimitRange)
			for i := range lr.Spec.Limits {
				DefaultLimitRangeItem(&lr.Spec.Limits[i])
			}
		},
		Validate:       func(obj runtime.Object) field.ErrorList { return validateCoreLimitRange(obj.(*corev1.LimitRange)) },
		ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList { return validateCoreLimitRange(obj.(*corev1.LimitRange)) },
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{
				column("Created At", "date", "CreationTimestamp is a timestamp representing the server time when this object was created.", 0),
			},
			Row: func(obj runtime.Object) []any {
				return []any{obj.(*corev1.LimitRange).CreationTimestamp.UTC().Format(time.RFC3339)}
			},
		},
	}
}

// DefaultLimitRangeItem is upstream's LimitRange defaulting: for
// containers, the default limit falls back to max, and the default request
// to the default limit, then to min. It is a no-op on a defaulted item.
func DefaultLimitRangeItem(item *corev1.LimitRangeItem) {
	if item.Type != corev1.LimitTypeContainer {
		return
	}
	if item.Default == nil {
		item.Default = corev1.ResourceList{}
	}
	if item.DefaultRequest == nil {
		item.DefaultRequest = corev1.ResourceList{}
	}
	fill := func(into, from corev1.ResourceList) {
		for k, v := range from {
			if _, ok := into[k]; !ok {
				into[k] = v.DeepCopy()
			}
		}
	}
	fill(item.Default, item.Max)
	fill(item.DefaultRequest, item.Default)
	fill(item.DefaultRequest, item.Min)
}

func validateCoreLimitRange(lr *corev1.LimitRange) field.ErrorList {
	var errs field.ErrorList
	types := []corev1.LimitType{corev1.LimitTypeContainer, corev1.LimitTypePersistentVolumeClaim, corev1.LimitTypePod}
	seen := map[corev1.LimitType]bool{}
	for i, item := range lr.Spec.Limits {
		p := field.NewPath("spec", "limits").Index(i)
		switch {
		case item.Type == "":
			errs = append(errs, field.Required(p.Child("type"), ""))
		case !slices.Contains(types, item.Type):
			errs = append(errs, field.NotSupported(p.Child("type"), item.Type, types))
		case seen[item.Type]:
			errs = append(errs, field.Duplicate(p.Child("type"), item.Type))
		}
		seen[item.Type] = true
		if item.Type == corev1.LimitTypePod {
			if len(item.Default) > 0 {
				errs = append(errs, field.Forbidden(p.Child("default"), "may not be specified when `type` is 'Pod'"))
			}
			if len(item.DefaultRequest) > 0 {
				errs = append(errs, field.Forbidden(p.Child("defaultRequest"), "may not be specified when `type` is 'Pod'"))
			}
		}
		for _, l := range []struct {
			name string
			list corev1.ResourceList
		}{{"max", item.Max}, {"min", item.Min}, {"default", item.Default}, {"defaultRequest", item.DefaultRequest}, {"maxLimitRequestRatio", item.MaxLimitRequestRatio}} {
			for _, name := range slices.Sorted(maps.Keys(l.list)) {
				q := l.list[name]
				errs = append(errs, validatePodResourceName(name, p.Child(l.name).Key(string(name)))...)
				if q.Sign() < 0 {
					errs = append(errs, field.Invalid(p.Child(l.name).Key(string(name)), q.String(), "must be greater than or equal to 0"))
				}
			}
		}
		names := map[corev1.ResourceName]bool{}
		for _, l := range []corev1.ResourceList{item.Max, item.Min, item.Default, item.DefaultRequest, item.MaxLimitRequestRatio} {
			for k := range l {
				names[k] = true
			}
		}
		for _, name := range slices.Sorted(maps.Keys(names)) {
			errs = append(errs, validateCoreLimitOrder(item, name, p)...)
		}
	}
	return errs
}

// validateCoreLimitOrder checks min <= defaultRequest <= default <= max
// and a ratio of at least 1 for one resource.
func validateCoreLimitOrder(item corev1.LimitRangeItem, name corev1.ResourceName, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	minQ, hasMin := item.Min[name]
	maxQ, hasMax := item.Max[name]
	defQ, hasDef := item.Default[name]
	reqQ, hasReq := item.DefaultRequest[name]
	ratio, hasRatio := item.MaxLimitRequestRatio[name]
	key := func(field string) *field.Path { return p.Child(field).Key(string(name)) }
	check := func(ok bool, a, b resource.Quantity, at *field.Path, value resource.Quantity, what string) {
		if ok && a.Cmp(b) > 0 {
			errs = append(errs, field.Invalid(at, value.String(), fmt.Sprintf(what, a.String(), b.String())))
		}
	}
	check(hasMin && hasMax, minQ, maxQ, key("min"), minQ, "min value %s is greater than max value %s")
	check(hasMin && hasReq, minQ, reqQ, key("defaultRequest"), reqQ, "min value %s is greater than default request value %s")
	check(hasReq && hasMax, reqQ, maxQ, key("defaultRequest"), reqQ, "default request value %s is greater than max value %s")
	check(hasReq && hasDef, reqQ, defQ, key("defaultRequest"), reqQ, "default request value %s is greater than default limit value %s")
	check(hasMin && hasDef, minQ, defQ, key("default"), minQ, "min value %s is greater than default value %s")
	check(hasDef && hasMax, defQ, maxQ, key("default"), maxQ, "default value %s is greater than max value %s")
	if hasRatio && ratio.Cmp(resource.MustParse("1")) < 0 {
		errs = append(errs, field.Invalid(key("maxLimitRequestRatio"), ratio.String(), fmt.Sprintf("ratio %s is less than 1", ratio.String())))
	}
	return errs
}

var (
	coreQuotaScopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeCrossNamespacePodAffinity,
		corev1.ResourceQuotaScopeNotBestEffort, corev1.ResourceQuotaScopeNotTerminating, corev1.ResourceQuotaScopePriorityClass,
		corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeVolumeAttributesClass}
	// coreQuotaResources are the quota resource names without a domain.
	coreQuotaResources = []string{"configmaps", "cpu", "ephemeral-storage", "limits.cpu", "limits.ephemeral-storage",
		"limits.memory", "memory", "persistentvolumeclaims", "pods", "replicationcontrollers", "requests.cpu",
		"requests.ephemeral-storage", "requests.memory", "requests.storage", "resourcequotas", "secrets", "services",
		"services.loadbalancers", "services.nodeports"}
)

// coreResourceQuotaResource is core/v1 resourcequotas; computing usage is
// a controller's job.
func coreResourceQuotaResource() *Resource {
	return &Resource{
		Version: "v1", Kind: "ResourceQuota", Plural: "resourcequotas", Singular: "resourcequota",
		ShortNames: []string{"quota"}, Namespaced: true,
		New:     func() runtime.Object { return &corev1.ResourceQuota{} },
		NewList: func() runtime.Object { return &corev1.ResourceQuotaList{} },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*corev1.ResourceQuota).Status = corev1.ResourceQuotaStatus{}
		},
		PrepareForUpdate: func(obj, old runtime.Object) {
			obj.(*corev1.ResourceQuota).Status = old.(*corev1.ResourceQuota).Status
		},
		Validate:       func(obj runtime.Object) field.ErrorList { return validateCoreQuota(obj.(*corev1.ResourceQuota)) },
		ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList { return validateCoreQuota(obj.(*corev1.ResourceQuota)) },
		Status: &StatusSubresource{
			ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList {
				rq := obj.(*corev1.ResourceQuota)
				p := field.NewPath("status")
				return append(validateCoreQuotaList(rq.Status.Hard, p.Child("hard")), validateCoreQuotaList(rq.Status.Used, p.Child("used"))...)
			},
		},
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{
				ageColumn,
				column("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume.", 0),
				column("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.", 0),
			},
			Row: func(obj runtime.Object) []any {
				rq := obj.(*corev1.ResourceQuota)
				req, lim := coreQuotaColumns(rq)
				return []any{age(rq.CreationTimestamp), req, lim}
			},
		},
	}
}

func validateCoreQuota(rq *corev1.ResourceQuota) field.ErrorList {
	specPath := field.NewPath("spec")
	errs := validateCoreQuotaList(rq.Spec.Hard, specPath.Child("hard"))
	for i, s := range rq.Spec.Scopes {
		if !slices.Contains(coreQuotaScopes, s) {
			errs = append(errs, field.NotSupported(specPath.Child("scopes").Index(i), s, coreQuotaScopes))
		}
	}
	if sel := rq.Spec.ScopeSelector; sel != nil {
		for i, req := range sel.MatchExpressions {
			p := specPath.Child("scopeSelector", "matchExpressions").Index(i)
			if !slices.Contains(coreQuotaScopes, req.ScopeName) {
				errs = append(errs, field.NotSupported(p.Child("scopeName"), req.ScopeName, coreQuotaScopes))
			}
			ops := []corev1.ScopeSelectorOperator{corev1.ScopeSelectorOpDoesNotExist, corev1.ScopeSelectorOpExists,
				corev1.ScopeSelectorOpIn, corev1.ScopeSelectorOpNotIn}
			if !slices.Contains(ops, req.Operator) {
				errs = append(errs, field.NotSupported(p.Child("operator"), req.Operator, ops))
			}
		}
	}
	return errs
}

func validateCoreQuotaList(l corev1.ResourceList, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, name := range slices.Sorted(maps.Keys(l)) {
		q := l[name]
		p := fldPath.Key(string(name))
		for _, msg := range validation.IsQualifiedName(string(name)) {
			errs = append(errs, field.Invalid(p, name, msg))
		}
		if !strings.Contains(string(name), "/") && !slices.Contains(coreQuotaResources, string(name)) &&
			!strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix) && !strings.HasPrefix(string(name), "requests.hugepages-") {
			errs = append(errs, field.Invalid(p, name, "must be a standard resource for quota"))
		}
		if q.Sign() < 0 {
			errs = append(errs, field.Invalid(p, q.String(), "must be greater than or equal to 0"))
		}
	}
	return errs
}

// coreQuotaColumns prints "name: used/hard" pairs, limits.* in the LIMIT
// column and the rest in REQUEST, sorted by name, like upstream.
func coreQuotaColumns(rq *corev1.ResourceQuota) (request, limit string) {
	var req, lim []string
	for _, name := range slices.Sorted(maps.Keys(rq.Status.Hard)) {
		used, hard := rq.Status.Used[name], rq.Status.Hard[name]
		s := fmt.Sprintf("%s: %s/%s", name, used.String(), hard.String())
		if strings.HasPrefix(string(name), "limits.") {
			lim = append(lim, s)
		} else {
			req = append(req, s)
		}
	}
	return strings.Join(req, ", "), strings.Join(lim, ", ")
}

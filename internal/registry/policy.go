package registry

import (
	"slices"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// policy/v1 poddisruptionbudgets.

func policyResources() []*Resource {
	return []*Resource{podDisruptionBudgetResource()}
}

func podDisruptionBudgetResource() *Resource {
	validate := func(obj runtime.Object) field.ErrorList {
		return podDisruptionBudgetValidateSpec(&obj.(*policyv1.PodDisruptionBudget).Spec, field.NewPath("spec"))
	}
	return &Resource{
		Group: "policy", Version: "v1", Kind: "PodDisruptionBudget",
		Plural: "poddisruptionbudgets", Singular: "poddisruptionbudget",
		ShortNames: []string{"pdb"}, Namespaced: true,
		New:     func() runtime.Object { return &policyv1.PodDisruptionBudget{} },
		NewList: func() runtime.Object { return &policyv1.PodDisruptionBudgetList{} },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*policyv1.PodDisruptionBudget).Status = policyv1.PodDisruptionBudgetStatus{}
		},
		PrepareForUpdate: func(obj, old runtime.Object) {
			obj.(*policyv1.PodDisruptionBudget).Status = old.(*policyv1.PodDisruptionBudget).Status
		},
		Validate:       validate,
		ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList { return validate(obj) },
		Status: &StatusSubresource{ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList {
			s := &obj.(*policyv1.PodDisruptionBudget).Status
			p := field.NewPath("status")
			errs := groupNonNegative(int64(s.DisruptionsAllowed), p.Child("disruptionsAllowed"))
			errs = append(errs, groupNonNegative(int64(s.CurrentHealthy), p.Child("currentHealthy"))...)
			errs = append(errs, groupNonNegative(int64(s.DesiredHealthy), p.Child("desiredHealthy"))...)
			errs = append(errs, groupNonNegative(int64(s.ExpectedPods), p.Child("expectedPods"))...)
			return append(errs, metavalidation.ValidateConditions(s.Conditions, p.Child("conditions"))...)
		}},
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{
				column("Min Available", "string", "The minimum number of pods that must be available simultaneously. This can be either an integer or a string specifying a percentage, e.g. \"28%\".", 0),
				column("Max Unavailable", "string", "The maximum number of pods that may be unavailable. This can be either an integer or a string specifying a percentage, e.g. \"28%\".", 0),
				column("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time.", 0),
				ageColumn,
			},
			Row: func(obj runtime.Object) []any {
				pdb := obj.(*policyv1.PodDisruptionBudget)
				minAvailable, maxUnavailable := "N/A", "N/A"
				if pdb.Spec.MinAvailable != nil {
					minAvailable = pdb.Spec.MinAvailable.String()
				}
				if pdb.Spec.MaxUnavailable != nil {
					maxUnavailable = pdb.Spec.MaxUnavailable.String()
				}
				return []any{minAvailable, maxUnavailable, int64(pdb.Status.DisruptionsAllowed), age(pdb.CreationTimestamp)}
			},
		},
	}
}

func podDisruptionBudgetValidateSpec(spec *policyv1.PodDisruptionBudgetSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.MinAvailable != nil && spec.MaxUnavailable != nil {
		errs = append(errs, field.Invalid(fldPath, spec, "minAvailable and maxUnavailable cannot be both set"))
	}
	if spec.MinAvailable != nil {
		errs = append(errs, groupIntOrPercent(*spec.MinAvailable, fldPath.Child("minAvailable"))...)
		errs = append(errs, groupNotMoreThan100Percent(*spec.MinAvailable, fldPath.Child("minAvailable"))...)
	}
	if spec.MaxUnavailable != nil {
		errs = append(errs, groupIntOrPercent(*spec.MaxUnavailable, fldPath.Child("maxUnavailable"))...)
		errs = append(errs, groupNotMoreThan100Percent(*spec.MaxUnavailable, fldPath.Child("maxUnavailable"))...)
	}
	errs = append(errs, groupLabelSelector(spec.Selector, fldPath.Child("selector"))...)
	policies := []policyv1.UnhealthyPodEvictionPolicyType{policyv1.AlwaysAllow, policyv1.IfHealthyBudget}
	if p := spec.UnhealthyPodEvictionPolicy; p != nil && !slices.Contains(policies, *p) {
		errs = append(errs, field.NotSupported(fldPath.Child("unhealthyPodEvictionPolicy"), *p, policies))
	}
	return errs
}

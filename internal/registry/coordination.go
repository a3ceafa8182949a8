package registry

import (
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// coordination.k8s.io/v1 leases.

func coordinationResources() []*Resource {
	return []*Resource{leaseResource()}
}

func leaseResource() *Resource {
	validate := func(obj runtime.Object) field.ErrorList {
		return leaseValidateSpec(&obj.(*coordinationv1.Lease).Spec, field.NewPath("spec"))
	}
	return &Resource{
		Group: "coordination.k8s.io", Version: "v1", Kind: "Lease",
		Plural: "leases", Singular: "lease", Namespaced: true,
		New:            func() runtime.Object { return &coordinationv1.Lease{} },
		NewList:        func() runtime.Object { return &coordinationv1.LeaseList{} },
		Validate:       validate,
		ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList { return validate(obj) },
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{
				column("Holder", "string", "holderIdentity contains the identity of the holder of a current lease.", 0),
				ageColumn,
			},
			Row: func(obj runtime.Object) []any {
				l := obj.(*coordinationv1.Lease)
				var holder string
				if l.Spec.HolderIdentity != nil {
					holder = *l.Spec.HolderIdentity
				}
				return []any{holder, age(l.CreationTimestamp)}
			},
		},
	}
}

func leaseValidateSpec(spec *coordinationv1.LeaseSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.LeaseDurationSeconds != nil && *spec.LeaseDurationSeconds <= 0 {
		errs = append(errs, field.Invalid(fldPath.Child("leaseDurationSeconds"), *spec.LeaseDurationSeconds, "must be greater than 0"))
	}
	if spec.LeaseTransitions != nil && *spec.LeaseTransitions < 0 {
		errs = append(errs, field.Invalid(fldPath.Child("leaseTransitions"), *spec.LeaseTransitions, "must be greater than or equal to 0"))
	}
	hasStrategy := spec.Strategy != nil && *spec.Strategy != ""
	if hasStrategy {
		sp := fldPath.Child("strategy")
		s := *spec.Strategy
		switch {
		case strings.Contains(string(s), "/"):
			// A custom strategy is named like a qualified name.
			errs = append(errs, groupQualifiedName(string(s), sp)...)
		case s != coordinationv1.OldestEmulationVersion:
			errs = append(errs, field.NotSupported(sp, s, []coordinationv1.CoordinatedLeaseStrategy{coordinationv1.OldestEmulationVersion}))
		}
	}
	if spec.PreferredHolder != nil && *spec.PreferredHolder != "" && !hasStrategy {
		errs = append(errs, field.Forbidden(fldPath.Child("preferredHolder"), "preferredHolder can only be set when strategy is set"))
	}
	return errs
}

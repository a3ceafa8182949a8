package registry

import (
	"fmt"
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// rbac.authorization.k8s.io/v1: roles, clusterroles, rolebindings and
// clusterrolebindings.

func rbacResources() []*Resource {
	return []*Resource{roleResource(), clusterRoleResource(), roleBindingResource(), clusterRoleBindingResource()}
}

// --- Role, ClusterRole ---

func roleResource() *Resource {
	validate := func(obj runtime.Object) field.ErrorList {
		return rbacValidateRules(obj.(*rbacv1.Role).Rules, true)
	}
	return &Resource{
		Group: rbacv1.GroupName, Version: "v1", Kind: "Role",
		Plural: "roles", Singular: "role", Namespaced: true,
		New:            func() runtime.Object { return &rbacv1.Role{} },
		NewList:        func() runtime.Object { return &rbacv1.RoleList{} },
		Validate:       validate,
		ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList { return validate(obj) },
		Table:          rbacRoleTable(),
	}
}

func clusterRoleResource() *Resource {
	validate := func(obj runtime.Object) field.ErrorList {
		cr := obj.(*rbacv1.ClusterRole)
		errs := rbacValidateRules(cr.Rules, false)
		if cr.AggregationRule != nil {
			p := field.NewPath("aggregationRule", "clusterRoleSelectors")
			if len(cr.AggregationRule.ClusterRoleSelectors) == 0 {
				errs = append(errs, field.Required(p, "at least one clusterRoleSelector required if aggregationRule is non-nil"))
			}
			for i := range cr.AggregationRule.ClusterRoleSelectors {
				sel := &cr.AggregationRule.ClusterRoleSelectors[i]
				errs = append(errs, groupLabelSelector(sel, p.Index(i))...)
				if _, err := metav1.LabelSelectorAsSelector(sel); err != nil {
					errs = append(errs, field.Invalid(p.Index(i), sel, "invalid label selector."))
				}
			}
		}
		return errs
	}
	return &Resource{
		Group: rbacv1.GroupName, Version: "v1", Kind: "ClusterRole",
		Plural: "clusterroles", Singular: "clusterrole",
		New:            func() runtime.Object { return &rbacv1.ClusterRole{} },
		NewList:        func() runtime.Object { return &rbacv1.ClusterRoleList{} },
		Validate:       validate,
		ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList { return validate(obj) },
		Table:          rbacRoleTable(),
	}
}

// rbacValidateRules checks policy rules: each needs verbs, and either
// non-resource URLs (cluster roles only) or API groups plus resources.
func rbacValidateRules(rules []rbacv1.PolicyRule, namespaced bool) field.ErrorList {
	var errs field.ErrorList
	for i, rule := range rules {
		p := field.NewPath("rules").Index(i)
		if len(rule.Verbs) == 0 {
			errs = append(errs, field.Required(p.Child("verbs"), "verbs must contain at least one value"))
		}
		if len(rule.NonResourceURLs) > 0 {
			up := p.Child("nonResourceURLs")
			if namespaced {
				errs = append(errs, field.Invalid(up, rule.NonResourceURLs, "namespaced rules cannot apply to non-resource URLs"))
			}
			if len(rule.APIGroups) > 0 || len(rule.Resources) > 0 || len(rule.ResourceNames) > 0 {
				errs = append(errs, field.Invalid(up, rule.NonResourceURLs, "rules cannot apply to both regular resources and non-resource URLs"))
			}
			continue
		}
		if len(rule.APIGroups) == 0 {
			errs = append(errs, field.Required(p.Child("apiGroups"), "resource rules must supply at least one api group"))
		}
		if len(rule.Resources) == 0 {
			errs = append(errs, field.Required(p.Child("resources"), "resource rules must supply at least one resource"))
		}
	}
	return errs
}

func rbacRoleTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			column("Created At", "date", "CreationTimestamp is a timestamp representing the server time when this object was created.", 0),
		},
		Row: func(obj runtime.Object) []any {
			created := obj.(metav1.Object).GetCreationTimestamp()
			return []any{created.UTC().Format(time.RFC3339)}
		},
	}
}

// --- RoleBinding, ClusterRoleBinding ---

// rbacDefaultBinding fills the API groups of the role reference and of
// user and group subjects.
func rbacDefaultBinding(ref *rbacv1.RoleRef, subjects []rbacv1.Subject) {
	if ref.APIGroup == "" {
		ref.APIGroup = rbacv1.GroupName
	}
	for i := range subjects {
		s := &subjects[i]
		if s.APIGroup == "" && (s.Kind == rbacv1.UserKind || s.Kind == rbacv1.GroupKind) {
			s.APIGroup = rbacv1.GroupName
		}
	}
}

func roleBindingResource() *Resource {
	validate := func(obj runtime.Object) field.ErrorList {
		rb := obj.(*rbacv1.RoleBinding)
		return rbacValidateBinding(rb.RoleRef, rb.Subjects, []string{"Role", "ClusterRole"}, true)
	}
	return &Resource{
		Group: rbacv1.GroupName, Version: "v1", Kind: "RoleBinding",
		Plural: "rolebindings", Singular: "rolebinding", Namespaced: true,
		New:     func() runtime.Object { return &rbacv1.RoleBinding{} },
		NewList: func() runtime.Object { return &rbacv1.RoleBindingList{} },
		Default: func(obj runtime.Object) {
			rb := obj.(*rbacv1.RoleBinding)
			rbacDefaultBinding(&rb.RoleRef, rb.Subjects)
		},
		Validate: validate,
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			errs := validate(obj)
			return append(errs, rbacValidateRoleRefUpdate(obj.(*rbacv1.RoleBinding).RoleRef, old.(*rbacv1.RoleBinding).RoleRef)...)
		},
		Table: rbacBindingTable(),
	}
}

func clusterRoleBindingResource() *Resource {
	validate := func(obj runtime.Object) field.ErrorList {
		crb := obj.(*rbacv1.ClusterRoleBinding)
		return rbacValidateBinding(crb.RoleRef, crb.Subjects, []string{"ClusterRole"}, false)
	}
	return &Resource{
		Group: rbacv1.GroupName, Version: "v1", Kind: "ClusterRoleBinding",
		Plural: "clusterrolebindings", Singular: "clusterrolebinding",
		New:     func() runtime.Object { return &rbacv1.ClusterRoleBinding{} },
		NewList: func() runtime.Object { return &rbacv1.ClusterRoleBindingList{} },
		Default: func(obj runtime.Object) {
			crb := obj.(*rbacv1.ClusterRoleBinding)
			rbacDefaultBinding(&crb.RoleRef, crb.Subjects)
		},
		Validate: validate,
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			errs := validate(obj)
			return append(errs, rbacValidateRoleRefUpdate(obj.(*rbacv1.ClusterRoleBinding).RoleRef, old.(*rbacv1.ClusterRoleBinding).RoleRef)...)
		},
		Table: rbacBindingTable(),
	}
}

func rbacValidateRoleRefUpdate(ref, old rbacv1.RoleRef) field.ErrorList {
	if ref != old {
		return field.ErrorList{field.Invalid(field.NewPath("roleRef"), ref, "cannot change roleRef")}
	}
	return nil
}

// rbacValidateBinding checks a binding's role reference (of one of kinds)
// and its subjects; subjects of cluster-wide bindings must name the
// namespace of a service account.
func rbacValidateBinding(ref rbacv1.RoleRef, subjects []rbacv1.Subject, kinds []string, namespaced bool) field.ErrorList {
	var errs field.ErrorList
	rp := field.NewPath("roleRef")
	if ref.APIGroup != rbacv1.GroupName {
		errs = append(errs, field.NotSupported(rp.Child("apiGroup"), ref.APIGroup, []string{rbacv1.GroupName}))
	}
	kindOK := false
	for _, k := range kinds {
		kindOK = kindOK || ref.Kind == k
	}
	if !kindOK {
		errs = append(errs, field.NotSupported(rp.Child("kind"), ref.Kind, kinds))
	}
	if ref.Name == "" {
		errs = append(errs, field.Required(rp.Child("name"), ""))
	} else {
		for _, msg := range content.IsPathSegmentName(ref.Name) {
			errs = append(errs, field.Invalid(rp.Child("name"), ref.Name, msg))
		}
	}
	for i, s := range subjects {
		errs = append(errs, rbacValidateSubject(s, namespaced, field.NewPath("subjects").Index(i))...)
	}
	return errs
}

func rbacValidateSubject(s rbacv1.Subject, namespaced bool, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Name == "" {
		errs = append(errs, field.Required(fldPath.Child("name"), ""))
	}
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		if s.Name != "" {
			errs = append(errs, groupDNSSubdomain(s.Name, fldPath.Child("name"))...)
		}
		if s.APIGroup != "" {
			errs = append(errs, field.NotSupported(fldPath.Child("apiGroup"), s.APIGroup, []string{""}))
		}
		if !namespaced && s.Namespace == "" {
			errs = append(errs, field.Required(fldPath.Child("namespace"), ""))
		}
	case rbacv1.UserKind, rbacv1.GroupKind:
		if s.APIGroup != rbacv1.GroupName {
			errs = append(errs, field.NotSupported(fldPath.Child("apiGroup"), s.APIGroup, []string{rbacv1.GroupName}))
		}
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("kind"), s.Kind,
			[]string{rbacv1.ServiceAccountKind, rbacv1.UserKind, rbacv1.GroupKind}))
	}
	return errs
}

func rbacBindingTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			column("Role", "string", "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace.", 0),
			ageColumn,
			column("Users", "string", "Users in the roleBinding", 1),
			column("Groups", "string", "Groups in the roleBinding", 1),
			column("ServiceAccounts", "string", "ServiceAccounts in the roleBinding", 1),
		},
		Row: func(obj runtime.Object) []any {
			var ref rbacv1.RoleRef
			var subjects []rbacv1.Subject
			var created metav1.Time
			switch b := obj.(type) {
			case *rbacv1.RoleBinding:
				ref, subjects, created = b.RoleRef, b.Subjects, b.CreationTimestamp
			case *rbacv1.ClusterRoleBinding:
				ref, subjects, created = b.RoleRef, b.Subjects, b.CreationTimestamp
			}
			var users, groups, sas []string
			for _, s := range subjects {
				switch s.Kind {
				case rbacv1.ServiceAccountKind:
					sas = append(sas, s.Namespace+"/"+s.Name)
				case rbacv1.UserKind:
					users = append(users, s.Name)
				case rbacv1.GroupKind:
					groups = append(groups, s.Name)
				}
			}
			return []any{fmt.Sprintf("%s/%s", ref.Kind, ref.Name), age(created),
				strings.Join(users, ", "), strings.Join(groups, ", "), strings.Join(sas, ", ")}
		},
	}
}

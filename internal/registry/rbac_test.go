package registry

import (
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestRBACRules(t *testing.T) {
	role := groupTestResource(t, rbacv1.GroupName, "roles")
	clusterRole := groupTestResource(t, rbacv1.GroupName, "clusterroles")
	for _, tc := range []struct {
		name       string
		rule       rbacv1.PolicyRule
		wantRole   []string
		wantClustr []string
	}{
		{name: "resource rule", rule: rbacv1.PolicyRule{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods"}}},
		{name: "no verbs", rule: rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}},
			wantRole: []string{"rules[0].verbs: Required value"}, wantClustr: []string{"rules[0].verbs: Required value"}},
		{name: "no api groups", rule: rbacv1.PolicyRule{Verbs: []string{"get"}, Resources: []string{"pods"}},
			wantRole: []string{"rules[0].apiGroups: Required value"}, wantClustr: []string{"rules[0].apiGroups: Required value"}},
		{name: "no resources", rule: rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{"apps"}},
			wantRole: []string{"rules[0].resources: Required value"}, wantClustr: []string{"rules[0].resources: Required value"}},
		{name: "non-resource URLs", rule: rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}},
			wantRole: []string{"rules[0].nonResourceURLs: Invalid value"}},
		{name: "mixed", rule: rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}, Resources: []string{"pods"}},
			wantRole:   []string{"rules[0].nonResourceURLs: Invalid value", "rules[0].nonResourceURLs: Invalid value"},
			wantClustr: []string{"rules[0].nonResourceURLs: Invalid value"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			groupTestCheckErrs(t, role.Validate(&rbacv1.Role{Rules: []rbacv1.PolicyRule{tc.rule}}), tc.wantRole)
			groupTestCheckErrs(t, clusterRole.Validate(&rbacv1.ClusterRole{Rules: []rbacv1.PolicyRule{tc.rule}}), tc.wantClustr)
		})
	}
	groupTestCheckErrs(t, clusterRole.Validate(&rbacv1.ClusterRole{AggregationRule: &rbacv1.AggregationRule{}}),
		[]string{"aggregationRule.clusterRoleSelectors: Required value"})

	created := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	groupTestCheckTable(t, role.Table, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: created}},
		"Created At", []any{"2026-01-02T03:04:05Z"})
}

func TestRBACBindings(t *testing.T) {
	rb := groupTestResource(t, rbacv1.GroupName, "rolebindings")
	crb := groupTestResource(t, rbacv1.GroupName, "clusterrolebindings")
	subjects := func() []rbacv1.Subject {
		return []rbacv1.Subject{
			{Kind: rbacv1.UserKind, Name: "alice"},
			{Kind: rbacv1.GroupKind, Name: "system:masters"},
			{Kind: rbacv1.ServiceAccountKind, Name: "default", Namespace: "kube-system"},
		}
	}
	binding := &rbacv1.RoleBinding{RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "reader"}, Subjects: subjects()}
	rb.Default(binding)
	if binding.RoleRef.APIGroup != rbacv1.GroupName || binding.Subjects[0].APIGroup != rbacv1.GroupName ||
		binding.Subjects[1].APIGroup != rbacv1.GroupName || binding.Subjects[2].APIGroup != "" {
		t.Errorf("defaulted binding = %+v", binding)
	}

	for _, tc := range []struct {
		name    string
		ref     rbacv1.RoleRef
		subject rbacv1.Subject
		wantRB  []string
		wantCRB []string
	}{
		{name: "cluster role", ref: rbacv1.RoleRef{Kind: "ClusterRole", Name: "system:aggregate-to-view"},
			subject: rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "default", Namespace: "default"}},
		{name: "role", ref: rbacv1.RoleRef{Kind: "Role", Name: "reader"}, subject: rbacv1.Subject{Kind: rbacv1.UserKind, Name: "alice"},
			wantCRB: []string{"roleRef.kind: Unsupported value"}},
		{name: "bad kind", ref: rbacv1.RoleRef{Kind: "Policy", Name: "reader"}, subject: rbacv1.Subject{Kind: rbacv1.UserKind, Name: "alice"},
			wantRB: []string{"roleRef.kind: Unsupported value"}, wantCRB: []string{"roleRef.kind: Unsupported value"}},
		{name: "bad api group", ref: rbacv1.RoleRef{APIGroup: "example.com", Kind: "ClusterRole", Name: "x"},
			subject: rbacv1.Subject{Kind: rbacv1.UserKind, Name: "alice"},
			wantRB:  []string{"roleRef.apiGroup: Unsupported value"}, wantCRB: []string{"roleRef.apiGroup: Unsupported value"}},
		{name: "no role name", ref: rbacv1.RoleRef{Kind: "ClusterRole"}, subject: rbacv1.Subject{Kind: rbacv1.UserKind, Name: "alice"},
			wantRB: []string{"roleRef.name: Required value"}, wantCRB: []string{"roleRef.name: Required value"}},
		{name: "role name with slash", ref: rbacv1.RoleRef{Kind: "ClusterRole", Name: "a/b"}, subject: rbacv1.Subject{Kind: rbacv1.UserKind, Name: "alice"},
			wantRB: []string{"roleRef.name: Invalid value"}, wantCRB: []string{"roleRef.name: Invalid value"}},
		{name: "service account without namespace", ref: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"},
			subject: rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "default"},
			wantCRB: []string{"subjects[0].namespace: Required value"}},
		{name: "service account with api group", ref: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"},
			subject: rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "default", Namespace: "default", APIGroup: rbacv1.GroupName},
			wantRB:  []string{"subjects[0].apiGroup: Unsupported value"}, wantCRB: []string{"subjects[0].apiGroup: Unsupported value"}},
		{name: "unknown subject kind", ref: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"},
			subject: rbacv1.Subject{Kind: "Robot", Name: "r2"},
			wantRB:  []string{"subjects[0].kind: Unsupported value"}, wantCRB: []string{"subjects[0].kind: Unsupported value"}},
		{name: "nameless subject", ref: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"}, subject: rbacv1.Subject{Kind: rbacv1.GroupKind},
			wantRB: []string{"subjects[0].name: Required value"}, wantCRB: []string{"subjects[0].name: Required value"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &rbacv1.RoleBinding{RoleRef: tc.ref, Subjects: []rbacv1.Subject{tc.subject}}
			rb.Default(b)
			groupTestCheckErrs(t, rb.Validate(b), tc.wantRB)
			cb := &rbacv1.ClusterRoleBinding{RoleRef: tc.ref, Subjects: []rbacv1.Subject{tc.subject}}
			crb.Default(cb)
			groupTestCheckErrs(t, crb.Validate(cb), tc.wantCRB)
		})
	}

	// roleRef is immutable; subjects are not.
	old := &rbacv1.ClusterRoleBinding{RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"}, Subjects: subjects()}
	crb.Default(old)
	for _, tc := range []struct {
		name   string
		mutate func(*rbacv1.ClusterRoleBinding)
		want   []string
	}{
		{name: "subjects", mutate: func(b *rbacv1.ClusterRoleBinding) { b.Subjects = b.Subjects[:1] }},
		{name: "roleRef", mutate: func(b *rbacv1.ClusterRoleBinding) { b.RoleRef.Name = "edit" }, want: []string{"roleRef: Invalid value"}},
	} {
		t.Run("update "+tc.name, func(t *testing.T) {
			b := old.DeepCopy()
			tc.mutate(b)
			groupTestCheckErrs(t, crb.ValidateUpdate(b, old), tc.want)
		})
	}
	oldRB := &rbacv1.RoleBinding{RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "reader"}}
	newRB := oldRB.DeepCopy()
	newRB.RoleRef.Kind = "ClusterRole"
	groupTestCheckErrs(t, rb.ValidateUpdate(newRB, oldRB), []string{"roleRef: Invalid value"})

	for _, obj := range []runtime.Object{old, &rbacv1.RoleBinding{RoleRef: old.RoleRef, Subjects: subjects()}} {
		table := crb.Table
		if _, ok := obj.(*rbacv1.RoleBinding); ok {
			table = rb.Table
		}
		groupTestCheckTable(t, table, obj, "Role,Age,Users,Groups,ServiceAccounts",
			[]any{"ClusterRole/view", "<unknown>", "alice", "system:masters", "kube-system/default"})
	}
}

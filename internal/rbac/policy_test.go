package rbac_test

import (
	"context"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/k1s/k1s/internal/authz"
	"github.com/k1s/k1s/internal/rbac"
)

// aggregatedDefaults returns the default cluster roles with aggregation
// applied until nothing changes, as the controller would leave them.
func aggregatedDefaults(t *testing.T) map[string]*rbacv1.ClusterRole {
	t.Helper()
	roles := rbac.DefaultClusterRoles()
	for round := 0; ; round++ {
		if round > len(roles) {
			t.Fatal("aggregation does not converge")
		}
		changed := false
		for _, r := range roles {
			rules, err := rbac.AggregateRules(r, roles)
			if err != nil {
				t.Fatal(err)
			}
			if !equality.Semantic.DeepEqual(rules, r.Rules) {
				r.Rules, changed = rules, true
			}
		}
		if !changed {
			break
		}
	}
	byName := map[string]*rbacv1.ClusterRole{}
	for _, r := range roles {
		byName[r.Name] = r
	}
	return byName
}

func TestDefaultPolicyMetadata(t *testing.T) {
	var objs []metav1.Object
	for _, o := range rbac.DefaultClusterRoles() {
		objs = append(objs, o)
	}
	for _, o := range rbac.DefaultClusterRoleBindings() {
		objs = append(objs, o)
	}
	for _, o := range rbac.DefaultRoles() {
		objs = append(objs, o)
	}
	for _, o := range rbac.DefaultRoleBindings() {
		objs = append(objs, o)
	}
	seen := map[string]bool{}
	for _, o := range objs {
		key := o.GetNamespace() + "/" + o.GetName()
		if o.GetLabels()[rbac.BootstrapLabel] != "rbac-defaults" {
			t.Errorf("%s: no %s label", key, rbac.BootstrapLabel)
		}
		if o.GetAnnotations()[rbac.AutoUpdateAnnotation] != "true" {
			t.Errorf("%s: no %s annotation", key, rbac.AutoUpdateAnnotation)
		}
		kind := map[bool]string{true: "binding", false: "role"}[isBinding(o)]
		if seen[kind+key] {
			t.Errorf("%s %s defined twice", kind, key)
		}
		seen[kind+key] = true
	}
}

func isBinding(o metav1.Object) bool {
	switch o.(type) {
	case *rbacv1.ClusterRoleBinding, *rbacv1.RoleBinding:
		return true
	}
	return false
}

// TestDefaultRulesValid checks the rules as the api-server validates them.
func TestDefaultRulesValid(t *testing.T) {
	check := func(owner string, rules []rbacv1.PolicyRule, namespaced bool) {
		for i, r := range rules {
			switch {
			case len(r.Verbs) == 0:
				t.Errorf("%s rule %d: no verbs", owner, i)
			case len(r.NonResourceURLs) > 0 && (namespaced || len(r.APIGroups)+len(r.Resources)+len(r.ResourceNames) > 0):
				t.Errorf("%s rule %d: non-resource URLs mixed with resources or in a Role", owner, i)
			case len(r.NonResourceURLs) == 0 && (len(r.APIGroups) == 0 || len(r.Resources) == 0):
				t.Errorf("%s rule %d: resource rule without groups or resources", owner, i)
			}
		}
	}
	for _, r := range rbac.DefaultClusterRoles() {
		check(r.Name, r.Rules, false)
		if r.AggregationRule != nil && len(r.Rules) > 0 {
			t.Errorf("%s: aggregated role with rules of its own", r.Name)
		}
	}
	for _, r := range rbac.DefaultRoles() {
		check(r.Namespace+"/"+r.Name, r.Rules, true)
	}
}

func TestDefaultBindingsReferToDefaultRoles(t *testing.T) {
	clusterRoles := map[string]bool{}
	for _, r := range rbac.DefaultClusterRoles() {
		clusterRoles[r.Name] = true
	}
	roles := map[string]bool{}
	for _, r := range rbac.DefaultRoles() {
		roles[r.Namespace+"/"+r.Name] = true
	}
	checkSubjects := func(binding string, subjects []rbacv1.Subject) {
		if len(subjects) == 0 {
			t.Errorf("%s binds nobody", binding)
		}
		for _, s := range subjects {
			switch {
			case s.Kind == rbacv1.ServiceAccountKind && (s.Namespace == "" || s.APIGroup != ""),
				(s.Kind == rbacv1.UserKind || s.Kind == rbacv1.GroupKind) && s.APIGroup != rbacv1.GroupName:
				t.Errorf("%s: malformed subject %+v", binding, s)
			}
		}
	}
	for _, b := range rbac.DefaultClusterRoleBindings() {
		if b.RoleRef.Kind != "ClusterRole" || b.RoleRef.APIGroup != rbacv1.GroupName || !clusterRoles[b.RoleRef.Name] {
			t.Errorf("ClusterRoleBinding %s refers to %+v, not a default ClusterRole", b.Name, b.RoleRef)
		}
		checkSubjects(b.Name, b.Subjects)
	}
	for _, b := range rbac.DefaultRoleBindings() {
		ok := b.RoleRef.Kind == "Role" && roles[b.Namespace+"/"+b.RoleRef.Name] ||
			b.RoleRef.Kind == "ClusterRole" && clusterRoles[b.RoleRef.Name]
		if !ok || b.RoleRef.APIGroup != rbacv1.GroupName {
			t.Errorf("RoleBinding %s/%s refers to %+v, not a default role", b.Namespace, b.Name, b.RoleRef)
		}
		checkSubjects(b.Namespace+"/"+b.Name, b.Subjects)
	}
}

func TestDefaultsAreFresh(t *testing.T) {
	a := rbac.DefaultClusterRoles()
	a[0].Rules[0].Verbs[0] = "changed"
	a[0].Labels["x"] = "y"
	b := rbac.DefaultClusterRoles()
	if b[0].Rules[0].Verbs[0] == "changed" || b[0].Labels["x"] == "y" {
		t.Error("DefaultClusterRoles returns shared objects")
	}
}

func TestAggregatedRolesNest(t *testing.T) {
	roles := aggregatedDefaults(t)
	admin, edit, view := roles["admin"].Rules, roles["edit"].Rules, roles["view"].Rules
	if len(view) == 0 {
		t.Fatal("view has no rules after aggregation")
	}
	if ok, missing := rbac.Covers(admin, edit); !ok {
		t.Errorf("admin does not cover edit: missing %v", missing)
	}
	if ok, missing := rbac.Covers(edit, view); !ok {
		t.Errorf("edit does not cover view: missing %v", missing)
	}
	if ok, _ := rbac.Covers(view, edit); ok {
		t.Error("view covers edit")
	}
	if ok, _ := rbac.Covers(edit, admin); ok {
		t.Error("edit covers admin")
	}
	for _, r := range view {
		for _, res := range r.Resources {
			if res == "secrets" || res == "*" {
				t.Errorf("view grants %v", r)
			}
		}
	}
}

// TestDefaultPolicy authorizes typical requests against the default
// policy, aggregated, with the user-facing roles bound in namespace team.
func TestDefaultPolicy(t *testing.T) {
	var objs []runtime.Object
	for _, r := range aggregatedDefaults(t) {
		objs = append(objs, r)
	}
	for _, b := range rbac.DefaultClusterRoleBindings() {
		objs = append(objs, b)
	}
	for _, r := range rbac.DefaultRoles() {
		objs = append(objs, r)
	}
	for _, b := range rbac.DefaultRoleBindings() {
		objs = append(objs, b)
	}
	objs = append(objs,
		rb("team", "viewers", "ClusterRole", "view", userSubject("viewer")),
		rb("team", "editors", "ClusterRole", "edit", userSubject("editor")),
		rb("team", "admins", "ClusterRole", "admin", userSubject("admin")),
	)
	z := newAuthorizer(t, objs...)

	const authn, unauthn = "system:authenticated", "system:unauthenticated"
	const ingress = "system:serviceaccount:kube-system:k1s-ingress"
	const dns = "system:serviceaccount:kube-system:k1s-dns"
	allowed := []authz.Attributes{
		res("system:admin", "delete", "", "", "nodes", "", "n1", "system:masters", authn),
		nonRes("system:admin", "get", "/metrics", "system:masters", authn),
		res("viewer", "get", "team", "", "pods", "", "p", authn),
		res("viewer", "get", "team", "", "pods", "log", "p", authn),
		res("viewer", "list", "team", "apps", "deployments", "", "", authn),
		res("viewer", "watch", "team", "batch", "cronjobs", "", "", authn),
		res("viewer", "get", "team", "", "namespaces", "", "team", authn),
		res("viewer", "list", "team", "discovery.k8s.io", "endpointslices", "", "", authn),
		res("editor", "get", "team", "", "secrets", "", "s", authn),
		res("editor", "create", "team", "", "pods", "exec", "p", authn),
		res("editor", "create", "team", "", "pods", "portforward", "p", authn),
		res("editor", "create", "team", "", "serviceaccounts", "token", "default", authn),
		res("editor", "update", "team", "apps", "deployments", "scale", "d", authn),
		res("editor", "create", "team", "networking.k8s.io", "ingresses", "", "", authn),
		res("editor", "list", "team", "", "pods", "", "", authn),
		res("admin", "create", "team", "rbac.authorization.k8s.io", "rolebindings", "", "", authn),
		res("admin", "create", "team", "authorization.k8s.io", "localsubjectaccessreviews", "", "", authn),
		res("admin", "delete", "team", "", "secrets", "", "s", authn),
		res("anyone", "create", "", "authorization.k8s.io", "selfsubjectaccessreviews", "", "", authn),
		res("anyone", "create", "", "authorization.k8s.io", "selfsubjectrulesreviews", "", "", authn),
		res("anyone", "create", "", "authentication.k8s.io", "selfsubjectreviews", "", "", authn),
		nonRes("anyone", "get", "/apis/apps/v1", authn),
		nonRes("anyone", "get", "/version", authn),
		nonRes("system:anonymous", "get", "/healthz", unauthn),
		nonRes("system:anonymous", "get", "/version", unauthn),
		nonRes("prometheus", "get", "/metrics", "system:monitoring", authn),
		nonRes("system:serviceaccount:x:y", "get", "/openid/v1/jwks", "system:serviceaccounts", authn),
		res("system:kube-scheduler", "create", "team", "", "pods", "binding", "p", authn),
		res("system:kube-scheduler", "patch", "team", "", "pods", "status", "p", authn),
		res("system:kube-scheduler", "update", "kube-system", "coordination.k8s.io", "leases", "", "kube-scheduler", authn),
		res("system:kube-scheduler", "update", "", "", "persistentvolumes", "", "pv", authn),
		res("system:kube-scheduler", "patch", "team", "", "persistentvolumeclaims", "", "c", authn),
		res("system:kube-scheduler", "list", "", "storage.k8s.io", "storageclasses", "", "", authn),
		res("system:kube-scheduler", "get", "kube-system", "", "configmaps", "", "extension-apiserver-authentication", authn),
		res("system:kube-controller-manager", "deletecollection", "team", "example.com", "widgets", "", "", authn),
		res("system:kube-controller-manager", "escalate", "", "rbac.authorization.k8s.io", "clusterroles", "", "admin", authn),
		res("system:kube-proxy", "watch", "", "discovery.k8s.io", "endpointslices", "", "", authn),
		res("system:kube-proxy", "get", "", "", "nodes", "", "n1", authn),
		res(ingress, "list", "", "networking.k8s.io", "ingressclasses", "", "", authn),
		res(ingress, "update", "team", "networking.k8s.io", "ingresses", "status", "web", authn),
		res(ingress, "watch", "", "", "secrets", "", "", authn),
		res(dns, "watch", "", "", "pods", "", "", authn),
		res(dns, "list", "", "discovery.k8s.io", "endpointslices", "", "", authn),
		res("system:k1s-local-path-provisioner", "create", "", "", "persistentvolumes", "", "", authn),
		res("system:k1s-local-path-provisioner", "patch", "team", "", "persistentvolumeclaims", "", "c", authn),
		res("system:k1s-local-path-provisioner", "create", "team", "", "events", "", "", authn),
	}
	notAllowed := []authz.Attributes{
		res("viewer", "get", "team", "", "secrets", "", "s", authn),
		res("viewer", "list", "team", "", "secrets", "", "", authn),
		res("viewer", "create", "team", "", "pods", "exec", "p", authn),
		res("viewer", "get", "other", "", "pods", "", "p", authn),
		res("viewer", "list", "", "", "pods", "", "", authn),
		res("editor", "create", "team", "rbac.authorization.k8s.io", "rolebindings", "", "", authn),
		res("editor", "create", "team", "rbac.authorization.k8s.io", "roles", "", "", authn),
		res("admin", "update", "", "", "namespaces", "", "team", authn),
		res("admin", "create", "", "rbac.authorization.k8s.io", "clusterrolebindings", "", "", authn),
		res("anyone", "list", "team", "", "pods", "", "", authn),
		nonRes("system:anonymous", "get", "/api", unauthn),
		nonRes("anyone", "get", "/metrics", authn),
		res("system:anonymous", "create", "", "authorization.k8s.io", "selfsubjectaccessreviews", "", "", unauthn),
		res("system:node:n1", "get", "team", "", "secrets", "", "s", "system:nodes", authn),
		res("system:kube-scheduler", "update", "kube-system", "coordination.k8s.io", "leases", "", "kube-controller-manager", authn),
		res("system:kube-scheduler", "get", "team", "", "secrets", "", "s", authn),
		res("system:kube-proxy", "list", "team", "", "secrets", "", "", authn),
		res(ingress, "update", "team", "networking.k8s.io", "ingresses", "", "web", authn),
		res(dns, "get", "team", "", "secrets", "", "s", authn),
		res("system:k1s-local-path-provisioner", "get", "team", "", "secrets", "", "s", authn),
	}
	for _, a := range allowed {
		if d, reason, _ := z.Authorize(context.Background(), a); d != authz.Allow {
			t.Errorf("%s %s %s/%s/%s %s%s in %q: %v (%s), want Allow", a.User, a.Verb, a.APIGroup, a.Resource, a.Subresource, a.Name, a.Path, a.Namespace, d, reason)
		}
	}
	for _, a := range notAllowed {
		if d, reason, _ := z.Authorize(context.Background(), a); d != authz.NoOpinion {
			t.Errorf("%s %s %s/%s/%s %s%s in %q: %v (%s), want NoOpinion", a.User, a.Verb, a.APIGroup, a.Resource, a.Subresource, a.Name, a.Path, a.Namespace, d, reason)
		}
	}
}

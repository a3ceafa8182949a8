package rbac_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/k1s/k1s/internal/authz"
	"github.com/k1s/k1s/internal/rbac"
)

// newAuthorizer returns an Authorizer over listers holding objs.
func newAuthorizer(t *testing.T, objs ...runtime.Object) *rbac.Authorizer {
	t.Helper()
	newIndexer := func() cache.Indexer {
		return cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	}
	roles, bindings, clusterRoles, clusterBindings := newIndexer(), newIndexer(), newIndexer(), newIndexer()
	for _, o := range objs {
		var err error
		switch o.(type) {
		case *rbacv1.Role:
			err = roles.Add(o)
		case *rbacv1.RoleBinding:
			err = bindings.Add(o)
		case *rbacv1.ClusterRole:
			err = clusterRoles.Add(o)
		case *rbacv1.ClusterRoleBinding:
			err = clusterBindings.Add(o)
		default:
			err = fmt.Errorf("unexpected %T", o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return rbac.New(rbac.Options{
		Roles:               rbaclisters.NewRoleLister(roles),
		RoleBindings:        rbaclisters.NewRoleBindingLister(bindings),
		ClusterRoles:        rbaclisters.NewClusterRoleLister(clusterRoles),
		ClusterRoleBindings: rbaclisters.NewClusterRoleBindingLister(clusterBindings),
	})
}

func pr(verbs, groups, resources []string, names ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, APIGroups: groups, Resources: resources, ResourceNames: names}
}

func nr(verbs []string, urls ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, NonResourceURLs: urls}
}

func l(s ...string) []string { return s }

func crole(name string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
}

func nsrole(ns, name string, rules ...rbacv1.PolicyRule) *rbacv1.Role {
	return &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: rules}
}

func crb(name, role string, subjects ...rbacv1.Subject) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role}, Subjects: subjects}
}

func rb(ns, name, kind, role string, subjects ...rbacv1.Subject) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: role}, Subjects: subjects}
}

func userSubject(n string) rbacv1.Subject  { return rbacv1.Subject{Kind: "User", Name: n} }
func groupSubject(n string) rbacv1.Subject { return rbacv1.Subject{Kind: "Group", Name: n} }
func saSubject(ns, n string) rbacv1.Subject {
	return rbacv1.Subject{Kind: "ServiceAccount", Namespace: ns, Name: n}
}

// fixture is a small policy exercising each kind of binding and rule.
func fixture() []runtime.Object {
	return []runtime.Object{
		crole("pod-reader", pr(l("get", "list", "watch"), l(""), l("pods"))),
		crole("named-secret", pr(l("get", "update"), l(""), l("secrets"), "db")),
		crole("logs", pr(l("get"), l(""), l("pods/log"))),
		crole("scaler", pr(l("get", "update"), l("apps"), l("*/scale"))),
		crole("everything", pr(l("*"), l("*"), l("*")), nr(l("*"), "*")),
		crole("health", nr(l("get"), "/healthz", "/logs/*")),
		nsrole("ns1", "deployer", pr(l("create", "update"), l("apps"), l("deployments"))),

		crb("readers", "pod-reader", userSubject("alice")),
		crb("admins", "everything", groupSubject("admins")),
		crb("health", "health", groupSubject("system:authenticated")),
		crb("dangling", "missing", userSubject("carol")),
		crb("odd-subject", "everything", rbacv1.Subject{Kind: "Robot", Name: "alice"}, saSubject("", "nobody")),
		rb("ns1", "deployers", "Role", "deployer", rbacv1.Subject{Kind: "Unknown", Name: "bob"}, userSubject("bob"), saSubject("", "ci")),
		rb("ns1", "named-secrets", "ClusterRole", "named-secret", saSubject("ns2", "robot")),
		rb("ns1", "scalers", "ClusterRole", "scaler", groupSubject("scalers")),
		rb("ns1", "logs", "ClusterRole", "logs", userSubject("dave")),
		rb("ns2", "deployers", "Role", "deployer", userSubject("erin")), // no Role deployer in ns2
	}
}

func res(user, verb, ns, group, resource, sub, name string, groups ...string) authz.Attributes {
	return authz.Attributes{User: user, Groups: groups, Verb: verb, ResourceRequest: true,
		Namespace: ns, APIGroup: group, APIVersion: "v1", Resource: resource, Subresource: sub, Name: name}
}

func nonRes(user, verb, path string, groups ...string) authz.Attributes {
	return authz.Attributes{User: user, Groups: groups, Verb: verb, Path: path}
}

func TestAuthorize(t *testing.T) {
	z := newAuthorizer(t, fixture()...)
	tests := []struct {
		name   string
		attrs  authz.Attributes
		want   authz.Decision
		reason string // exact if it starts with "RBAC: allowed", else a substring
	}{
		{"user via clusterrolebinding", res("alice", "get", "ns1", "", "pods", "", "p"), authz.Allow,
			`RBAC: allowed by ClusterRoleBinding "readers" of ClusterRole "pod-reader" to User "alice"`},
		{"cluster-wide list", res("alice", "list", "", "", "pods", "", ""), authz.Allow,
			`RBAC: allowed by ClusterRoleBinding "readers" of ClusterRole "pod-reader" to User "alice"`},
		{"verb not granted", res("alice", "delete", "ns1", "", "pods", "", "p"), authz.NoOpinion, ""},
		{"resource does not grant its subresource", res("alice", "get", "ns1", "", "pods", "log", "p"), authz.NoOpinion, ""},
		{"other user", res("mallory", "get", "ns1", "", "pods", "", "p"), authz.NoOpinion, ""},
		{"subresource rule", res("dave", "get", "ns1", "", "pods", "log", "p"), authz.Allow,
			`RBAC: allowed by RoleBinding "logs/ns1" of ClusterRole "logs" to User "dave"`},
		{"subresource rule not the resource", res("dave", "get", "ns1", "", "pods", "", "p"), authz.NoOpinion, ""},
		{"rolebinding only in its namespace", res("dave", "get", "ns2", "", "pods", "log", "p"), authz.NoOpinion, ""},
		{"rolebinding not cluster-wide", res("dave", "get", "", "", "pods", "log", "p"), authz.NoOpinion, ""},
		{"role via rolebinding", res("bob", "create", "ns1", "apps", "deployments", "", ""), authz.Allow,
			`RBAC: allowed by RoleBinding "deployers/ns1" of Role "deployer" to User "bob"`},
		{"api group must match", res("bob", "create", "ns1", "extensions", "deployments", "", ""), authz.NoOpinion, ""},
		{"role not in other namespace", res("bob", "create", "ns2", "apps", "deployments", "", ""), authz.NoOpinion, ""},
		{"service account defaults to binding namespace", res("system:serviceaccount:ns1:ci", "update", "ns1", "apps", "deployments", "", "d"), authz.Allow,
			`RBAC: allowed by RoleBinding "deployers/ns1" of Role "deployer" to ServiceAccount "ci/ns1"`},
		{"service account of another namespace", res("system:serviceaccount:ns2:ci", "update", "ns1", "apps", "deployments", "", "d"), authz.NoOpinion, ""},
		{"service account in another namespace", res("system:serviceaccount:ns2:robot", "get", "ns1", "", "secrets", "", "db"), authz.Allow,
			`RBAC: allowed by RoleBinding "named-secrets/ns1" of ClusterRole "named-secret" to ServiceAccount "robot/ns2"`},
		{"resource name not listed", res("system:serviceaccount:ns2:robot", "get", "ns1", "", "secrets", "", "other"), authz.NoOpinion, ""},
		{"resource names never match list", res("system:serviceaccount:ns2:robot", "list", "ns1", "", "secrets", "", ""), authz.NoOpinion, ""},
		{"resource names never match create", res("system:serviceaccount:ns2:robot", "create", "ns1", "", "secrets", "", ""), authz.NoOpinion, ""},
		{"*/scale", res("u", "update", "ns1", "apps", "deployments", "scale", "d", "scalers"), authz.Allow,
			`RBAC: allowed by RoleBinding "scalers/ns1" of ClusterRole "scaler" to Group "scalers"`},
		{"*/scale not the resource", res("u", "get", "ns1", "apps", "deployments", "", "d", "scalers"), authz.NoOpinion, ""},
		{"*/scale not another subresource", res("u", "get", "ns1", "apps", "deployments", "status", "d", "scalers"), authz.NoOpinion, ""},
		{"*/scale group must match", res("u", "get", "ns1", "", "replicationcontrollers", "scale", "r", "scalers"), authz.NoOpinion, ""},
		{"wildcards", res("root", "escalate", "", "rbac.authorization.k8s.io", "clusterroles", "", "x", "admins"), authz.Allow,
			`RBAC: allowed by ClusterRoleBinding "admins" of ClusterRole "everything" to Group "admins"`},
		{"* covers subresources", res("root", "create", "ns9", "", "pods", "exec", "p", "admins"), authz.Allow,
			`RBAC: allowed by ClusterRoleBinding "admins" of ClusterRole "everything" to Group "admins"`},
		{"* covers URLs", nonRes("root", "post", "/anything", "admins"), authz.Allow,
			`RBAC: allowed by ClusterRoleBinding "admins" of ClusterRole "everything" to Group "admins"`},
		{"non-resource URL", nonRes("x", "get", "/healthz", "system:authenticated"), authz.Allow,
			`RBAC: allowed by ClusterRoleBinding "health" of ClusterRole "health" to Group "system:authenticated"`},
		{"non-resource verb", nonRes("x", "post", "/healthz", "system:authenticated"), authz.NoOpinion, ""},
		{"non-resource prefix", nonRes("x", "get", "/logs/kube.log", "system:authenticated"), authz.Allow,
			`RBAC: allowed by ClusterRoleBinding "health" of ClusterRole "health" to Group "system:authenticated"`},
		{"non-resource prefix needs the slash", nonRes("x", "get", "/logs", "system:authenticated"), authz.NoOpinion, ""},
		{"non-resource exact", nonRes("x", "get", "/healthz/etcd", "system:authenticated"), authz.NoOpinion, ""},
		{"URL rule does not grant resources", res("x", "get", "", "", "healthz", "", "", "system:authenticated"), authz.NoOpinion, ""},
		{"resource rule does not grant URLs", nonRes("alice", "get", "/api/v1/pods"), authz.NoOpinion, ""},
		{"unknown subject kinds never match", res("alice", "escalate", "", "", "x", "", ""), authz.NoOpinion, ""},
		{"service account without namespace in a cluster binding", res("system:serviceaccount::nobody", "get", "", "", "x", "", ""), authz.NoOpinion, ""},
		{"missing cluster role is reported", res("carol", "get", "ns1", "", "pods", "", "p"), authz.NoOpinion,
			`clusterrole.rbac.authorization.k8s.io "missing" not found`},
		{"missing role is reported", res("erin", "create", "ns2", "apps", "deployments", "", ""), authz.NoOpinion,
			`role.rbac.authorization.k8s.io "deployer" not found`},
		{"missing role does not stop others", res("carol", "get", "ns1", "", "pods", "", "p", "admins"), authz.Allow,
			`RBAC: allowed by ClusterRoleBinding "admins" of ClusterRole "everything" to Group "admins"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, reason, err := z.Authorize(context.Background(), tc.attrs)
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if d != tc.want {
				t.Errorf("decision = %v, want %v (reason %q)", d, tc.want, reason)
			}
			switch {
			case strings.HasPrefix(tc.reason, "RBAC: allowed"):
				if reason != tc.reason {
					t.Errorf("reason = %q, want %q", reason, tc.reason)
				}
			case !strings.Contains(reason, tc.reason):
				t.Errorf("reason = %q, want it to contain %q", reason, tc.reason)
			case tc.reason == "" && reason != "":
				t.Errorf("reason = %q, want none", reason)
			}
		})
	}
}

func TestRulesFor(t *testing.T) {
	z := newAuthorizer(t, fixture()...)
	tests := []struct {
		name                string
		user                string
		groups              []string
		namespace           string
		resource, nonResRes []rbacv1.PolicyRule
		incomplete          bool
	}{
		{"cluster-wide only", "alice", l("system:authenticated"), "",
			[]rbacv1.PolicyRule{pr(l("get", "list", "watch"), l(""), l("pods"))},
			[]rbacv1.PolicyRule{nr(l("get"), "/healthz", "/logs/*")}, false},
		{"namespace adds rolebindings", "bob", nil, "ns1",
			[]rbacv1.PolicyRule{pr(l("create", "update"), l("apps"), l("deployments"))}, nil, false},
		{"none elsewhere", "bob", nil, "ns2", nil, nil, false},
		{"a rule for both", "root", l("admins"), "",
			[]rbacv1.PolicyRule{pr(l("*"), l("*"), l("*"))}, []rbacv1.PolicyRule{nr(l("*"), "*")}, false},
		{"missing role", "carol", nil, "ns1", nil, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resource, nonResource, incomplete, err := z.RulesFor(context.Background(), tc.user, tc.groups, tc.namespace)
			if !reflect.DeepEqual(resource, tc.resource) {
				t.Errorf("resource rules = %v, want %v", resource, tc.resource)
			}
			if !reflect.DeepEqual(nonResource, tc.nonResRes) {
				t.Errorf("non-resource rules = %v, want %v", nonResource, tc.nonResRes)
			}
			if incomplete != tc.incomplete || (err != nil) != tc.incomplete {
				t.Errorf("incomplete = %v, err = %v, want incomplete %v", incomplete, err, tc.incomplete)
			}
		})
	}
}

func TestRulesForCopies(t *testing.T) {
	z := newAuthorizer(t, fixture()...)
	rules, _, _, _ := z.RulesFor(context.Background(), "alice", nil, "")
	rules[0].Verbs[0] = "delete"
	if d, _, _ := z.Authorize(context.Background(), res("alice", "delete", "", "", "pods", "", "p")); d != authz.NoOpinion {
		t.Errorf("changing RulesFor's result changed the policy")
	}
}

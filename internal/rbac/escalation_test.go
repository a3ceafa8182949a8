package rbac_test

import (
	"context"
	"reflect"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/k1s/k1s/internal/rbac"
)

func TestCovers(t *testing.T) {
	type rules = []rbacv1.PolicyRule
	tests := []struct {
		name           string
		owner, servant rules
		missing        rules
	}{
		{"everything covers everything",
			rules{pr(l("*"), l("*"), l("*")), nr(l("*"), "*")},
			rules{pr(l("escalate", "bind"), l("*"), l("*"), "x"), nr(l("get"), "/metrics")}, nil},
		{"nothing to grant", nil, nil, nil},
		{"same rule", rules{pr(l("get", "list"), l(""), l("pods"))}, rules{pr(l("list", "get"), l(""), l("pods"))}, nil},
		{"split across owner rules",
			rules{pr(l("get"), l(""), l("pods")), pr(l("list"), l(""), l("pods", "services"))},
			rules{pr(l("get", "list"), l(""), l("pods"))}, nil},
		{"a verb missing",
			rules{pr(l("get"), l(""), l("pods"))},
			rules{pr(l("get", "list"), l(""), l("pods"))},
			rules{pr(l("list"), l(""), l("pods"))}},
		{"broken down per group, resource and verb",
			rules{pr(l("get"), l("apps"), l("deployments"))},
			rules{pr(l("get", "delete"), l("apps", "extensions"), l("deployments"))},
			rules{pr(l("delete"), l("apps"), l("deployments")), pr(l("get"), l("extensions"), l("deployments")), pr(l("delete"), l("extensions"), l("deployments"))}},
		{"named owner covers the same names",
			rules{pr(l("get"), l(""), l("secrets"), "a", "b")},
			rules{pr(l("get"), l(""), l("secrets"), "a")}, nil},
		{"named owner does not cover other names",
			rules{pr(l("get"), l(""), l("secrets"), "a")},
			rules{pr(l("get"), l(""), l("secrets"), "a", "c")},
			rules{pr(l("get"), l(""), l("secrets"), "c")}},
		{"named owner does not cover all names",
			rules{pr(l("get"), l(""), l("secrets"), "a")},
			rules{pr(l("get"), l(""), l("secrets"))},
			rules{pr(l("get"), l(""), l("secrets"))}},
		{"unnamed owner covers names",
			rules{pr(l("get"), l(""), l("secrets"))},
			rules{pr(l("get"), l(""), l("secrets"), "a")}, nil},
		{"*/scale covers a scale subresource",
			rules{pr(l("get"), l("apps"), l("*/scale"))},
			rules{pr(l("get"), l("apps"), l("deployments/scale", "statefulsets/scale"))}, nil},
		{"*/scale does not cover the resource",
			rules{pr(l("get"), l("apps"), l("*/scale"))},
			rules{pr(l("get"), l("apps"), l("deployments"))},
			rules{pr(l("get"), l("apps"), l("deployments"))}},
		{"a resource does not cover its subresources",
			rules{pr(l("get"), l(""), l("pods"))},
			rules{pr(l("get"), l(""), l("pods/log"))},
			rules{pr(l("get"), l(""), l("pods/log"))}},
		{"wildcards are covered only by wildcards",
			rules{pr(l("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"), l("", "apps"), l("pods", "deployments"))},
			rules{pr(l("*"), l("apps"), l("deployments")), pr(l("get"), l("*"), l("pods")), pr(l("get"), l(""), l("*"))},
			rules{pr(l("*"), l("apps"), l("deployments")), pr(l("get"), l("*"), l("pods")), pr(l("get"), l(""), l("*"))}},
		{"verb wildcard covers any verb",
			rules{pr(l("*"), l(""), l("serviceaccounts"))},
			rules{pr(l("impersonate"), l(""), l("serviceaccounts"))}, nil},
		{"URL prefix",
			rules{nr(l("get"), "/api/*", "/healthz")},
			rules{nr(l("get"), "/api/v1", "/healthz")}, nil},
		{"URL outside the prefix",
			rules{nr(l("get"), "/api/*")},
			rules{nr(l("get", "post"), "/apis", "/api/v1")},
			rules{nr(l("get"), "/apis"), nr(l("post"), "/apis"), nr(l("post"), "/api/v1")}},
		{"resource rules do not cover URLs",
			rules{pr(l("get"), l("*"), l("*"))},
			rules{nr(l("get"), "/healthz")},
			rules{nr(l("get"), "/healthz")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, missing := rbac.Covers(tc.owner, tc.servant)
			if ok != (len(tc.missing) == 0) {
				t.Errorf("covers = %v, want %v", ok, len(tc.missing) == 0)
			}
			if !reflect.DeepEqual(missing, tc.missing) {
				t.Errorf("missing = %v\nwant      %v", missing, tc.missing)
			}
		})
	}
}

func TestConfirmNoEscalation(t *testing.T) {
	z := newAuthorizer(t, fixture()...)
	tests := []struct {
		name      string
		user      string
		groups    []string
		namespace string
		rules     []rbacv1.PolicyRule
		want      string // "" for allowed
	}{
		{"held in the namespace", "bob", nil, "ns1",
			[]rbacv1.PolicyRule{pr(l("create"), l("apps"), l("deployments"))}, ""},
		{"held cluster-wide, granted in a namespace", "alice", nil, "ns1",
			[]rbacv1.PolicyRule{pr(l("get", "watch"), l(""), l("pods"))}, ""},
		{"held in the namespace only", "bob", l("system:authenticated"), "",
			[]rbacv1.PolicyRule{pr(l("create"), l("apps"), l("deployments"))},
			`user "bob" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:` + "\n" +
				`{APIGroups:["apps"], Resources:["deployments"], Verbs:["create"]}`},
		{"missing rights listed, verbs merged, sorted", "bob", l("system:authenticated"), "ns1",
			[]rbacv1.PolicyRule{
				pr(l("get", "list"), l(""), l("secrets")),
				pr(l("create", "delete"), l("apps"), l("deployments")),
				pr(l("get"), l(""), l("configmaps"), "a", "b"),
				nr(l("get"), "/healthz", "/metrics"),
			},
			`user "bob" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:` + "\n" +
				`{APIGroups:[""], Resources:["configmaps"], ResourceNames:["a"], Verbs:["get"]}` + "\n" +
				`{APIGroups:[""], Resources:["configmaps"], ResourceNames:["b"], Verbs:["get"]}` + "\n" +
				`{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}` + "\n" +
				`{APIGroups:["apps"], Resources:["deployments"], Verbs:["delete"]}` + "\n" +
				`{NonResourceURLs:["/metrics"], Verbs:["get"]}`},
		{"resolution errors appended", "carol", nil, "",
			[]rbacv1.PolicyRule{pr(l("get"), l(""), l("pods"))},
			`user "carol" (groups=[]) is attempting to grant RBAC permissions not currently held:` + "\n" +
				`{APIGroups:[""], Resources:["pods"], Verbs:["get"]}; resolution errors: clusterrole.rbac.authorization.k8s.io "missing" not found`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := z.ConfirmNoEscalation(context.Background(), tc.user, tc.groups, tc.namespace, tc.rules)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("err = %q\nwant  %q", got, tc.want)
			}
		})
	}
}

func TestCompactString(t *testing.T) {
	tests := []struct {
		rule rbacv1.PolicyRule
		want string
	}{
		{pr(l("get"), l(""), l("pods")), `{APIGroups:[""], Resources:["pods"], Verbs:["get"]}`},
		{pr(l("get", "update"), l("apps"), l("deployments"), "web"), `{APIGroups:["apps"], Resources:["deployments"], ResourceNames:["web"], Verbs:["get" "update"]}`},
		{nr(l("get"), "/healthz"), `{NonResourceURLs:["/healthz"], Verbs:["get"]}`},
		{rbacv1.PolicyRule{}, `{}`},
	}
	for _, tc := range tests {
		if got := rbac.CompactString(tc.rule); got != tc.want {
			t.Errorf("CompactString(%v) = %s, want %s", tc.rule, got, tc.want)
		}
	}
}

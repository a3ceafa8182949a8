package rbac_test

import (
	"reflect"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k1s/k1s/internal/rbac"
)

func labelled(name string, labels map[string]string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
	r := crole(name, rules...)
	r.Labels = labels
	return r
}

func aggregating(name string, labels map[string]string, selectors ...metav1.LabelSelector) *rbacv1.ClusterRole {
	r := labelled(name, labels, pr(l("stale"), l(""), l("old")))
	r.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: selectors}
	return r
}

func matchLabel(k string) metav1.LabelSelector {
	return metav1.LabelSelector{MatchLabels: map[string]string{k: "true"}}
}

func TestAggregateRules(t *testing.T) {
	get := pr(l("get"), l(""), l("pods"))
	list := pr(l("list"), l(""), l("pods"))
	urlRule := nr(l("get"), "/x")
	yes := map[string]string{"a": "true"}
	both := map[string]string{"a": "true", "b": "true"}
	others := []*rbacv1.ClusterRole{
		labelled("z-second", yes, list, get),
		labelled("a-first", yes, get),
		labelled("b-only", map[string]string{"b": "true"}, urlRule),
		labelled("both", both, get, urlRule),
		labelled("none", nil, pr(l("*"), l("*"), l("*"))),
	}
	tests := []struct {
		name string
		role *rbacv1.ClusterRole
		want []rbacv1.PolicyRule
	}{
		{"not aggregated keeps its rules", labelled("plain", nil, list), []rbacv1.PolicyRule{list}},
		{"union in name order, each rule once", aggregating("agg", nil, matchLabel("a")), []rbacv1.PolicyRule{get, urlRule, list}},
		{"selectors in order", aggregating("agg", nil, matchLabel("b"), matchLabel("a")), []rbacv1.PolicyRule{urlRule, get, list}},
		{"one selector", aggregating("agg", nil, matchLabel("b")), []rbacv1.PolicyRule{urlRule, get}},
		{"itself skipped", aggregating("both", both, matchLabel("b")), []rbacv1.PolicyRule{urlRule}},
		{"nothing selected empties", aggregating("agg", nil, matchLabel("c")), []rbacv1.PolicyRule{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			all := append([]*rbacv1.ClusterRole{tc.role}, others...)
			got, err := rbac.AggregateRules(tc.role, all)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("rules = %v\nwant    %v", got, tc.want)
			}
		})
	}

	bad := aggregating("bad", nil, metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Near"}}})
	if _, err := rbac.AggregateRules(bad, others); err == nil {
		t.Error("invalid selector: no error")
	}

	// The result is a copy.
	got, _ := rbac.AggregateRules(aggregating("agg", nil, matchLabel("a")), others)
	got[0].Verbs[0] = "delete"
	if others[1].Rules[0].Verbs[0] != "get" {
		t.Error("AggregateRules shares rules with its input")
	}
}

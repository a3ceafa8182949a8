package clusterroleaggregation_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/k1s/k1s/internal/controller/clusterroleaggregation"
	"github.com/k1s/k1s/internal/rbac"
	"github.com/k1s/k1s/internal/testcluster"
)

// converged applies aggregation to roles until nothing changes and
// returns the rules of each role by name.
func converged(t *testing.T, roles []*rbacv1.ClusterRole) map[string][]rbacv1.PolicyRule {
	t.Helper()
	for changed, round := true, 0; changed; round++ {
		if round > len(roles) {
			t.Fatal("aggregation does not converge")
		}
		changed = false
		for _, r := range roles {
			rules, err := rbac.AggregateRules(r, roles)
			if err != nil {
				t.Fatal(err)
			}
			if !equality.Semantic.DeepEqual(rules, r.Rules) {
				r.Rules, changed = rules, true
			}
		}
	}
	out := map[string][]rbacv1.PolicyRule{}
	for _, r := range roles {
		out[r.Name] = r.Rules
	}
	return out
}

func TestAggregates(t *testing.T) {
	cfg := testcluster.StartAPIServer(t)
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := clusterroleaggregation.New(clusterroleaggregation.Options{
		Client: client, ClusterRoles: factory.Rbac().V1().ClusterRoles(), Logger: testcluster.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	factory.Start(ctx.Done())
	t.Cleanup(func() { cancel(); <-done; factory.Shutdown() })

	// The api-server wrote the default roles (already aggregated) at start.
	roles := client.RbacV1().ClusterRoles()
	hasRules := func(want map[string][]rbacv1.PolicyRule) func() error {
		return func() error {
			for name, rules := range want {
				r, err := roles.Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return err
				}
				if !equality.Semantic.DeepEqual(r.Rules, rules) {
					return fmt.Errorf("%s has rules %v\nwant %v", name, r.Rules, rules)
				}
			}
			return nil
		}
	}
	userFacing := func(all map[string][]rbacv1.PolicyRule) map[string][]rbacv1.PolicyRule {
		return map[string][]rbacv1.PolicyRule{"admin": all["admin"], "edit": all["edit"], "view": all["view"]}
	}
	defaults := converged(t, rbac.DefaultClusterRoles())
	if len(defaults["view"]) == 0 {
		t.Fatal("view aggregates nothing")
	}
	testcluster.Eventually(t, 10*time.Second, hasRules(userFacing(defaults)))
	base, err := roles.Get(ctx, "system:aggregate-to-view", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// A role labelled for view reaches view, edit and admin.
	widgets := rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{"example.com"}, Resources: []string{"widgets"}}
	extra := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "widget-viewer", Labels: map[string]string{rbac.AggregateToViewLabel: "true"}},
		Rules:      []rbacv1.PolicyRule{widgets},
	}
	extra, err = roles.Create(ctx, extra, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	withExtra := converged(t, append(rbac.DefaultClusterRoles(), extra.DeepCopy()))
	testcluster.Eventually(t, 10*time.Second, hasRules(userFacing(withExtra)))
	for _, name := range []string{"admin", "edit", "view"} {
		if !slices.ContainsFunc(withExtra[name], func(r rbacv1.PolicyRule) bool { return equality.Semantic.DeepEqual(r, widgets) }) {
			t.Errorf("%s lacks %v", name, widgets)
		}
	}

	// Tampered with, an aggregated role is put back.
	view, err := roles.Get(ctx, "view", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	view.Rules = []rbacv1.PolicyRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}}
	if _, err := roles.Update(ctx, view, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, hasRules(userFacing(withExtra)))

	// Unlabelled, its rules leave every aggregated role.
	extra.Labels = nil
	if _, err := roles.Update(ctx, extra, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, hasRules(userFacing(defaults)))

	// Roles without an aggregationRule are never written.
	after, err := roles.Get(ctx, "system:aggregate-to-view", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != base.ResourceVersion {
		t.Errorf("system:aggregate-to-view was written: resourceVersion %s -> %s", base.ResourceVersion, after.ResourceVersion)
	}

	// A new aggregated role is filled, and emptied when its sources go.
	own := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "widget-admin"},
		AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{
			{MatchLabels: map[string]string{"example.com/widgets": "true"}},
		}},
	}
	if _, err := roles.Create(ctx, own, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	source := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "widget-source", Labels: map[string]string{"example.com/widgets": "true"}},
		Rules:      []rbacv1.PolicyRule{widgets},
	}
	if _, err := roles.Create(ctx, source, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, hasRules(map[string][]rbacv1.PolicyRule{"widget-admin": {widgets}}))
	if err := roles.Delete(ctx, "widget-source", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, hasRules(map[string][]rbacv1.PolicyRule{"widget-admin": nil}))
}

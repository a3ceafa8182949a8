package apiserver

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/k1s/k1s/internal/rbac"
)

// autoupdateAnnotation marks default policy the api-server may extend at
// start (set to "false" to keep one's own edits of a default role).
const autoupdateAnnotation = "rbac.authorization.kubernetes.io/autoupdate"

// bootstrapRBAC writes the default roles and bindings (internal/rbac) as
// upstream's api-server does at every start: missing objects are created;
// existing ones annotated autoupdate=true get the default rules and
// subjects they lack, and keep what was added to them. The aggregated
// roles (admin, edit, view) are written already aggregated so that they
// work before the controller-manager runs.
func (s *Server) bootstrapRBAC(ctx context.Context) error {
	if !s.served(gvrClusterRoles, gvrClusterRoleBindings, gvrRoles, gvrRoleBindings) {
		return nil
	}
	roles := rbac.DefaultClusterRoles()
	for range 4 { // aggregated roles aggregating aggregated roles converge
		for _, r := range roles {
			if r.AggregationRule == nil {
				continue
			}
			rules, err := rbac.AggregateRules(r, roles)
			if err != nil {
				return err
			}
			r.Rules = rules
		}
	}
	for _, r := range roles {
		if err := s.reconcileDefault(ctx, gvrClusterRoles, r, mergeClusterRole); err != nil {
			return err
		}
	}
	for _, b := range rbac.DefaultClusterRoleBindings() {
		if err := s.reconcileDefault(ctx, gvrClusterRoleBindings, b, mergeClusterRoleBinding); err != nil {
			return err
		}
	}
	for _, r := range rbac.DefaultRoles() {
		if err := s.reconcileDefault(ctx, gvrRoles, r, mergeRole); err != nil {
			return err
		}
	}
	for _, b := range rbac.DefaultRoleBindings() {
		if err := s.reconcileDefault(ctx, gvrRoleBindings, b, mergeRoleBinding); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) served(gvrs ...schema.GroupVersionResource) bool {
	for _, g := range gvrs {
		if s.resources[g] == nil {
			return false
		}
	}
	return true
}

// reconcileDefault creates want, or merges it into the stored object when
// that is annotated autoupdate=true.
func (s *Server) reconcileDefault(ctx context.Context, gvr schema.GroupVersionResource, want runtime.Object, merge func(cur, want runtime.Object)) error {
	res := s.resources[gvr]
	m, _ := metaOf(want)
	gvk := res.GroupVersionKind()
	obj := want.DeepCopyObject()
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	_, err := s.createObject(ctx, res, m.GetNamespace(), obj, false)
	if !apierrors.IsAlreadyExists(err) {
		if err != nil {
			return fmt.Errorf("default %s %s: %w", res.Singular, m.GetName(), err)
		}
		return nil
	}
	_, err = s.updateObject(ctx, res, requestInfo{Namespace: m.GetNamespace(), Name: m.GetName()}, false, func(cur runtime.Object) (runtime.Object, error) {
		cm, _ := metaOf(cur)
		if cm.GetAnnotations()[autoupdateAnnotation] != "true" {
			return cur, nil
		}
		merge(cur, want)
		return cur, nil
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("default %s %s: %w", res.Singular, m.GetName(), err)
	}
	return nil
}

func mergeRules(cur *[]rbacv1.PolicyRule, want []rbacv1.PolicyRule) {
	for _, w := range want {
		found := false
		for _, c := range *cur {
			if equality.Semantic.DeepEqual(c, w) {
				found = true
				break
			}
		}
		if !found {
			*cur = append(*cur, *w.DeepCopy())
		}
	}
}

func mergeSubjects(cur *[]rbacv1.Subject, want []rbacv1.Subject) {
	for _, w := range want {
		found := false
		for _, c := range *cur {
			if c == w {
				found = true
				break
			}
		}
		if !found {
			*cur = append(*cur, w)
		}
	}
}

func mergeLabels(cur, want map[string]string) map[string]string {
	if cur == nil && len(want) > 0 {
		cur = map[string]string{}
	}
	for k, v := range want {
		cur[k] = v
	}
	return cur
}

func mergeClusterRole(cur, want runtime.Object) {
	c, w := cur.(*rbacv1.ClusterRole), want.(*rbacv1.ClusterRole)
	c.Labels = mergeLabels(c.Labels, w.Labels)
	if w.AggregationRule != nil {
		c.AggregationRule = w.AggregationRule.DeepCopy()
	}
	mergeRules(&c.Rules, w.Rules)
}

func mergeRole(cur, want runtime.Object) {
	c, w := cur.(*rbacv1.Role), want.(*rbacv1.Role)
	c.Labels = mergeLabels(c.Labels, w.Labels)
	mergeRules(&c.Rules, w.Rules)
}

func mergeClusterRoleBinding(cur, want runtime.Object) {
	c, w := cur.(*rbacv1.ClusterRoleBinding), want.(*rbacv1.ClusterRoleBinding)
	c.Labels = mergeLabels(c.Labels, w.Labels)
	mergeSubjects(&c.Subjects, w.Subjects)
}

func mergeRoleBinding(cur, want runtime.Object) {
	c, w := cur.(*rbacv1.RoleBinding), want.(*rbacv1.RoleBinding)
	c.Labels = mergeLabels(c.Labels, w.Labels)
	mergeSubjects(&c.Subjects, w.Subjects)
}

package apiserver

import (
	"context"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/k1s/k1s/internal/admission"
	"github.com/k1s/k1s/internal/authz"
	"github.com/k1s/k1s/internal/storage"
)

// The admission chain runs on every write after defaulting: mutators
// first (before validation), then, once the object is valid, the
// validators, quota last (admit.go's chargeQuota), as upstream orders its
// plugins. Namespace lifecycle, the ServiceAccount and DefaultStorageClass
// plugins are older and built into the create path (write.go).

// warningsKey carries the response headers into which admission writes
// warnings (upstream's Warning: 299 headers).
type warningsKey struct{}

func withWarnings(ctx context.Context, h http.Header) context.Context {
	return context.WithValue(ctx, warningsKey{}, h)
}

func addWarnings(ctx context.Context, msgs []string) {
	h, ok := ctx.Value(warningsKey{}).(http.Header)
	if !ok {
		return
	}
	for _, m := range msgs {
		h.Add("Warning", fmt.Sprintf("299 - %q", m))
	}
}

func (s *Server) admissionAttributes(ctx context.Context, op admission.Operation, res *resource, sub string, obj, old runtime.Object, dry bool) *admission.Attributes {
	a := &admission.Attributes{
		Operation: op, Resource: res.GroupVersionResource(), Kind: res.GroupVersionKind(), Subresource: sub,
		Object: obj, OldObject: old, DryRun: dry,
	}
	src := obj
	if src == nil {
		src = old
	}
	if m, err := metaOf(src); err == nil {
		a.Namespace, a.Name = m.GetNamespace(), m.GetName()
	}
	if u, ok := UserFrom(ctx); ok {
		a.User, a.Groups, a.UID, a.Extra = u.Name, u.Groups, u.UID, u.Extra
	}
	return a
}

// mutate runs the mutating plugins.
func (s *Server) mutate(ctx context.Context, a *admission.Attributes) error {
	for _, m := range s.mutators {
		if err := m.Admit(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

// validateAdmission runs the validating plugins and the RBAC escalation
// check.
func (s *Server) validateAdmission(ctx context.Context, a *admission.Attributes) error {
	for _, v := range s.validators {
		if err := v.Validate(ctx, a); err != nil {
			return err
		}
	}
	if err := s.checkRBACEscalation(ctx, a); err != nil {
		return err
	}
	return nil
}

// checkRBACEscalation refuses a role or binding that would give its author
// permissions it does not hold, unless it may escalate (roles) or bind
// (bindings), as upstream.
func (s *Server) checkRBACEscalation(ctx context.Context, a *admission.Attributes) error {
	if a.Resource.Group != rbacv1.GroupName || a.Object == nil || s.rules == nil || a.User == "" || hasGroup(a.Groups, privilegedGroup) || s.alwaysAllow {
		return nil
	}
	ask := func(verb, resource, namespace, name string) bool {
		return s.can(ctx, authz.Attributes{Verb: verb, APIGroup: rbacv1.GroupName, Resource: resource, Namespace: namespace, Name: name})
	}
	var rules []rbacv1.PolicyRule
	ns := a.Namespace
	switch o := a.Object.(type) {
	case *rbacv1.Role:
		if ask("escalate", "roles", ns, o.Name) {
			return nil
		}
		rules = o.Rules
	case *rbacv1.ClusterRole:
		if ask("escalate", "clusterroles", "", o.Name) {
			return nil
		}
		rules = o.Rules
		if o.AggregationRule != nil {
			// it may come to hold any rule: only who holds every rule may write it
			rules = []rbacv1.PolicyRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
				{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}}
		}
	case *rbacv1.RoleBinding:
		r, err := s.roleRefRules(ns, o.RoleRef, ask)
		if r == nil || err != nil {
			return err
		}
		rules = *r
	case *rbacv1.ClusterRoleBinding:
		ns = ""
		r, err := s.roleRefRules("", o.RoleRef, ask)
		if r == nil || err != nil {
			return err
		}
		rules = *r
	default:
		return nil
	}
	if err := s.rules.ConfirmNoEscalation(ctx, a.User, a.Groups, ns, rules); err != nil {
		return apierrors.NewForbidden(a.Resource.GroupResource(), a.Name, err)
	}
	return nil
}

// roleRefRules returns the rules a binding grants, or nil when the author
// may bind the role anyway.
func (s *Server) roleRefRules(ns string, ref rbacv1.RoleRef, ask func(verb, resource, namespace, name string) bool) (*[]rbacv1.PolicyRule, error) {
	switch ref.Kind {
	case "ClusterRole":
		if ask("bind", "clusterroles", ns, ref.Name) {
			return nil, nil
		}
		obj, err := s.getCached(context.Background(), gvrClusterRoles, "", ref.Name)
		if err != nil {
			return &[]rbacv1.PolicyRule{}, nil // binding a missing role grants nothing (yet)
		}
		return &obj.(*rbacv1.ClusterRole).Rules, nil
	case "Role":
		if ask("bind", "roles", ns, ref.Name) {
			return nil, nil
		}
		obj, err := s.getCached(context.Background(), gvrRoles, ns, ref.Name)
		if err != nil {
			return &[]rbacv1.PolicyRule{}, nil
		}
		return &obj.(*rbacv1.Role).Rules, nil
	}
	return nil, nil // validation refuses other kinds
}

// quotaCharger computes, for the quotas of a namespace, the usage a write
// adds (internal/quota.Admit): the quotas to write back, or a refusal.
type quotaCharger func(quotas []*corev1.ResourceQuota, a *admission.Attributes) ([]*corev1.ResourceQuota, error)

// chargeQuota is the ResourceQuota plugin, last in the chain: it adds the
// write's usage to every matching quota of the namespace with a
// compare-and-swap on each quota, and refuses the write when a quota would
// be exceeded. Usage is released by the resourcequota controller, which
// recomputes status.used from the objects that exist.
func (s *Server) chargeQuota(ctx context.Context, a *admission.Attributes) error {
	if s.quota == nil || a.Namespace == "" || a.Subresource != "" && a.Subresource != "resize" {
		return nil
	}
	qres := s.resources[gvrResourceQuotas]
	if qres == nil || a.Resource == gvrResourceQuotas {
		return nil
	}
	if a.Operation == admission.Update && a.Resource != gvrPods && a.Resource != gvrPVCs && a.Resource != gvrServices {
		return nil // only these change their usage after creation
	}
	// A namespace without quotas (in the watch cache) costs nothing more;
	// one with quotas is charged from a consistent read, so that the
	// writes just before this one are counted.
	cached, err := qres.store.List(ctx, qres.listPrefix(a.Namespace), storage.ListOptions{ResourceVersion: "0", Recursive: true})
	if err != nil {
		return toAPIError(err, qres.gr, "")
	}
	if len(cached.(*corev1.ResourceQuotaList).Items) == 0 {
		return nil
	}
	for attempt := 0; attempt < 8; attempt++ {
		list, err := qres.store.List(ctx, qres.listPrefix(a.Namespace), storage.ListOptions{Recursive: true})
		if err != nil {
			return toAPIError(err, qres.gr, "")
		}
		items := list.(*corev1.ResourceQuotaList).Items
		if len(items) == 0 {
			return nil
		}
		quotas := make([]*corev1.ResourceQuota, len(items))
		for i := range items {
			quotas[i] = &items[i]
		}
		updated, err := s.quota(quotas, a)
		if err != nil {
			return err
		}
		conflict := false
		for _, q := range updated {
			want := q.ResourceVersion
			_, err := qres.store.GuaranteedUpdate(ctx, qres.key(q.Namespace, q.Name), false,
				&storage.Preconditions{ResourceVersion: &want}, func(cur runtime.Object) (runtime.Object, error) {
					out := cur.(*corev1.ResourceQuota).DeepCopy()
					out.Status.Used = q.Status.Used
					return out, nil
				})
			if storage.IsConflict(err) || storage.IsNotFound(err) {
				conflict = true
				break
			}
			if err != nil {
				return toAPIError(err, qres.gr, q.Name)
			}
		}
		if !conflict {
			return nil
		}
	}
	return apierrors.NewConflict(qres.gr, "", fmt.Errorf("too many concurrent quota updates in namespace %s", a.Namespace))
}

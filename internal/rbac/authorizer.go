package rbac

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"

	"github.com/k1s/k1s/internal/authz"
)

// Options give the Authorizer the RBAC objects to read. All four listers
// are required.
type Options struct {
	Roles               rbaclisters.RoleLister
	RoleBindings        rbaclisters.RoleBindingLister
	ClusterRoles        rbaclisters.ClusterRoleLister
	ClusterRoleBindings rbaclisters.ClusterRoleBindingLister
}

// Authorizer is the RBAC authorizer. It is safe for concurrent use.
type Authorizer struct {
	roles               rbaclisters.RoleLister
	roleBindings        rbaclisters.RoleBindingLister
	clusterRoles        rbaclisters.ClusterRoleLister
	clusterRoleBindings rbaclisters.ClusterRoleBindingLister
}

// New returns an Authorizer reading o's listers. A missing lister is a
// wiring mistake and panics.
func New(o Options) *Authorizer {
	if o.Roles == nil || o.RoleBindings == nil || o.ClusterRoles == nil || o.ClusterRoleBindings == nil {
		panic("rbac.New: Roles, RoleBindings, ClusterRoles and ClusterRoleBindings listers are required")
	}
	return &Authorizer{
		roles:               o.Roles,
		roleBindings:        o.RoleBindings,
		clusterRoles:        o.ClusterRoles,
		clusterRoleBindings: o.ClusterRoleBindings,
	}
}

var _ authz.Authorizer = (*Authorizer)(nil)

// Authorize allows a if a rule bound to its user allows it, with a reason
// naming the binding, role and subject. Otherwise it has no opinion; the
// reason then lists the bindings that could not be evaluated (a missing
// role), if any. It never denies and never returns an error: a broken
// binding only loses the rights it would have granted.
func (z *Authorizer) Authorize(_ context.Context, a authz.Attributes) (authz.Decision, string, error) {
	var reason string
	errs := z.visitRules(a.User, a.Groups, a.Namespace, func(src source, rule *rbacv1.PolicyRule) bool {
		if ruleAllows(a, rule) {
			reason = "RBAC: allowed by " + src.String()
			return false
		}
		return true
	})
	if reason != "" {
		return authz.Allow, reason, nil
	}
	if len(errs) > 0 {
		return authz.NoOpinion, "RBAC: " + joinErrors(errs), nil
	}
	return authz.NoOpinion, "", nil
}

// RulesFor lists the rules that apply to the user in namespace: those of
// the cluster roles bound cluster-wide, and, for a non-empty namespace,
// those bound by the namespace's RoleBindings. Rules naming resources are
// returned in resourceRules, rules naming non-resource URLs in
// nonResourceRules. incomplete is true when some binding could not be
// evaluated; err then says why, and the rules returned are still the
// ones that could be (as in a SelfSubjectRulesReview's
// status.incomplete and evaluationError).
func (z *Authorizer) RulesFor(_ context.Context, user string, groups []string, namespace string) (resourceRules, nonResourceRules []rbacv1.PolicyRule, incomplete bool, err error) {
	rules, errs := z.rulesFor(user, groups, namespace)
	for _, r := range rules {
		if len(r.Resources) > 0 {
			resourceRules = append(resourceRules, r)
		}
		if len(r.NonResourceURLs) > 0 {
			nonResourceRules = append(nonResourceRules, r)
		}
	}
	if len(errs) > 0 {
		return resourceRules, nonResourceRules, true, errors.New(joinErrors(errs))
	}
	return resourceRules, nonResourceRules, false, nil
}

// rulesFor returns deep copies of every rule applying to the user in
// namespace, and the errors met on the way.
func (z *Authorizer) rulesFor(user string, groups []string, namespace string) ([]rbacv1.PolicyRule, []error) {
	var rules []rbacv1.PolicyRule
	errs := z.visitRules(user, groups, namespace, func(_ source, rule *rbacv1.PolicyRule) bool {
		rules = append(rules, *rule.DeepCopy())
		return true
	})
	return rules, errs
}

// source describes where a rule came from, for reasons.
type source struct {
	bindingKind      string // ClusterRoleBinding or RoleBinding
	bindingName      string
	bindingNamespace string
	roleRef          rbacv1.RoleRef
	subject          *rbacv1.Subject
}

// String reads as upstream's: ClusterRoleBinding "b" of ClusterRole "r"
// to Group "g"; a RoleBinding is named "name/namespace".
func (s source) String() string {
	name := s.bindingName
	if s.bindingKind == "RoleBinding" {
		name += "/" + s.bindingNamespace
	}
	return fmt.Sprintf("%s %q of %s %q to %s", s.bindingKind, name, s.roleRef.Kind, s.roleRef.Name, describeSubject(s.subject, s.bindingNamespace))
}

func describeSubject(s *rbacv1.Subject, bindingNamespace string) string {
	if s.Kind == rbacv1.ServiceAccountKind {
		ns := cmp.Or(s.Namespace, bindingNamespace)
		return fmt.Sprintf("%s %q", s.Kind, s.Name+"/"+ns)
	}
	return fmt.Sprintf("%s %q", s.Kind, s.Name)
}

// visitRules calls visit with every rule bound to the user in namespace,
// ClusterRoleBindings first then the namespace's RoleBindings, each in
// name order, until visit returns false. It returns the errors met:
// roles that could not be read are skipped.
func (z *Authorizer) visitRules(user string, groups []string, namespace string, visit func(source, *rbacv1.PolicyRule) bool) []error {
	var errs []error
	crbs, err := z.clusterRoleBindings.List(labels.Everything())
	if err != nil {
		errs = append(errs, fmt.Errorf("listing clusterrolebindings: %w", err))
	}
	slices.SortFunc(crbs, func(a, b *rbacv1.ClusterRoleBinding) int { return strings.Compare(a.Name, b.Name) })
	for _, b := range crbs {
		subject := appliesTo(user, groups, b.Subjects, "")
		if subject == nil {
			continue
		}
		rules, err := z.roleRules(b.RoleRef, "")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		src := source{bindingKind: "ClusterRoleBinding", bindingName: b.Name, roleRef: b.RoleRef, subject: subject}
		for i := range rules {
			if !visit(src, &rules[i]) {
				return errs
			}
		}
	}
	if namespace == "" {
		return errs
	}
	rbs, err := z.roleBindings.RoleBindings(namespace).List(labels.Everything())
	if err != nil {
		errs = append(errs, fmt.Errorf("listing rolebindings in %q: %w", namespace, err))
	}
	slices.SortFunc(rbs, func(a, b *rbacv1.RoleBinding) int { return strings.Compare(a.Name, b.Name) })
	for _, b := range rbs {
		subject := appliesTo(user, groups, b.Subjects, b.Namespace)
		if subject == nil {
			continue
		}
		rules, err := z.roleRules(b.RoleRef, b.Namespace)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		src := source{bindingKind: "RoleBinding", bindingName: b.Name, bindingNamespace: b.Namespace, roleRef: b.RoleRef, subject: subject}
		for i := range rules {
			if !visit(src, &rules[i]) {
				return errs
			}
		}
	}
	return errs
}

// roleRules returns the rules of the role ref points to; a Role is looked
// up in the binding's namespace. The slice belongs to the cache: read only.
func (z *Authorizer) roleRules(ref rbacv1.RoleRef, namespace string) ([]rbacv1.PolicyRule, error) {
	switch ref.Kind {
	case "ClusterRole":
		r, err := z.clusterRoles.Get(ref.Name)
		if err != nil {
			return nil, err
		}
		return r.Rules, nil
	case "Role":
		r, err := z.roles.Roles(namespace).Get(ref.Name)
		if err != nil {
			return nil, err
		}
		return r.Rules, nil
	}
	return nil, fmt.Errorf("unsupported role reference kind: %q", ref.Kind)
}

// appliesTo returns the first subject naming the user, one of its groups,
// or its service account; a ServiceAccount subject without a namespace is
// in the binding's.
func appliesTo(user string, groups []string, subjects []rbacv1.Subject, bindingNamespace string) *rbacv1.Subject {
	for i := range subjects {
		s := &subjects[i]
		switch s.Kind {
		case rbacv1.UserKind:
			if s.Name == user {
				return s
			}
		case rbacv1.GroupKind:
			if slices.Contains(groups, s.Name) {
				return s
			}
		case rbacv1.ServiceAccountKind:
			ns := cmp.Or(s.Namespace, bindingNamespace)
			if ns != "" && user == "system:serviceaccount:"+ns+":"+s.Name {
				return s
			}
		}
	}
	return nil
}

// joinErrors formats errors as upstream's aggregate does: one alone as
// itself, several as "[a, b]".
func joinErrors(errs []error) string {
	if len(errs) == 1 {
		return errs[0].Error()
	}
	msgs := make([]string, len(errs))
	for i, err := range errs {
		msgs[i] = err.Error()
	}
	return "[" + strings.Join(msgs, ", ") + "]"
}

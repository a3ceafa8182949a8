package rbac

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// ConfirmNoEscalation returns nil if the user already holds every one of
// rules in namespace ("" = through ClusterRoleBindings only), and
// otherwise an error listing the rights missing, in upstream's words:
//
//	user "bob" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:
//	{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}
//
// The api-server wraps it in a Forbidden status for the role or binding
// being written. Bindings that cannot be evaluated only shrink what the
// user holds; they are appended to the message as resolution errors.
func (z *Authorizer) ConfirmNoEscalation(_ context.Context, user string, groups []string, namespace string, rules []rbacv1.PolicyRule) error {
	owner, errs := z.rulesFor(user, groups, namespace)
	ok, missing := Covers(owner, rules)
	if ok {
		return nil
	}
	var lines []string
	for _, r := range compactRules(missing) {
		lines = append(lines, CompactString(r))
	}
	slices.Sort(lines)
	lines = slices.Compact(lines)
	msg := fmt.Sprintf("user %q (groups=%q) is attempting to grant RBAC permissions not currently held:\n%s", user, groups, strings.Join(lines, "\n"))
	if len(errs) > 0 {
		msg += "; resolution errors: " + joinErrors(errs)
	}
	return errors.New(msg)
}

// Covers reports whether the owner rules grant everything the servant
// rules grant. It breaks the servant rules down into rules of one verb,
// one API group, one resource and at most one resource name (or one verb
// and one non-resource URL) and returns those no owner rule covers.
func Covers(owner, servant []rbacv1.PolicyRule) (bool, []rbacv1.PolicyRule) {
	var missing []rbacv1.PolicyRule
	for _, s := range servant {
		for _, sub := range breakdown(s) {
			if !slices.ContainsFunc(owner, func(o rbacv1.PolicyRule) bool { return ruleCovers(&o, &sub) }) {
				missing = append(missing, sub)
			}
		}
	}
	return len(missing) == 0, missing
}

// breakdown splits a rule into single-verb, single-group,
// single-resource, single-name rules, and single-verb single-URL ones.
func breakdown(r rbacv1.PolicyRule) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for _, g := range r.APIGroups {
		for _, res := range r.Resources {
			for _, v := range r.Verbs {
				if len(r.ResourceNames) == 0 {
					out = append(out, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: []string{res}, Verbs: []string{v}})
					continue
				}
				for _, n := range r.ResourceNames {
					out = append(out, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: []string{res}, ResourceNames: []string{n}, Verbs: []string{v}})
				}
			}
		}
	}
	for _, u := range r.NonResourceURLs {
		for _, v := range r.Verbs {
			out = append(out, rbacv1.PolicyRule{NonResourceURLs: []string{u}, Verbs: []string{v}})
		}
	}
	return out
}

// ruleCovers reports whether owner grants all of sub, a broken-down rule.
// Wildcards in sub are covered only by the same wildcard in owner.
func ruleCovers(owner, sub *rbacv1.PolicyRule) bool {
	verbs := slices.Contains(owner.Verbs, rbacv1.VerbAll) || containsAll(owner.Verbs, sub.Verbs)
	groups := slices.Contains(owner.APIGroups, rbacv1.APIGroupAll) || containsAll(owner.APIGroups, sub.APIGroups)
	names := len(owner.ResourceNames) == 0 || len(sub.ResourceNames) > 0 && containsAll(owner.ResourceNames, sub.ResourceNames)
	return verbs && groups && names &&
		resourcesCover(owner.Resources, sub.Resources) &&
		nonResourceURLsCover(owner.NonResourceURLs, sub.NonResourceURLs)
}

func containsAll(set, items []string) bool {
	for _, i := range items {
		if !slices.Contains(set, i) {
			return false
		}
	}
	return true
}

// resourcesCover: "*" covers every resource, "*/sub" every subresource
// sub, anything else only itself.
func resourcesCover(owner, resources []string) bool {
	if slices.Contains(owner, rbacv1.ResourceAll) {
		return true
	}
	for _, r := range resources {
		if slices.Contains(owner, r) {
			continue
		}
		_, sub, ok := strings.Cut(r, "/")
		if !ok || !slices.Contains(owner, "*/"+sub) {
			return false
		}
	}
	return true
}

func nonResourceURLsCover(owner, urls []string) bool {
	for _, u := range urls {
		if !slices.ContainsFunc(owner, func(o string) bool { return nonResourceURLCovers(o, u) }) {
			return false
		}
	}
	return true
}

// compactRules merges rules that differ only in their verbs and name one
// group, one resource and at most one resource name, as upstream does
// before reporting missing rights. Order: first appearance.
func compactRules(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	type key struct{ group, resource, name string }
	var out []rbacv1.PolicyRule
	merged := map[key]int{} // index in out
	for _, r := range rules {
		simple := len(r.NonResourceURLs) == 0 && len(r.APIGroups) == 1 && len(r.Resources) == 1 && len(r.ResourceNames) <= 1
		if !simple {
			out = append(out, *r.DeepCopy())
			continue
		}
		k := key{r.APIGroups[0], r.Resources[0], ""}
		if len(r.ResourceNames) == 1 {
			k.name = r.ResourceNames[0]
		}
		if i, ok := merged[k]; ok {
			out[i].Verbs = append(out[i].Verbs, r.Verbs...)
			continue
		}
		merged[k] = len(out)
		out = append(out, *r.DeepCopy())
	}
	return out
}

// CompactString formats a rule as upstream's error messages do:
// {APIGroups:["apps"], Resources:["deployments"], Verbs:["get"]}.
func CompactString(r rbacv1.PolicyRule) string {
	var parts []string
	add := func(name string, values []string) {
		if len(values) > 0 {
			parts = append(parts, fmt.Sprintf("%s:%q", name, values))
		}
	}
	add("APIGroups", r.APIGroups)
	add("Resources", r.Resources)
	add("NonResourceURLs", r.NonResourceURLs)
	add("ResourceNames", r.ResourceNames)
	add("Verbs", r.Verbs)
	return "{" + strings.Join(parts, ", ") + "}"
}

package rbac

import (
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/k1s/k1s/internal/authz"
)

// ruleAllows reports whether rule grants the request a.
func ruleAllows(a authz.Attributes, rule *rbacv1.PolicyRule) bool {
	if a.ResourceRequest {
		resource := a.Resource
		if a.Subresource != "" {
			resource += "/" + a.Subresource
		}
		return verbMatches(rule, a.Verb) &&
			apiGroupMatches(rule, a.APIGroup) &&
			resourceMatches(rule, resource, a.Subresource) &&
			resourceNameMatches(rule, a.Name)
	}
	return verbMatches(rule, a.Verb) && nonResourceURLMatches(rule, a.Path)
}

func verbMatches(rule *rbacv1.PolicyRule, verb string) bool {
	return slices.Contains(rule.Verbs, rbacv1.VerbAll) || slices.Contains(rule.Verbs, verb)
}

func apiGroupMatches(rule *rbacv1.PolicyRule, group string) bool {
	return slices.Contains(rule.APIGroups, rbacv1.APIGroupAll) || slices.Contains(rule.APIGroups, group)
}

// resourceMatches: combined is "resource" or "resource/subresource".
// "*" matches everything, subresources included; "*/sub" matches
// subresource sub of any resource.
func resourceMatches(rule *rbacv1.PolicyRule, combined, subresource string) bool {
	for _, r := range rule.Resources {
		switch {
		case r == rbacv1.ResourceAll, r == combined:
			return true
		case subresource != "" && r == "*/"+subresource:
			return true
		}
	}
	return false
}

// resourceNameMatches: an empty list allows every name; otherwise only
// the names listed, so a request without a name (create, list, watch,
// deletecollection) never matches.
func resourceNameMatches(rule *rbacv1.PolicyRule, name string) bool {
	return len(rule.ResourceNames) == 0 || slices.Contains(rule.ResourceNames, name)
}

func nonResourceURLMatches(rule *rbacv1.PolicyRule, path string) bool {
	for _, u := range rule.NonResourceURLs {
		if nonResourceURLCovers(u, path) {
			return true
		}
	}
	return false
}

// nonResourceURLCovers: "*" covers everything, "/a/*" every path
// starting with "/a/", anything else only itself.
func nonResourceURLCovers(owner, path string) bool {
	if owner == rbacv1.NonResourceAll || owner == path {
		return true
	}
	prefix, ok := strings.CutSuffix(owner, "*")
	return ok && strings.HasPrefix(path, prefix)
}

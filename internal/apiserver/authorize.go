package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/k1s/k1s/internal/authz"
)

// Authorization modes (Config.AuthorizationModes), as upstream's
// --authorization-mode.
const (
	ModeNode        = "Node"
	ModeRBAC        = "RBAC"
	ModeAlwaysAllow = "AlwaysAllow"
)

// privilegedGroup is allowed everything, before any authorizer is asked
// (upstream's system:masters short cut).
const privilegedGroup = "system:masters"

// ruleResolver lists the RBAC rules that apply to a user in a namespace.
type ruleResolver interface {
	RulesFor(ctx context.Context, user string, groups []string, namespace string) (resourceRules, nonResourceRules []rbacv1.PolicyRule, incomplete bool, err error)
	ConfirmNoEscalation(ctx context.Context, user string, groups []string, namespace string, rules []rbacv1.PolicyRule) error
}

// withAuthorization refuses, with 403 and upstream's message, what the
// authenticated user may not do. Anonymous requests reach it only for the
// public paths, which everyone may read.
func (s *Server) withAuthorization(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := UserFrom(r.Context())
		if !ok || r.URL.Path == "/cacerts" || r.URL.Path == nodeCertPath {
			next.ServeHTTP(w, r) // nodeCertPath checks who may have which certificate itself
			return
		}
		a := requestAttributes(r, u)
		allowed, reason, err := s.authorize(r.Context(), a)
		if err != nil {
			s.log.Warn("authorization error", "user", a.User, "verb", a.Verb, "resource", a.Resource, "path", a.Path, "err", err)
		}
		if !allowed {
			s.writeError(w, r, forbidden(a, reason))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authorize asks the authorizers in order; the first Allow or Deny
// decides, and nobody allowing means no.
func (s *Server) authorize(ctx context.Context, a authz.Attributes) (allowed bool, reason string, err error) {
	if a.InGroup(privilegedGroup) || s.alwaysAllow {
		return true, "", nil
	}
	var errs []error
	var reasons []string
	for _, az := range s.authorizers {
		d, why, err := az.Authorize(ctx, a)
		if err != nil {
			errs = append(errs, err)
		}
		switch d {
		case authz.Allow:
			return true, why, nil
		case authz.Deny:
			return false, why, errors.Join(errs...)
		}
		if why != "" {
			reasons = append(reasons, why)
		}
	}
	return false, strings.Join(reasons, "; "), errors.Join(errs...)
}

// requestAttributes describes r for the authorizers. A list or watch
// selecting one name by field selector is authorized as on that name, as
// upstream does, so that a kubelet may watch the one secret it may read.
func requestAttributes(r *http.Request, u User) authz.Attributes {
	a := authz.Attributes{User: u.Name, Groups: u.Groups, UID: u.UID, Extra: u.Extra}
	info, ok := parseResourcePath(r)
	if !ok {
		a.Path = r.URL.Path
		a.Verb = strings.ToLower(r.Method)
		if a.Verb == "head" {
			a.Verb = "get"
		}
		return a
	}
	a.ResourceRequest = true
	a.Verb, a.APIGroup, a.APIVersion = info.Verb, info.Group, info.Version
	a.Namespace, a.Resource, a.Subresource, a.Name = info.Namespace, info.Resource, info.Subresource, info.Name
	// the namespace resource's own name is its namespace, as upstream
	if a.Resource == "namespaces" && a.APIGroup == "" && a.Name != "" {
		a.Namespace = a.Name
	}
	if (a.Verb == "list" || a.Verb == "watch") && a.Name == "" {
		if sel, err := fields.ParseSelector(r.URL.Query().Get("fieldSelector")); err == nil {
			if name, ok := sel.RequiresExactMatch("metadata.name"); ok {
				a.Name = name
			}
		}
	}
	return a
}

// forbidden is upstream's refusal: `pods "web" is forbidden: User "x"
// cannot delete resource "pods" in API group "" in the namespace "y"`,
// and for paths `forbidden: User "x" cannot get path "/metrics"`.
func forbidden(a authz.Attributes, reason string) error {
	var msg string
	if !a.ResourceRequest {
		msg = fmt.Sprintf("User %q cannot %s path %q", a.User, a.Verb, a.Path)
		if reason != "" {
			msg += ": " + reason
		}
		return apierrors.NewForbidden(schema.GroupResource{}, "", errors.New(msg))
	}
	resource := a.Resource
	if a.Subresource != "" {
		resource += "/" + a.Subresource
	}
	if a.Namespace != "" {
		msg = fmt.Sprintf("User %q cannot %s resource %q in API group %q in the namespace %q", a.User, a.Verb, resource, a.APIGroup, a.Namespace)
	} else {
		msg = fmt.Sprintf("User %q cannot %s resource %q in API group %q at the cluster scope", a.User, a.Verb, resource, a.APIGroup)
	}
	if reason != "" {
		msg += ": " + reason
	}
	return apierrors.NewForbidden(schema.GroupResource{Group: a.APIGroup, Resource: a.Resource}, a.Name, errors.New(msg))
}

// can reports whether the request's user may do verb on a resource (for
// the checks inside a request: escalate, bind, ...).
func (s *Server) can(ctx context.Context, a authz.Attributes) bool {
	u, _ := UserFrom(ctx)
	a.User, a.Groups, a.UID, a.Extra = u.Name, u.Groups, u.UID, u.Extra
	a.ResourceRequest = true
	ok, _, _ := s.authorize(ctx, a)
	return ok
}

func hasGroup(groups []string, g string) bool { return slices.Contains(groups, g) }

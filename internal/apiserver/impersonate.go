package apiserver

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/k1s/k1s/internal/authz"
)

// Impersonation headers, as upstream (`kubectl --as`, `--as-group`).
const (
	impersonateUser        = "Impersonate-User"
	impersonateGroup       = "Impersonate-Group"
	impersonateUID         = "Impersonate-Uid"
	impersonateExtraPrefix = "Impersonate-Extra-"
)

// withImpersonation lets a request act as another user when its
// authenticated user may "impersonate" that user (resource users, or
// serviceaccounts for a service account's name), each group (groups), the
// uid (uids.authentication.k8s.io) and each extra value
// (userextras.authentication.k8s.io/KEY). The rest of the request is
// authorized as the impersonated user.
func (s *Server) withImpersonation(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.Header.Get(impersonateUser)
		groups := r.Header.Values(impersonateGroup)
		uid := r.Header.Get(impersonateUID)
		extra := map[string][]string{}
		for k, v := range r.Header {
			if key, ok := strings.CutPrefix(k, impersonateExtraPrefix); ok {
				if unescaped, err := url.PathUnescape(key); err == nil {
					key = unescaped
				}
				extra[strings.ToLower(key)] = v
			}
		}
		if name == "" && len(groups) == 0 && uid == "" && len(extra) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		requester, ok := UserFrom(r.Context())
		if !ok {
			next.ServeHTTP(w, r) // anonymous: refused later
			return
		}
		if name == "" {
			s.writeError(w, r, apierrors.NewBadRequest("impersonating groups, a uid or extra fields requires impersonating a user ("+impersonateUser+")"))
			return
		}
		checks := []authz.Attributes{userAttributes(name)}
		for _, g := range groups {
			checks = append(checks, authz.Attributes{Resource: "groups", Name: g})
		}
		if uid != "" {
			checks = append(checks, authz.Attributes{APIGroup: "authentication.k8s.io", Resource: "uids", Name: uid})
		}
		for k, vs := range extra {
			for _, v := range vs {
				checks = append(checks, authz.Attributes{APIGroup: "authentication.k8s.io", Resource: "userextras", Subresource: k, Name: v})
			}
		}
		for _, a := range checks {
			a.Verb, a.ResourceRequest = "impersonate", true
			a.User, a.Groups, a.UID, a.Extra = requester.Name, requester.Groups, requester.UID, requester.Extra
			if allowed, reason, _ := s.authorize(r.Context(), a); !allowed {
				s.writeError(w, r, forbidden(a, reason))
				return
			}
		}
		u := User{Name: name, UID: uid, Groups: groups}
		if len(extra) > 0 {
			u.Extra = extra
		}
		if ns, _, ok := serviceAccountName(name); ok {
			u.Groups = append(u.Groups, "system:serviceaccounts", "system:serviceaccounts:"+ns)
		}
		if name != "system:anonymous" && !hasGroup(u.Groups, "system:authenticated") {
			u.Groups = append(u.Groups, "system:authenticated")
		}
		// the headers are consumed here, as upstream: nothing downstream sees them
		for k := range r.Header {
			if strings.HasPrefix(k, "Impersonate-") {
				r.Header.Del(k)
			}
		}
		s.log.Debug("impersonating", "requester", requester.Name, "as", u.Name, "groups", u.Groups)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
	})
}

// userAttributes is what impersonating user name needs: impersonate on
// the service account for a service account's name, on users otherwise.
func userAttributes(name string) authz.Attributes {
	if ns, sa, ok := serviceAccountName(name); ok {
		return authz.Attributes{Resource: "serviceaccounts", Namespace: ns, Name: sa}
	}
	return authz.Attributes{Resource: "users", Name: name}
}

// serviceAccountName splits "system:serviceaccount:NS:NAME".
func serviceAccountName(user string) (ns, name string, ok bool) {
	rest, ok := strings.CutPrefix(user, "system:serviceaccount:")
	if !ok {
		return "", "", false
	}
	ns, name, ok = strings.Cut(rest, ":")
	return ns, name, ok && ns != "" && name != "" && !strings.Contains(name, ":")
}

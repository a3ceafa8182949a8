package apiserver

import (
	"context"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// User is an authenticated identity.
type User struct {
	Name   string
	Groups []string
}

type userKey struct{}

// UserFrom returns the request's authenticated user.
func UserFrom(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(userKey{}).(User)
	return u, ok
}

// publicPaths are served to anonymous clients.
var publicPaths = map[string]bool{
	"/healthz": true, "/livez": true, "/readyz": true, "/version": true,
}

// withAuthentication identifies the client by its verified TLS client
// certificate (CN = user, O = groups). Anonymous requests get 401 except
// on the public health and version endpoints.
func (s *Server) withAuthentication(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.PeerCertificates) > 0 {
			c := r.TLS.PeerCertificates[0]
			u := User{Name: c.Subject.CommonName, Groups: append([]string{"system:authenticated"}, c.Subject.Organization...)}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
			return
		}
		if publicPaths[r.URL.Path] || isPublicHealthPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		s.writeError(w, r, &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusUnauthorized,
			Reason: metav1.StatusReasonUnauthorized, Message: "Unauthorized",
		}})
	})
}

func isPublicHealthPath(p string) bool {
	for _, prefix := range []string{"/healthz/", "/livez/", "/readyz/"} {
		if len(p) > len(prefix) && p[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}

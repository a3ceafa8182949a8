package apiserver

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k1s/k1s/internal/satoken"
)

// User is an authenticated identity.
type User struct {
	Name   string
	Groups []string
	UID    string
	// Extra as upstream's user.Info extra: for a service account token
	// bound to a pod, "authentication.kubernetes.io/pod-name" and
	// "authentication.kubernetes.io/pod-uid".
	Extra map[string][]string
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
	"/cacerts": true,
}

// BootstrapGroup is the group of the node join token's holder, as
// upstream's bootstrap tokens.
const BootstrapGroup = "system:bootstrappers"

// NodeTokenUser is who a request bearing the node join token is: a
// joining agent, which may exchange the token for its node's client
// certificate (nodeCertPath) and do nothing else.
var NodeTokenUser = User{Name: "system:bootstrap:k1s-node-token", Groups: []string{"system:authenticated", BootstrapGroup}}

// withAuthentication identifies the client by its verified TLS client
// certificate (CN = user, O = groups) or by the node join token as a
// bearer token. Anonymous requests get 401 except on the public health,
// version and CA endpoints.
func (s *Server) withAuthentication(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.PeerCertificates) > 0 {
			c := r.TLS.PeerCertificates[0]
			u := User{Name: c.Subject.CommonName, Groups: append([]string{"system:authenticated"}, c.Subject.Organization...)}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
			return
		}
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && s.cfg.NodeToken != "" &&
			subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.NodeToken)) == 1 {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, NodeTokenUser)))
			return
		}
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && s.cfg.ServiceAccountIssuer != nil && satoken.LooksLikeToken(tok) {
			u, _, err := s.authenticateServiceAccount(r.Context(), tok, s.audiences())
			if err == nil {
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
				return
			}
			s.log.Debug("service account token refused", "err", err)
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

package apiserver

import (
	"context"
	"net/http"
	"slices"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/k1s/k1s/internal/satoken"
)

// tokenReviewPath: who is the bearer of a token? Components that
// authenticate their own clients with service account tokens ask here
// (upstream's TokenReview; system:auth-delegator may).
const tokenReviewPath = "/apis/authentication.k8s.io/v1/tokenreviews"

func (s *Server) serveTokenReview(w http.ResponseWriter, r *http.Request) {
	s.serveReview(w, r, authenticationv1.SchemeGroupVersion.WithResource("tokenreviews").GroupResource(),
		&authenticationv1.TokenReview{}, authenticationv1.SchemeGroupVersion.WithKind("TokenReview"),
		func(ctx context.Context, _ *http.Request, obj runtime.Object) error {
			review := obj.(*authenticationv1.TokenReview)
			review.Status = s.reviewToken(ctx, review.Spec)
			return nil
		})
}

// reviewToken authenticates a service account token for the audiences
// asked (default: the api-server's own).
func (s *Server) reviewToken(ctx context.Context, spec authenticationv1.TokenReviewSpec) authenticationv1.TokenReviewStatus {
	auds := spec.Audiences
	if len(auds) == 0 && s.cfg.ServiceAccountIssuer != nil {
		auds = s.audiences()
	}
	if s.cfg.ServiceAccountIssuer == nil || !satoken.LooksLikeToken(spec.Token) {
		return authenticationv1.TokenReviewStatus{Error: "the token is not a service account token of this cluster"}
	}
	u, c, err := s.authenticateServiceAccount(ctx, spec.Token, auds)
	if err != nil {
		return authenticationv1.TokenReviewStatus{Error: err.Error()}
	}
	st := authenticationv1.TokenReviewStatus{Authenticated: true,
		User: authenticationv1.UserInfo{Username: u.Name, UID: u.UID, Groups: u.Groups}}
	if len(u.Extra) > 0 {
		st.User.Extra = map[string]authenticationv1.ExtraValue{}
		for k, v := range u.Extra {
			st.User.Extra[k] = v
		}
	}
	for _, a := range auds {
		if slices.Contains(c.Audience, a) {
			st.Audiences = append(st.Audiences, a)
		}
	}
	return st
}

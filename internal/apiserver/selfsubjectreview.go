package apiserver

import (
	"net/http"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// selfSubjectReviewPath is where `kubectl auth whoami` asks who it is.
const selfSubjectReviewPath = "/apis/authentication.k8s.io/v1/selfsubjectreviews"

// serveSelfSubjectReview answers a SelfSubjectReview create with the
// requester's own identity, as upstream (nothing is stored).
func (s *Server) serveSelfSubjectReview(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.writeError(w, r, newMethodNotSupported(authenticationv1.SchemeGroupVersion.WithResource("selfsubjectreviews").GroupResource(), r.Method))
		return
	}
	out, err := s.codecs.negotiateOutput(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	u, _ := UserFrom(r.Context())
	review := &authenticationv1.SelfSubjectReview{
		TypeMeta:   metav1.TypeMeta{APIVersion: "authentication.k8s.io/v1", Kind: "SelfSubjectReview"},
		ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.Now()},
		Status:     authenticationv1.SelfSubjectReviewStatus{UserInfo: authenticationv1.UserInfo{Username: u.Name, Groups: u.Groups}},
	}
	s.writeObject(w, r, out, http.StatusCreated, review)
}

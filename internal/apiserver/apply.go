package apiserver

import (
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// handleApply answers server-side apply requests. k1s supports client-side
// apply (kubectl apply's default); server-side apply is refused with 415 so
// that clients fall back or report it clearly.
func (s *Server) handleApply(w http.ResponseWriter, r *http.Request, out output, res *resource, info requestInfo, dry bool) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusUnsupportedMediaType, Reason: metav1.StatusReasonUnsupportedMediaType,
		Message: "server-side apply (application/apply-patch+yaml) is not supported by k1s yet; use client-side kubectl apply",
	}}
}

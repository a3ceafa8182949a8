package apiserver

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/k1s/k1s/internal/storage"
)

// toAPIError maps storage errors to Kubernetes API errors for resource gr
// and object name. API errors pass through; anything else becomes a 500.
func toAPIError(err error, gr schema.GroupResource, name string) error {
	if err == nil {
		return nil
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return err
	}
	var se *storage.Error
	if errors.As(err, &se) {
		switch se.Code {
		case storage.ErrCodeKeyNotFound:
			return apierrors.NewNotFound(gr, name)
		case storage.ErrCodeKeyExists:
			return apierrors.NewAlreadyExists(gr, name)
		case storage.ErrCodeResourceVersionConflicts:
			if strings.HasPrefix(se.Msg, "Precondition failed") {
				return apierrors.NewConflict(gr, name, errors.New(se.Msg))
			}
			return apierrors.NewConflict(gr, name, errors.New(conflictMsg))
		case storage.ErrCodeInvalidObj:
			if strings.HasPrefix(se.Msg, "Precondition failed") {
				return apierrors.NewConflict(gr, name, errors.New(se.Msg))
			}
			return apierrors.NewBadRequest(se.Msg)
		case storage.ErrCodeResourceVersionTooOld:
			return apierrors.NewResourceExpired(se.Msg)
		case storage.ErrCodeTooLarge:
			// A resourceVersion newer than the store: clients (the
			// reflector) recognise this exact shape and relist.
			return &apierrors.StatusError{ErrStatus: metav1.Status{
				Status: metav1.StatusFailure, Code: http.StatusGatewayTimeout, Reason: metav1.StatusReasonTimeout,
				Message: se.Msg,
				Details: &metav1.StatusDetails{RetryAfterSeconds: 1, Causes: []metav1.StatusCause{{
					Type: metav1.CauseTypeResourceVersionTooLarge, Message: "Too large resource version"}}},
			}}
		case storage.ErrCodeTimeout:
			return apierrors.NewTimeoutError(se.Msg, 1)
		}
	}
	return apierrors.NewInternalError(err)
}

const conflictMsg = "the object has been modified; please apply your changes to the latest version and try again"

// statusFor returns the Status to send for err.
func statusFor(err error) *metav1.Status {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		s := status.Status()
		return &s
	}
	return &apierrors.NewInternalError(err).ErrStatus
}

func newBadRequest(format string, args ...any) error {
	return apierrors.NewBadRequest(fmt.Sprintf(format, args...))
}

func newMethodNotSupported(gr schema.GroupResource, verb string) error {
	return apierrors.NewMethodNotSupported(gr, verb)
}

func newUnsupportedMediaType(ct string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusUnsupportedMediaType,
		Reason:  metav1.StatusReasonUnsupportedMediaType,
		Message: fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: %s", ct),
	}}
}

func newNotAcceptable(accepted string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusNotAcceptable,
		Reason:  metav1.StatusReasonNotAcceptable,
		Message: "only the following media types are accepted: " + accepted,
	}}
}

func newRequestEntityTooLarge() error {
	return apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", maxBody))
}

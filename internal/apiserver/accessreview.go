package apiserver

import (
	"context"
	"net/http"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/k1s/k1s/internal/authz"
)

// The authorization.k8s.io/v1 reviews: create-only, nothing is stored.
// `kubectl auth can-i` sends a SelfSubjectAccessReview (and with --list a
// SelfSubjectRulesReview); other components ask about someone else with a
// SubjectAccessReview or, in a namespace, a LocalSubjectAccessReview.
const authorizationPrefix = "/apis/authorization.k8s.io/v1/"

func (s *Server) registerAccessReviews(mux *http.ServeMux) {
	gv := authorizationv1.SchemeGroupVersion
	mux.HandleFunc(authorizationPrefix+"selfsubjectaccessreviews", func(w http.ResponseWriter, r *http.Request) {
		s.serveReview(w, r, gv.WithResource("selfsubjectaccessreviews").GroupResource(), &authorizationv1.SelfSubjectAccessReview{}, gv.WithKind("SelfSubjectAccessReview"), s.selfSubjectAccessReview)
	})
	mux.HandleFunc(authorizationPrefix+"subjectaccessreviews", func(w http.ResponseWriter, r *http.Request) {
		s.serveReview(w, r, gv.WithResource("subjectaccessreviews").GroupResource(), &authorizationv1.SubjectAccessReview{}, gv.WithKind("SubjectAccessReview"), s.subjectAccessReview)
	})
	mux.HandleFunc(authorizationPrefix+"namespaces/{namespace}/localsubjectaccessreviews", func(w http.ResponseWriter, r *http.Request) {
		s.serveReview(w, r, gv.WithResource("localsubjectaccessreviews").GroupResource(), &authorizationv1.LocalSubjectAccessReview{}, gv.WithKind("LocalSubjectAccessReview"), s.localSubjectAccessReview)
	})
	mux.HandleFunc(authorizationPrefix+"selfsubjectrulesreviews", func(w http.ResponseWriter, r *http.Request) {
		s.serveReview(w, r, gv.WithResource("selfsubjectrulesreviews").GroupResource(), &authorizationv1.SelfSubjectRulesReview{}, gv.WithKind("SelfSubjectRulesReview"), s.selfSubjectRulesReview)
	})
}

// serveReview decodes a review of kind gvk, lets answer fill its status and
// returns it with 201, as upstream.
func (s *Server) serveReview(w http.ResponseWriter, r *http.Request, gr schema.GroupResource, into runtime.Object, gvk schema.GroupVersionKind,
	answer func(ctx context.Context, r *http.Request, obj runtime.Object) error) {
	if r.Method != http.MethodPost {
		s.writeError(w, r, newMethodNotSupported(gr, r.Method))
		return
	}
	out, err := s.codecs.negotiateOutput(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	obj, _, err := s.decodeBody(r, nil, body, into, gvk)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := answer(r.Context(), r, obj); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, _ := metaOf(obj)
	m.SetCreationTimestamp(metav1.Now())
	s.writeObject(w, r, out, http.StatusCreated, obj)
}

// reviewAttributes turns a review's spec into authorizer attributes.
func reviewAttributes(ra *authorizationv1.ResourceAttributes, nra *authorizationv1.NonResourceAttributes) (authz.Attributes, error) {
	var a authz.Attributes
	switch {
	case ra != nil && nra != nil:
		return a, apierrors.NewInvalid(schema.GroupKind{Group: "authorization.k8s.io", Kind: "SubjectAccessReview"}, "",
			field.ErrorList{field.Invalid(field.NewPath("spec", "nonResourceAttributes"), nra, "cannot be specified in combination with resourceAttributes")})
	case ra != nil:
		a = authz.Attributes{ResourceRequest: true, Verb: ra.Verb, Namespace: ra.Namespace, APIGroup: ra.Group,
			APIVersion: ra.Version, Resource: ra.Resource, Subresource: ra.Subresource, Name: ra.Name}
	case nra != nil:
		a = authz.Attributes{Verb: nra.Verb, Path: nra.Path}
	default:
		return a, apierrors.NewInvalid(schema.GroupKind{Group: "authorization.k8s.io", Kind: "SubjectAccessReview"}, "",
			field.ErrorList{field.Required(field.NewPath("spec", "resourceAttributes"), "exactly one of nonResourceAttributes or resourceAttributes must be specified")})
	}
	return a, nil
}

func (s *Server) decide(ctx context.Context, a authz.Attributes) authorizationv1.SubjectAccessReviewStatus {
	allowed, reason, err := s.authorize(ctx, a)
	st := authorizationv1.SubjectAccessReviewStatus{Allowed: allowed, Reason: reason}
	if err != nil {
		st.EvaluationError = err.Error()
	}
	return st
}

func (s *Server) selfSubjectAccessReview(ctx context.Context, _ *http.Request, obj runtime.Object) error {
	review := obj.(*authorizationv1.SelfSubjectAccessReview)
	a, err := reviewAttributes(review.Spec.ResourceAttributes, review.Spec.NonResourceAttributes)
	if err != nil {
		return err
	}
	u, _ := UserFrom(ctx)
	a.User, a.Groups, a.UID, a.Extra = u.Name, u.Groups, u.UID, u.Extra
	review.Status = s.decide(ctx, a)
	return nil
}

func (s *Server) subjectAccessReview(ctx context.Context, _ *http.Request, obj runtime.Object) error {
	review := obj.(*authorizationv1.SubjectAccessReview)
	a, err := subjectAttributes(review.Spec)
	if err != nil {
		return err
	}
	review.Status = s.decide(ctx, a)
	return nil
}

func (s *Server) localSubjectAccessReview(ctx context.Context, r *http.Request, obj runtime.Object) error {
	review := obj.(*authorizationv1.LocalSubjectAccessReview)
	ns := r.PathValue("namespace")
	if review.Namespace == "" {
		review.Namespace = ns
	}
	if review.Namespace != ns {
		return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	if ra := review.Spec.ResourceAttributes; ra != nil && ra.Namespace != ns {
		if ra.Namespace != "" {
			return apierrors.NewInvalid(schema.GroupKind{Group: "authorization.k8s.io", Kind: "LocalSubjectAccessReview"}, "",
				field.ErrorList{field.Invalid(field.NewPath("spec", "resourceAttributes", "namespace"), ra.Namespace, "must match metadata.namespace")})
		}
		ra.Namespace = ns
	}
	if review.Spec.NonResourceAttributes != nil {
		return apierrors.NewInvalid(schema.GroupKind{Group: "authorization.k8s.io", Kind: "LocalSubjectAccessReview"}, "",
			field.ErrorList{field.Invalid(field.NewPath("spec", "nonResourceAttributes"), review.Spec.NonResourceAttributes, "disallowed on this kind of request")})
	}
	a, err := subjectAttributes(review.Spec)
	if err != nil {
		return err
	}
	review.Status = s.decide(ctx, a)
	return nil
}

func subjectAttributes(spec authorizationv1.SubjectAccessReviewSpec) (authz.Attributes, error) {
	a, err := reviewAttributes(spec.ResourceAttributes, spec.NonResourceAttributes)
	if err != nil {
		return a, err
	}
	if spec.User == "" && len(spec.Groups) == 0 {
		return a, apierrors.NewInvalid(schema.GroupKind{Group: "authorization.k8s.io", Kind: "SubjectAccessReview"}, "",
			field.ErrorList{field.Invalid(field.NewPath("spec", "user"), spec.User, "at least one of user or group must be specified")})
	}
	a.User, a.Groups, a.UID = spec.User, spec.Groups, spec.UID
	if len(spec.Extra) > 0 {
		a.Extra = map[string][]string{}
		for k, v := range spec.Extra {
			a.Extra[k] = v
		}
	}
	return a, nil
}

// selfSubjectRulesReview lists what the requester may do in a namespace
// (`kubectl auth can-i --list`).
func (s *Server) selfSubjectRulesReview(ctx context.Context, _ *http.Request, obj runtime.Object) error {
	review := obj.(*authorizationv1.SelfSubjectRulesReview)
	u, _ := UserFrom(ctx)
	if s.rules == nil {
		review.Status = authorizationv1.SubjectRulesReviewStatus{Incomplete: true, EvaluationError: "no RBAC authorizer"}
		return nil
	}
	res, nonRes, incomplete, err := s.rules.RulesFor(ctx, u.Name, u.Groups, review.Spec.Namespace)
	st := authorizationv1.SubjectRulesReviewStatus{Incomplete: incomplete}
	if err != nil {
		st.EvaluationError = err.Error()
	}
	for _, r := range res {
		st.ResourceRules = append(st.ResourceRules, authorizationv1.ResourceRule{Verbs: r.Verbs, APIGroups: r.APIGroups, Resources: r.Resources, ResourceNames: r.ResourceNames})
	}
	for _, r := range nonRes {
		st.NonResourceRules = append(st.NonResourceRules, authorizationv1.NonResourceRule{Verbs: r.Verbs, NonResourceURLs: r.NonResourceURLs})
	}
	review.Status = st
	return nil
}

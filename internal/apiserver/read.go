package apiserver

import (
	corev1 "k8s.io/api/core/v1"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/k1s/k1s/internal/storage"
)

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request, res *resource, info requestInfo) error {
	out, err := s.codecs.negotiateOutput(r)
	if err != nil {
		return err
	}
	var opts metav1.GetOptions
	if err := s.codecs.params.DecodeParameters(r.URL.Query(), corev1.SchemeGroupVersion, &opts); err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	obj, err := res.store.Get(r.Context(), res.key(info.Namespace, info.Name), storage.GetOptions{ResourceVersion: opts.ResourceVersion})
	if err != nil {
		return toAPIError(err, res.gr, info.Name)
	}
	if info.Subresource == "scale" {
		scale, err := scaleOf(res, obj)
		if err != nil {
			return err
		}
		s.writeObject(w, r, out, http.StatusOK, scale)
		return nil
	}
	return s.respond(w, r, out, http.StatusOK, res, obj)
}

// listOptions parses and checks a list or watch request's options.
func (s *Server) listOptions(r *http.Request, res *resource) (metav1.ListOptions, storage.Predicate, error) {
	var opts metav1.ListOptions
	if err := s.codecs.params.DecodeParameters(r.URL.Query(), corev1.SchemeGroupVersion, &opts); err != nil {
		return opts, storage.Predicate{}, apierrors.NewBadRequest(err.Error())
	}
	pred := storage.Predicate{GetAttrs: res.getAttrs}
	if opts.LabelSelector != "" {
		sel, err := labels.Parse(opts.LabelSelector)
		if err != nil {
			return opts, pred, apierrors.NewBadRequest(err.Error())
		}
		pred.Label = sel
	}
	if opts.FieldSelector != "" {
		sel, err := fields.ParseSelector(opts.FieldSelector)
		if err != nil {
			return opts, pred, apierrors.NewBadRequest(err.Error())
		}
		for _, req := range sel.Requirements() {
			if !res.fields[req.Field] {
				return opts, pred, apierrors.NewBadRequest("field label not supported: " + req.Field)
			}
		}
		pred.Field = sel
	}
	if opts.Limit < 0 {
		return opts, pred, apierrors.NewInvalid(metav1.SchemeGroupVersion.WithKind("ListOptions").GroupKind(), "",
			field.ErrorList{field.Invalid(field.NewPath("limit"), opts.Limit, "must be greater than or equal to 0")})
	}
	switch opts.ResourceVersionMatch {
	case "", metav1.ResourceVersionMatchExact, metav1.ResourceVersionMatchNotOlderThan:
	default:
		return opts, pred, apierrors.NewBadRequest("invalid resourceVersionMatch: " + string(opts.ResourceVersionMatch))
	}
	if opts.ResourceVersionMatch != "" && opts.ResourceVersion == "" && !opts.Watch {
		return opts, pred, apierrors.NewBadRequest("resourceVersionMatch is forbidden unless resourceVersion is provided")
	}
	if opts.Continue != "" && opts.ResourceVersion != "" && opts.ResourceVersion != "0" {
		return opts, pred, apierrors.NewBadRequest("specifying resource version is not allowed when using continue")
	}
	return opts, pred, nil
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request, res *resource, info requestInfo) error {
	out, err := s.codecs.negotiateOutput(r)
	if err != nil {
		return err
	}
	opts, pred, err := s.listOptions(r, res)
	if err != nil {
		return err
	}
	list, err := res.store.List(r.Context(), res.listPrefix(info.Namespace), storage.ListOptions{
		ResourceVersion:      opts.ResourceVersion,
		ResourceVersionMatch: string(opts.ResourceVersionMatch),
		Limit:                opts.Limit,
		Continue:             opts.Continue,
		Predicate:            pred,
		Recursive:            true,
	})
	if err != nil {
		if storage.Code(err) == storage.ErrCodeInvalidObj {
			return apierrors.NewBadRequest(err.Error())
		}
		return toAPIError(err, res.gr, "")
	}
	setListKind(list, res)
	return s.respond(w, r, out, http.StatusOK, res, list)
}

// setListKind stamps apiVersion and kind on a list the store built.
func setListKind(list runtime.Object, res *resource) {
	list.GetObjectKind().SetGroupVersionKind(res.GroupVersion().WithKind(res.Kind + "List"))
}

// respond writes obj (an item or a list of res) in the negotiated form:
// the object itself, a Table, or partial metadata.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, out output, code int, res *resource, obj runtime.Object) error {
	switch out.as {
	case "Table":
		t, err := s.toTable(res, obj, r.URL.Query().Get("includeObject"))
		if err != nil {
			return err
		}
		t.APIVersion = out.asGV.String()
		s.writeObject(w, r, out, code, t)
	case "PartialObjectMetadata", "PartialObjectMetadataList":
		p, err := partialMetadata(obj, out.asGV)
		if err != nil {
			return err
		}
		s.writeObject(w, r, out, code, p)
	default:
		s.writeObject(w, r, out, code, obj)
	}
	return nil
}

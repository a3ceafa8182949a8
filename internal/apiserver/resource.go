package apiserver

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// serveResource dispatches a resource request to its verb handler.
func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, info requestInfo) {
	gvr := schema.GroupVersionResource{Group: info.Group, Version: info.Version, Resource: info.Resource}
	res := s.resources[gvr]
	if res == nil {
		s.writeError(w, r, notFoundPath(r.URL.Path))
		return
	}
	if !res.Namespaced && info.Namespace != "" {
		s.writeError(w, r, notFoundPath(r.URL.Path))
		return
	}
	if !s.ready.Load() {
		s.writeError(w, r, apierrors.NewServiceUnavailable("the api-server is starting: caches are not synced yet"))
		return
	}
	if err := checkSubresource(res, info); err != nil {
		s.writeError(w, r, err)
		return
	}
	if info.Name != "" && info.Verb != "create" {
		if msgs := path.IsValidPathSegmentName(info.Name); len(msgs) > 0 {
			s.writeError(w, r, newBadRequest("invalid resource name %q: %s", info.Name, strings.Join(msgs, "; ")))
			return
		}
	}
	info.Manager = managerName(r)
	r = r.WithContext(withWarnings(r.Context(), w.Header()))
	if isKubeletSubresource(info) {
		if err := s.serveKubeletProxy(w, r, res, info); err != nil {
			s.writeError(w, r, err)
		}
		return
	}
	var err error
	switch info.Verb {
	case "get":
		err = s.handleGet(w, r, res, info)
	case "list":
		err = s.handleList(w, r, res, info)
	case "watch":
		err = s.handleWatch(w, r, res, info)
	case "create":
		switch {
		case info.Subresource == "binding":
			err = s.handleBinding(w, r, res, info)
		case info.Subresource == "eviction":
			err = s.handleEviction(w, r, res, info)
		case info.Subresource == "token":
			err = s.handleTokenRequest(w, r, res, info)
		case info.Name != "":
			err = newMethodNotSupported(res.gr, "create")
		case res.Namespaced && info.Namespace == "":
			err = newMethodNotSupported(res.gr, "create")
		default:
			err = s.handleCreate(w, r, res, info)
		}
	case "update":
		if info.Name == "" {
			err = newMethodNotSupported(res.gr, "update")
		} else {
			err = s.handleUpdate(w, r, res, info)
		}
	case "patch":
		if info.Name == "" {
			err = newMethodNotSupported(res.gr, "patch")
		} else {
			err = s.handlePatch(w, r, res, info)
		}
	case "delete":
		if info.Subresource != "" {
			err = newMethodNotSupported(res.gr, "delete")
		} else {
			err = s.handleDelete(w, r, res, info)
		}
	case "deletecollection":
		err = s.handleDeleteCollection(w, r, res, info)
	default:
		err = newMethodNotSupported(res.gr, info.Verb)
	}
	if err != nil {
		s.writeError(w, r, err)
	}
}

// checkSubresource refuses unknown subresources and verbs they don't allow.
func checkSubresource(res *resource, info requestInfo) error {
	if info.Subresource == "" {
		return nil
	}
	for _, sub := range subresourcesOf(res.Resource) {
		if sub.name != info.Subresource {
			continue
		}
		for _, v := range sub.verbs {
			if v == info.Verb {
				return nil
			}
		}
		return newMethodNotSupported(schema.GroupResource{Group: res.Group, Resource: res.Plural + "/" + sub.name}, info.Verb)
	}
	return notFoundPath("/" + info.Resource + "/" + info.Name + "/" + info.Subresource)
}

// metaOf returns obj's ObjectMeta accessor.
func metaOf(obj runtime.Object) (metav1.Object, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, fmt.Errorf("object %T has no metadata: %w", obj, err)
	}
	return m, nil
}

// dryRun parses the dryRun query parameter.
func dryRun(r *http.Request) (bool, error) {
	vals := r.URL.Query()["dryRun"]
	for _, v := range vals {
		if v != metav1.DryRunAll {
			return false, apierrors.NewBadRequest(fmt.Sprintf("Invalid dry run value: %s", v))
		}
	}
	return len(vals) > 0, nil
}

// fieldValidation parses the fieldValidation query parameter; Warn is the default.
func fieldValidation(r *http.Request) (string, error) {
	v := r.URL.Query().Get("fieldValidation")
	switch strings.ToLower(v) {
	case "", "warn":
		return "Warn", nil
	case "strict":
		return "Strict", nil
	case "ignore":
		return "Ignore", nil
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("fieldValidation parameter unsupported: %s, must be one of Ignore, Warn, Strict", v))
}

// structField returns the named field of a pointer-to-struct object, if any.
func structField(obj runtime.Object, name string) (reflect.Value, bool) {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}, false
	}
	f := v.Elem().FieldByName(name)
	return f, f.IsValid()
}

// hasSpec reports whether objects of res carry a spec (and so a generation).
func hasSpec(res *resource) bool { return res.hasSpec }

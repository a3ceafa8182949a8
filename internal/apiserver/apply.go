package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/yaml"
)

// fieldManagers builds structured-merge-diff field managers lazily: the
// type converter parses the schema of every built-in type, which costs
// tens of milliseconds, so it is paid on the first apply, not at start.
type fieldManagers struct {
	once sync.Once
	tc   managedfields.TypeConverter
	mu   sync.Mutex
	byGV map[string]*managedfields.FieldManager // resource+subresource -> manager
}

// fieldManager returns the field manager of res (subresource "" or "status").
func (s *Server) fieldManager(res *resource, sub string) (*managedfields.FieldManager, error) {
	fm := &s.managers
	fm.once.Do(func() { fm.tc = applyconfigurations.NewTypeConverter(s.cfg.Scheme.Scheme) })
	fm.mu.Lock()
	defer fm.mu.Unlock()
	key := res.gr.String() + "/" + sub
	if m := fm.byGV[key]; m != nil {
		return m, nil
	}
	gvk := res.GroupVersionKind()
	var reset map[fieldpath.APIVersion]fieldpath.Filter
	if res.Status != nil {
		// Status is owned by the status subresource, spec by the main one.
		field := "status"
		if sub == "status" {
			field = "spec"
		}
		reset = map[fieldpath.APIVersion]fieldpath.Filter{
			fieldpath.APIVersion(gvk.GroupVersion().String()): fieldpath.NewExcludeSetFilter(fieldpath.NewSet(fieldpath.MakePathOrDie(field))),
		}
	}
	m, err := managedfields.NewDefaultFieldManager(fm.tc, s.cfg.Scheme.Scheme, defaulter{s}, s.cfg.Scheme.Scheme, gvk, gvk.GroupVersion(), sub, reset)
	if err != nil {
		return nil, err
	}
	if fm.byGV == nil {
		fm.byGV = map[string]*managedfields.FieldManager{}
	}
	fm.byGV[key] = m
	return m, nil
}

// defaulter applies the registry's defaulting to typed objects.
type defaulter struct{ s *Server }

func (d defaulter) Default(obj runtime.Object) {
	if r := d.s.byType[reflect.TypeOf(obj)]; r != nil && r.Default != nil {
		r.Default(obj)
	}
}

// handleApply serves server-side apply (PATCH application/apply-patch+yaml):
// the applied configuration is merged into the live object by
// structured-merge-diff, which tracks field ownership in managedFields and
// reports conflicts with other managers (409) unless force=true. A missing
// object is created.
func (s *Server) handleApply(w http.ResponseWriter, r *http.Request, out output, res *resource, info requestInfo, dry bool) error {
	if info.Subresource != "" && info.Subresource != "status" {
		return newUnsupportedMediaType("application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json")
	}
	q := r.URL.Query()
	manager := q.Get("fieldManager")
	if manager == "" {
		return apierrors.NewBadRequest("PATCH of type application/apply-patch+yaml requires the fieldManager query parameter")
	}
	force := q.Get("force") == "true"
	body, err := readBody(r)
	if err != nil {
		return err
	}
	patch := &unstructured.Unstructured{Object: map[string]any{}}
	if err := yaml.Unmarshal(body, &patch.Object); err != nil {
		return apierrors.NewBadRequest("error decoding YAML: " + err.Error())
	}
	gvk := res.GroupVersionKind()
	if got := patch.GroupVersionKind(); got != gvk {
		return apierrors.NewBadRequest(fmt.Sprintf("the apply configuration has apiVersion %q and kind %q, expected %q and %q", patch.GetAPIVersion(), patch.GetKind(), gvk.GroupVersion().String(), gvk.Kind))
	}
	if patch.GetName() != info.Name {
		return apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", patch.GetName(), info.Name))
	}
	if res.Namespaced && patch.GetNamespace() != "" && patch.GetNamespace() != info.Namespace {
		return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	if patch.GetManagedFields() != nil {
		return apierrors.NewBadRequest("metadata.managedFields must be nil")
	}
	fm, err := s.fieldManager(res, info.Subresource)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	apply := func(live runtime.Object) (runtime.Object, error) {
		live.GetObjectKind().SetGroupVersionKind(gvk)
		obj, err := fm.Apply(live, patch, manager, force)
		if err != nil {
			if apierrors.IsConflict(err) {
				return nil, err
			}
			var status apierrors.APIStatus
			if errors.As(err, &status) {
				return nil, err
			}
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return obj, nil
	}
	ctx := r.Context()
	info.apply = true
	updated, err := s.updateObject(ctx, res, info, dry, apply)
	if err == nil {
		return s.respond(w, r, out, http.StatusOK, res, updated)
	}
	if !apierrors.IsNotFound(err) || info.Subresource != "" {
		return err
	}
	created, err := s.applyCreate(ctx, res, info, dry, apply)
	if err != nil {
		return err
	}
	return s.respond(w, r, out, http.StatusCreated, res, created)
}

// applyCreate creates an object from an apply configuration.
func (s *Server) applyCreate(ctx context.Context, res *resource, info requestInfo, dry bool, apply func(runtime.Object) (runtime.Object, error)) (runtime.Object, error) {
	live := res.New()
	m, _ := metaOf(live)
	m.SetName(info.Name)
	m.SetNamespace(info.Namespace)
	obj, err := apply(live)
	if err != nil {
		return nil, err
	}
	created, err := s.createObject(ctx, res, info.Namespace, obj, dry)
	if apierrors.IsAlreadyExists(err) {
		// Lost a race with another create: apply to what is there now.
		return s.updateObject(ctx, res, info, dry, apply)
	}
	return created, err
}

// trackManagedFields records an ordinary (non-apply) write in the
// object's managedFields, but only for objects that have field
// ownership already (they were applied server-side): tracking every write
// of every object costs a structured diff per request, paid for nothing
// unless someone applies.
func (s *Server) trackManagedFields(res *resource, sub string, obj, old runtime.Object, manager string) runtime.Object {
	om, err := metaOf(obj)
	if err != nil || old == nil {
		return obj
	}
	oldm, _ := metaOf(old)
	if len(oldm.GetManagedFields()) == 0 {
		om.SetManagedFields(nil)
		return obj
	}
	if sub != "" && sub != "status" {
		return obj
	}
	fm, err := s.fieldManager(res, sub)
	if err != nil {
		return obj
	}
	gvk := res.GroupVersionKind()
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	old.GetObjectKind().SetGroupVersionKind(gvk)
	return fm.UpdateNoErrors(old, obj, manager)
}

// managerName is the field manager of a non-apply request: the
// fieldManager parameter, or the client's user agent up to the first "/".
func managerName(r *http.Request) string {
	if m := r.URL.Query().Get("fieldManager"); m != "" {
		return m
	}
	ua := r.Header.Get("User-Agent")
	if i := strings.Index(ua, "/"); i > 0 {
		ua = ua[:i]
	}
	if ua == "" {
		ua = "unknown"
	}
	return ua
}

package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metavalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/k1s/k1s/internal/admission"
	"github.com/k1s/k1s/internal/storage"
)

// decodeBody decodes a create/update body into a new object of res,
// honouring the fieldValidation directive. It returns warnings for
// unknown fields under Warn.
func (s *Server) decodeBody(r *http.Request, res *resource, body []byte, into runtime.Object, gvk schema.GroupVersionKind) (runtime.Object, []string, error) {
	directive, err := fieldValidation(r)
	if err != nil {
		return nil, nil, err
	}
	dec, _, err := s.codecs.decoderFor(r.Header.Get("Content-Type"), directive != "Ignore")
	if err != nil {
		return nil, nil, err
	}
	if len(body) == 0 {
		return nil, nil, apierrors.NewBadRequest("the request body is empty")
	}
	obj, got, err := dec.Decode(body, &gvk, into)
	var warnings []string
	if err != nil {
		strictErr, ok := runtime.AsStrictDecodingError(err)
		switch {
		case ok && directive == "Strict":
			return nil, nil, apierrors.NewBadRequest(err.Error())
		case ok:
			for _, e := range strictErr.Errors() {
				warnings = append(warnings, e.Error())
			}
		default:
			return nil, nil, apierrors.NewBadRequest(decodeErrorMessage(err))
		}
	}
	if got != nil && (got.Kind != gvk.Kind || got.GroupVersion() != gvk.GroupVersion()) {
		if got.GroupVersion() != gvk.GroupVersion() {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", got.GroupVersion(), gvk.GroupVersion()))
		}
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the kind in the data (%s) does not match the expected kind (%s)", got.Kind, gvk.Kind))
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return obj, warnings, nil
}

func decodeErrorMessage(err error) string {
	msg := err.Error()
	if strings.Contains(msg, "Object 'Kind' is missing") || strings.HasPrefix(msg, "couldn't get version/kind") {
		return "the body of the request could not be decoded: " + msg
	}
	return msg
}

// warn adds Kubernetes warning headers.
func warn(w http.ResponseWriter, warnings []string) {
	for _, msg := range warnings {
		w.Header().Add("Warning", fmt.Sprintf("299 - %q", msg))
	}
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request, res *resource, info requestInfo) error {
	out, err := s.codecs.negotiateOutput(r)
	if err != nil {
		return err
	}
	dry, err := dryRun(r)
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	obj, warnings, err := s.decodeBody(r, res, body, res.New(), res.GroupVersionKind())
	if err != nil {
		return err
	}
	if m, err := metaOf(obj); err == nil {
		m.SetManagedFields(nil) // field ownership is tracked for applied objects only
	}
	created, err := s.createObject(r.Context(), res, info.Namespace, obj, dry)
	if err != nil {
		return err
	}
	warn(w, warnings)
	return s.respond(w, r, out, http.StatusCreated, res, created)
}

// createObject runs the create path: namespace checks, defaulting, system
// metadata, validation, allocation and the store write.
func (s *Server) createObject(ctx context.Context, res *resource, namespace string, obj runtime.Object, dry bool) (runtime.Object, error) {
	m, err := metaOf(obj)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if res.Namespaced {
		if m.GetNamespace() == "" {
			m.SetNamespace(namespace)
		} else if m.GetNamespace() != namespace {
			return nil, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
	} else {
		m.SetNamespace("")
	}
	if m.GetResourceVersion() != "" {
		return nil, apierrors.NewBadRequest("resourceVersion should not be set on objects to be created")
	}
	if res.Namespaced {
		if err := s.checkNamespaceForCreate(ctx, namespace); err != nil {
			return nil, err
		}
	}
	generated := m.GetName() == "" && m.GetGenerateName() != ""
	orig := obj
	for attempt := 0; ; attempt++ {
		if generated {
			// The name comes first: defaulting and PrepareForCreate may
			// derive labels or selectors from it. Like upstream, a long
			// base is cut so that the name fits in 63 characters.
			obj = orig.DeepCopyObject()
			m, _ = metaOf(obj)
			base := m.GetGenerateName()
			if len(base) > maxGeneratedNameLength {
				base = base[:maxGeneratedNameLength]
			}
			m.SetName(base + rand.String(randomLength))
		}
		if res.Default != nil {
			res.Default(obj)
		}
		m.SetUID(uuid.NewUUID())
		m.SetCreationTimestamp(metav1.Now())
		m.SetDeletionTimestamp(nil)
		m.SetDeletionGracePeriodSeconds(nil)
		m.SetSelfLink("")
		m.SetGeneration(0)
		if hasSpec(res) {
			m.SetGeneration(1)
		}
		if res.PrepareForCreate != nil {
			res.PrepareForCreate(obj)
		}
		s.prepareCreateBuiltin(res, obj)
		if pod, ok := obj.(*corev1.Pod); ok {
			s.admitPodServiceAccount(ctx, pod)
		}
		if pvc, ok := obj.(*corev1.PersistentVolumeClaim); ok {
			s.admitClaimStorageClass(ctx, pvc)
		}
		attrs := s.admissionAttributes(ctx, admission.Create, res, "", obj, nil, dry)
		if err := s.mutate(ctx, attrs); err != nil {
			return nil, err
		}
		errs := metavalidation.ValidateObjectMetaAccessor(m, res.Namespaced, nameValidator(res), field.NewPath("metadata"))
		if res.Validate != nil {
			errs = append(errs, res.Validate(obj)...)
		}
		if len(errs) > 0 {
			return nil, apierrors.NewInvalid(res.GroupVersionKind().GroupKind(), m.GetName(), errs)
		}
		if err := s.validateAdmission(ctx, attrs); err != nil {
			return nil, err
		}
		if dry {
			return obj, nil
		}
		if err := s.chargeQuota(ctx, attrs); err != nil {
			return nil, err
		}
		rollback := func() {}
		if res.Allocator != nil {
			rb, err := res.Allocator.Allocate(ctx, obj, nil)
			if err != nil {
				return nil, toAPIError(err, res.gr, m.GetName())
			}
			if rb != nil {
				rollback = rb
			}
		}
		created, err := res.store.Create(ctx, res.key(m.GetNamespace(), m.GetName()), obj)
		if err == nil {
			s.noteWrite(res, created)
		}
		if err != nil {
			rollback()
			if generated && storage.IsExists(err) && attempt < 8 {
				continue
			}
			return nil, toAPIError(err, res.gr, m.GetName())
		}
		return created, nil
	}
}

const (
	randomLength           = 5
	maxGeneratedNameLength = 63 - randomLength
)

// noteWrite remembers the revision of this server's latest namespace write
// (see checkNamespaceForCreate).
func (s *Server) noteWrite(res *resource, obj runtime.Object) {
	if res.Group != "" || res.Plural != "namespaces" {
		return
	}
	m, err := metaOf(obj)
	if err != nil {
		return
	}
	rev, err := strconv.ParseInt(m.GetResourceVersion(), 10, 64)
	if err != nil {
		return
	}
	for {
		cur := s.nsWriteRev.Load()
		if rev <= cur || s.nsWriteRev.CompareAndSwap(cur, rev) {
			return
		}
	}
}

// nameValidator returns the rule object names of res must follow.
func nameValidator(res *resource) metavalidation.ValidateNameFunc {
	switch {
	case res.Group == "" && res.Plural == "namespaces":
		return metavalidation.ValidateNamespaceName
	case res.Group == "" && res.Plural == "services":
		return metavalidation.NameIsDNS1035Label
	case res.Group == "rbac.authorization.k8s.io", res.Group == "" && res.Plural == "nodes":
		return func(name string, prefix bool) []string { return path.IsValidPathSegmentName(name) }
	}
	return metavalidation.NameIsDNSSubdomain
}

// checkNamespaceForCreate refuses creates in missing or terminating namespaces.
func (s *Server) checkNamespaceForCreate(ctx context.Context, namespace string) error {
	nsRes := s.resources[schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}]
	if nsRes == nil {
		return nil
	}
	// Read the cache, but no older than this server's last namespace
	// write: a namespace this server just marked Terminating must refuse
	// the very next create.
	rv := "0"
	if r := s.nsWriteRev.Load(); r > 0 {
		rv = strconv.FormatInt(r, 10)
	}
	obj, err := nsRes.store.Get(ctx, nsRes.key("", namespace), storage.GetOptions{ResourceVersion: rv})
	if storage.IsNotFound(err) {
		// The cache may lag behind a namespace created a moment ago.
		obj, err = nsRes.direct.Get(ctx, nsRes.key("", namespace), storage.GetOptions{})
	}
	if err != nil {
		return toAPIError(err, nsRes.gr, namespace)
	}
	if ns, ok := obj.(*corev1.Namespace); ok && (ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating) {
		return apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, namespace,
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", namespace))
	}
	return nil
}

func (s *Server) handleUpdate(w http.ResponseWriter, r *http.Request, res *resource, info requestInfo) error {
	out, err := s.codecs.negotiateOutput(r)
	if err != nil {
		return err
	}
	dry, err := dryRun(r)
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if info.Subresource == "scale" {
		return s.updateScaleFromBody(w, r, out, res, info, body, dry)
	}
	obj, warnings, err := s.decodeBody(r, res, body, res.New(), res.GroupVersionKind())
	if err != nil {
		return err
	}
	if err := checkNameAndNamespace(obj, res, info); err != nil {
		return err
	}
	updated, err := s.updateObject(r.Context(), res, info, dry, func(cur runtime.Object) (runtime.Object, error) {
		return obj.DeepCopyObject(), nil
	})
	if err != nil {
		return err
	}
	warn(w, warnings)
	return s.respond(w, r, out, http.StatusOK, res, updated)
}

// checkNameAndNamespace refuses a body naming another object than the URL.
func checkNameAndNamespace(obj runtime.Object, res *resource, info requestInfo) error {
	m, err := metaOf(obj)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	if m.GetName() == "" {
		m.SetName(info.Name)
	}
	if m.GetName() != info.Name {
		return apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), info.Name))
	}
	if res.Namespaced {
		if m.GetNamespace() == "" {
			m.SetNamespace(info.Namespace)
		}
		if m.GetNamespace() != info.Namespace {
			return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
	}
	return nil
}

// errDryRun carries a dry-run result out of GuaranteedUpdate without a write.
type errDryRun struct{ obj runtime.Object }

func (e *errDryRun) Error() string { return "dry run" }

// updateObject runs the update path for the main resource or a
// subresource: transform turns a copy of the current object into the
// desired one, then system fields are restored, status/spec separated,
// generation bumped, the result validated and written with
// compare-and-swap (transform runs again on conflict). An object being
// deleted whose last finalizer is removed is deleted.
func (s *Server) updateObject(ctx context.Context, res *resource, info requestInfo, dry bool, transform func(cur runtime.Object) (runtime.Object, error)) (runtime.Object, error) {
	key := res.key(info.Namespace, info.Name)
	var rollback func()
	var finished bool
	updated, err := res.store.GuaranteedUpdate(ctx, key, false, nil, func(cur runtime.Object) (runtime.Object, error) {
		if rollback != nil {
			rollback()
			rollback = nil
		}
		obj, err := transform(cur.DeepCopyObject())
		if err != nil {
			return nil, err
		}
		if err := s.prepareUpdate(res, info.Subresource, obj, cur); err != nil {
			return nil, err
		}
		if !info.apply {
			obj = s.trackManagedFields(res, info.Subresource, obj, cur, info.Manager)
		}
		// the "delete" step of a graceful deletion was admitted as a delete
		admit := info.Subresource != "delete"
		attrs := s.admissionAttributes(ctx, admission.Update, res, info.Subresource, obj, cur, dry)
		if admit {
			if err := s.mutate(ctx, attrs); err != nil {
				return nil, err
			}
		}
		om, _ := metaOf(obj)
		if errs := s.validateUpdate(res, info.Subresource, obj, cur); len(errs) > 0 {
			return nil, apierrors.NewInvalid(res.GroupVersionKind().GroupKind(), om.GetName(), errs)
		}
		if admit {
			if err := s.validateAdmission(ctx, attrs); err != nil {
				return nil, err
			}
		}
		if dry {
			return nil, &errDryRun{obj}
		}
		if admit {
			if err := s.chargeQuota(ctx, attrs); err != nil {
				return nil, err
			}
		}
		if res.Allocator != nil && info.Subresource == "" {
			rb, err := res.Allocator.Allocate(ctx, obj, cur)
			if err != nil {
				return nil, err
			}
			rollback = rb
		}
		// An object whose deletion only waited for finalizers goes once
		// the last is removed (graceful pod deletions wait for the kubelet).
		grace := om.GetDeletionGracePeriodSeconds()
		finished = om.GetDeletionTimestamp() != nil && (grace == nil || *grace == 0) &&
			len(om.GetFinalizers()) == 0 && !hasNamespaceFinalizers(obj)
		return obj, nil
	})
	var dr *errDryRun
	if errors.As(err, &dr) {
		return dr.obj, nil
	}
	if err != nil {
		if rollback != nil {
			rollback()
		}
		return nil, toAPIError(err, res.gr, info.Name)
	}
	s.noteWrite(res, updated)
	if finished {
		if _, err := s.deleteNow(ctx, res, updated, true); err != nil && !storage.IsNotFound(err) && !storage.IsConflict(err) {
			return nil, toAPIError(err, res.gr, info.Name)
		}
	}
	return updated, nil
}

// prepareUpdate restores what the client may not change on this path.
func (s *Server) prepareUpdate(res *resource, sub string, obj, old runtime.Object) error {
	om, err := metaOf(obj)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	oldm, _ := metaOf(old)
	if rv := om.GetResourceVersion(); rv != "" && rv != oldm.GetResourceVersion() {
		return apierrors.NewConflict(res.gr, oldm.GetName(), errors.New(conflictMsg))
	}
	om.SetResourceVersion(oldm.GetResourceVersion())
	if om.GetUID() == "" {
		om.SetUID(oldm.GetUID()) // a different one fails validation: uid is immutable
	}
	om.SetCreationTimestamp(oldm.GetCreationTimestamp())
	if sub != "delete" {
		om.SetDeletionTimestamp(oldm.GetDeletionTimestamp())
		om.SetDeletionGracePeriodSeconds(oldm.GetDeletionGracePeriodSeconds())
	}
	om.SetGeneration(oldm.GetGeneration())
	om.SetSelfLink("")
	if om.GetNamespace() == "" && res.Namespaced {
		om.SetNamespace(oldm.GetNamespace())
	}
	switch sub {
	case "":
		if res.Default != nil {
			res.Default(obj)
		}
		if res.PrepareForUpdate != nil {
			res.PrepareForUpdate(obj, old)
		} else if res.Status != nil {
			copyField(obj, old, "Status")
		}
		s.prepareUpdateBuiltin(res, obj, old)
		if hasSpec(res) && specChanged(obj, old) {
			om.SetGeneration(oldm.GetGeneration() + 1)
		}
	case "status":
		// Status writers may not touch ownership or finalizers (removing
		// the last finalizer through /status would delete the object).
		// Labels and annotations may change, as upstream's pod and
		// deployment status strategies allow (controllers record
		// annotations such as the deployment revision there).
		om.SetFinalizers(oldm.GetFinalizers())
		om.SetOwnerReferences(oldm.GetOwnerReferences())
		if res.Status.PrepareForUpdate != nil {
			res.Status.PrepareForUpdate(obj, old)
		} else {
			copyAllBut(obj, old, "TypeMeta", "ObjectMeta", "Status")
		}
	case "finalize":
		// Only spec.finalizers may change.
		ns, oldNs := obj.(*corev1.Namespace), old.(*corev1.Namespace)
		fin := ns.Spec.Finalizers
		ns.Spec = *oldNs.Spec.DeepCopy()
		ns.Spec.Finalizers = fin
		ns.Status = *oldNs.Status.DeepCopy()
	case "scale":
		if hasSpec(res) && specChanged(obj, old) {
			om.SetGeneration(oldm.GetGeneration() + 1)
		}
	case "binding":
		// Set by the caller from the current object.
	}
	return nil
}

// validateUpdate validates the metadata and the resource's update rules.
func (s *Server) validateUpdate(res *resource, sub string, obj, old runtime.Object) field.ErrorList {
	if sub == "delete" {
		return nil // only system fields changed
	}
	om, _ := metaOf(obj)
	oldm, _ := metaOf(old)
	errs := metavalidation.ValidateObjectMetaAccessor(om, res.Namespaced, nameValidator(res), field.NewPath("metadata"))
	errs = append(errs, metavalidation.ValidateObjectMetaAccessorUpdate(om, oldm, field.NewPath("metadata"))...)
	if oldm.GetDeletionTimestamp() != nil {
		errs = append(errs, metavalidation.ValidateNoNewFinalizers(om.GetFinalizers(), oldm.GetFinalizers(), field.NewPath("metadata", "finalizers"))...)
	}
	switch sub {
	case "":
		if res.ValidateUpdate != nil {
			errs = append(errs, res.ValidateUpdate(obj, old)...)
		}
	case "status":
		if res.Status != nil && res.Status.ValidateUpdate != nil {
			errs = append(errs, res.Status.ValidateUpdate(obj, old)...)
		}
	case "scale":
		if res.Validate != nil {
			errs = append(errs, res.Validate(obj)...)
		}
	}
	return errs
}

// copyField sets obj.name = old.name for pointer-to-struct objects.
func copyField(obj, old runtime.Object, name string) {
	dst, ok1 := structField(obj, name)
	src, ok2 := structField(old, name)
	if ok1 && ok2 && dst.CanSet() {
		dst.Set(src)
	}
}

// copyAllBut copies every top-level field of old into obj except those named.
func copyAllBut(obj, old runtime.Object, except ...string) {
	dv, sv := reflect.ValueOf(obj).Elem(), reflect.ValueOf(old).Elem()
	t := dv.Type()
	for i := 0; i < t.NumField(); i++ {
		name := t.Field(i).Name
		skip := false
		for _, e := range except {
			if e == name {
				skip = true
			}
		}
		if !skip && dv.Field(i).CanSet() {
			dv.Field(i).Set(sv.Field(i))
		}
	}
}

// specChanged reports whether anything outside metadata and status changed.
func specChanged(obj, old runtime.Object) bool {
	dv, sv := reflect.ValueOf(obj).Elem(), reflect.ValueOf(old).Elem()
	t := dv.Type()
	for i := 0; i < t.NumField(); i++ {
		switch t.Field(i).Name {
		case "TypeMeta", "ObjectMeta", "Status":
			continue
		}
		if !apiequality.Semantic.DeepEqual(dv.Field(i).Interface(), sv.Field(i).Interface()) {
			return true
		}
	}
	return false
}

// hasNamespaceFinalizers reports whether obj is a namespace still waiting
// for its spec finalizers.
func hasNamespaceFinalizers(obj runtime.Object) bool {
	ns, ok := obj.(*corev1.Namespace)
	return ok && len(ns.Spec.Finalizers) > 0
}

// prepareCreateBuiltin applies create rules the api-server owns itself.
func (s *Server) prepareCreateBuiltin(res *resource, obj runtime.Object) {
	if ns, ok := obj.(*corev1.Namespace); ok {
		ns.Status.Phase = corev1.NamespaceActive
		if len(ns.Spec.Finalizers) == 0 {
			ns.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
		}
	}
}

// prepareUpdateBuiltin applies update rules the api-server owns itself.
func (s *Server) prepareUpdateBuiltin(res *resource, obj, old runtime.Object) {
	if ns, ok := obj.(*corev1.Namespace); ok {
		oldNs := old.(*corev1.Namespace)
		ns.Spec.Finalizers = oldNs.Spec.Finalizers
		ns.Status = oldNs.Status
	}
}

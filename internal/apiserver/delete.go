package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/k1s/k1s/internal/admission"
	"github.com/k1s/k1s/internal/storage"
)

// deleteOptions reads DeleteOptions from the body (if any) and the query.
func (s *Server) deleteOptions(r *http.Request) (metav1.DeleteOptions, error) {
	var opts metav1.DeleteOptions
	body, err := readBody(r)
	if err != nil {
		return opts, err
	}
	if len(body) > 0 {
		gvk := metav1.SchemeGroupVersion.WithKind("DeleteOptions")
		dec, _, err := s.codecs.decoderFor(r.Header.Get("Content-Type"), false)
		if err != nil {
			return opts, err
		}
		if _, _, err := dec.Decode(body, &gvk, &opts); err != nil {
			return opts, apierrors.NewBadRequest(err.Error())
		}
	}
	if len(body) == 0 {
		// Like upstream: options come from the body if there is one (a
		// DeleteCollection's query holds its list options), else the query.
		if err := s.codecs.params.DecodeParameters(r.URL.Query(), corev1.SchemeGroupVersion, &opts); err != nil {
			return opts, apierrors.NewBadRequest(err.Error())
		}
	}
	for _, v := range opts.DryRun {
		if v != metav1.DryRunAll {
			return opts, apierrors.NewBadRequest("Invalid dry run value: " + v)
		}
	}
	if opts.GracePeriodSeconds != nil && *opts.GracePeriodSeconds < 0 {
		zero := int64(0)
		opts.GracePeriodSeconds = &zero
	}
	if p := opts.PropagationPolicy; p != nil {
		switch *p {
		case metav1.DeletePropagationBackground, metav1.DeletePropagationForeground, metav1.DeletePropagationOrphan:
		default:
			return opts, apierrors.NewBadRequest(fmt.Sprintf("propagationPolicy: Unsupported value: %q", *p))
		}
	}
	return opts, nil
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request, res *resource, info requestInfo) error {
	out, err := s.codecs.negotiateOutput(r)
	if err != nil {
		return err
	}
	opts, err := s.deleteOptions(r)
	if err != nil {
		return err
	}
	obj, deleted, err := s.deleteObject(r.Context(), res, info, opts)
	if err != nil {
		return err
	}
	if !deleted {
		// Graceful or waiting for finalizers: the object still exists.
		return s.respond(w, r, out, http.StatusOK, res, obj)
	}
	m, _ := metaOf(obj)
	if res.Group == "" && (res.Plural == "pods" || res.Plural == "namespaces") {
		// kubectl and clients expect the last state of these.
		return s.respond(w, r, out, http.StatusOK, res, obj)
	}
	s.writeObject(w, r, out, http.StatusOK, successStatus(res, info.Name, m.GetUID()))
	return nil
}

// deleteObject deletes one object, gracefully where the object's kind or
// finalizers ask for it. It reports whether the object is gone.
func (s *Server) deleteObject(ctx context.Context, res *resource, info requestInfo, opts metav1.DeleteOptions) (runtime.Object, bool, error) {
	for _, p := range res.DeleteProtected {
		if p == info.Name {
			return nil, false, apierrors.NewForbidden(res.gr, info.Name, fmt.Errorf("this %s may not be deleted", res.Singular))
		}
	}
	dry := len(opts.DryRun) > 0
	// Decide from the watch cache when the client gave no preconditions:
	// the delete below is a compare-and-swap on that read's version, so a
	// stale read only costs a retry from etcd (fresh).
	fresh := opts.Preconditions != nil || dry
	return s.deleteFrom(ctx, res, info, opts, fresh)
}

func (s *Server) deleteFrom(ctx context.Context, res *resource, info requestInfo, opts metav1.DeleteOptions, fresh bool) (runtime.Object, bool, error) {
	dry := len(opts.DryRun) > 0
	key := res.key(info.Namespace, info.Name)
	var cur runtime.Object
	var err error
	if !fresh {
		cur, err = res.store.Get(ctx, key, storage.GetOptions{ResourceVersion: "0"})
	}
	if fresh || storage.IsNotFound(err) {
		fresh = true
		cur, err = res.store.Get(ctx, key, storage.GetOptions{})
	}
	if err != nil {
		return nil, false, toAPIError(err, res.gr, info.Name)
	}
	m, _ := metaOf(cur)
	if pre := opts.Preconditions; pre != nil {
		if pre.UID != nil && *pre.UID != m.GetUID() {
			return nil, false, apierrors.NewConflict(res.gr, info.Name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *pre.UID, m.GetUID()))
		}
		if pre.ResourceVersion != nil && *pre.ResourceVersion != m.GetResourceVersion() {
			return nil, false, apierrors.NewConflict(res.gr, info.Name, fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *pre.ResourceVersion, m.GetResourceVersion()))
		}
	}
	if err := s.validateAdmission(ctx, s.admissionAttributes(ctx, admission.Delete, res, "", nil, cur, dry)); err != nil {
		return nil, false, err
	}
	grace := gracePeriod(cur, opts)
	finalizer := propagationFinalizer(opts)
	needsUpdate := grace > 0 || len(m.GetFinalizers()) > 0 || finalizer != "" || hasNamespaceFinalizers(cur)
	if !needsUpdate {
		if dry {
			return cur, true, nil
		}
		deleted, err := s.deleteNow(ctx, res, cur, !fresh || opts.Preconditions != nil && opts.Preconditions.ResourceVersion != nil)
		if !fresh && storage.Code(err) != 0 {
			return s.deleteFrom(ctx, res, info, opts, true) // the cache was behind
		}
		if err != nil {
			return nil, false, toAPIError(err, res.gr, info.Name)
		}
		return deleted, true, nil
	}
	var gone bool
	updated, err := s.updateObject(ctx, res, requestInfo{Namespace: info.Namespace, Name: info.Name, Subresource: "delete"}, dry, func(obj runtime.Object) (runtime.Object, error) {
		om, _ := metaOf(obj)
		if pre := opts.Preconditions; pre != nil && pre.UID != nil && *pre.UID != om.GetUID() {
			return nil, apierrors.NewConflict(res.gr, info.Name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *pre.UID, om.GetUID()))
		}
		if pre := opts.Preconditions; pre != nil && pre.ResourceVersion != nil && *pre.ResourceVersion != om.GetResourceVersion() {
			return nil, apierrors.NewConflict(res.gr, info.Name, fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *pre.ResourceVersion, om.GetResourceVersion()))
		}
		g := gracePeriod(obj, opts)
		now := time.Now()
		if om.GetDeletionTimestamp() == nil {
			ts := metav1.NewTime(now.Add(time.Duration(g) * time.Second))
			om.SetDeletionTimestamp(&ts)
			om.SetDeletionGracePeriodSeconds(&g)
		} else if cg := om.GetDeletionGracePeriodSeconds(); cg != nil && g < *cg {
			// A shorter grace period shortens a pending deletion.
			ts := metav1.NewTime(now.Add(time.Duration(g) * time.Second))
			om.SetDeletionTimestamp(&ts)
			om.SetDeletionGracePeriodSeconds(&g)
		}
		if finalizer != "" && !hasString(om.GetFinalizers(), finalizer) {
			om.SetFinalizers(append(om.GetFinalizers(), finalizer))
		}
		if ns, ok := obj.(*corev1.Namespace); ok {
			ns.Status.Phase = corev1.NamespaceTerminating
		}
		gone = g == 0 && len(om.GetFinalizers()) == 0 && !hasNamespaceFinalizers(obj)
		return obj, nil
	})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, false, err
		}
		return nil, false, err
	}
	if !gone {
		return updated, false, nil
	}
	if dry {
		return updated, true, nil
	}
	deleted, err := s.deleteNow(ctx, res, updated, true)
	if storage.IsNotFound(err) {
		return updated, true, nil
	}
	if err != nil {
		return nil, false, toAPIError(err, res.gr, info.Name)
	}
	return deleted, true, nil
}

// deleteNow removes obj from storage if it is still the same object (and,
// with sameVersion, unchanged since it was read), then releases what it
// had allocated.
func (s *Server) deleteNow(ctx context.Context, res *resource, obj runtime.Object, sameVersion bool) (runtime.Object, error) {
	m, _ := metaOf(obj)
	uid := m.GetUID()
	pre := &storage.Preconditions{UID: &uid}
	if sameVersion {
		rv := m.GetResourceVersion()
		pre.ResourceVersion = &rv
	}
	deleted, err := res.store.Delete(ctx, res.key(m.GetNamespace(), m.GetName()), pre, nil, obj)
	if err != nil {
		return nil, err
	}
	if res.Allocator != nil {
		res.Allocator.Release(ctx, deleted)
	}
	return deleted, nil
}

// gracePeriod returns the grace period a delete gets. Only pods bound to a
// node and still running are deleted gracefully; everything else at once.
func gracePeriod(obj runtime.Object, opts metav1.DeleteOptions) int64 {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return 0
	}
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0
	}
	if opts.GracePeriodSeconds != nil {
		return *opts.GracePeriodSeconds
	}
	if pod.DeletionGracePeriodSeconds != nil {
		return *pod.DeletionGracePeriodSeconds
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return *pod.Spec.TerminationGracePeriodSeconds
	}
	return 30
}

// propagationFinalizer returns the finalizer a propagation policy asks for:
// the garbage collector (internal/controller/garbagecollector) removes it
// once the dependents are orphaned or deleted.
func propagationFinalizer(opts metav1.DeleteOptions) string {
	if !garbageCollector {
		return ""
	}
	if opts.PropagationPolicy != nil {
		switch *opts.PropagationPolicy {
		case metav1.DeletePropagationForeground:
			return metav1.FinalizerDeleteDependents
		case metav1.DeletePropagationOrphan:
			return metav1.FinalizerOrphanDependents
		}
	} else if opts.OrphanDependents != nil && *opts.OrphanDependents {
		return metav1.FinalizerOrphanDependents
	}
	return ""
}

func hasString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (s *Server) handleDeleteCollection(w http.ResponseWriter, r *http.Request, res *resource, info requestInfo) error {
	out, err := s.codecs.negotiateOutput(r)
	if err != nil {
		return err
	}
	opts, err := s.deleteOptions(r)
	if err != nil {
		return err
	}
	_, pred, err := s.listOptions(r, res)
	if err != nil {
		return err
	}
	list, err := res.store.List(r.Context(), res.listPrefix(info.Namespace), storage.ListOptions{Predicate: pred, Recursive: true})
	if err != nil {
		return toAPIError(err, res.gr, "")
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return err
	}
	var result []runtime.Object
	for _, item := range items {
		m, _ := metaOf(item)
		o := opts
		uid := m.GetUID()
		o.Preconditions = &metav1.Preconditions{UID: &uid}
		obj, _, err := s.deleteObject(r.Context(), res, requestInfo{Namespace: m.GetNamespace(), Name: m.GetName()}, o)
		if err != nil {
			if apierrors.IsNotFound(err) || apierrors.IsConflict(err) || apierrors.IsForbidden(err) {
				continue
			}
			return err
		}
		result = append(result, obj)
	}
	outList := res.NewList()
	if err := meta.SetList(outList, result); err != nil {
		return err
	}
	setListKind(outList, res)
	return s.respond(w, r, out, http.StatusOK, res, outList)
}

// garbageCollector says whether a garbage collector removes the orphan and
// foregroundDeletion finalizers; with false, Orphan and Foreground would
// act like Background (a finalizer nobody removes makes an object
// undeletable).
const garbageCollector = true

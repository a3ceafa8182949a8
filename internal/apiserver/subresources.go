package apiserver

import (
	"context"
	"fmt"
	"net/http"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/k1s/k1s/internal/admission"
	"github.com/k1s/k1s/internal/storage"
)

var scaleGVK = schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}

// scaleOf returns the autoscaling/v1 Scale view of obj.
func scaleOf(res *resource, obj runtime.Object) (*autoscalingv1.Scale, error) {
	if res.Scale == nil {
		return nil, notFoundPath("scale")
	}
	m, err := metaOf(obj)
	if err != nil {
		return nil, err
	}
	spec, status, selector := res.Scale.Get(obj)
	scale := &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{
			Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(),
			ResourceVersion: m.GetResourceVersion(), CreationTimestamp: m.GetCreationTimestamp(),
		},
		Spec:   autoscalingv1.ScaleSpec{Replicas: spec},
		Status: autoscalingv1.ScaleStatus{Replicas: status, Selector: selector},
	}
	scale.SetGroupVersionKind(scaleGVK)
	return scale, nil
}

// applyScale sets cur's replicas from a Scale, checking its preconditions.
func applyScale(res *resource, cur runtime.Object, want *autoscalingv1.Scale) (runtime.Object, error) {
	m, _ := metaOf(cur)
	if want.ResourceVersion != "" && want.ResourceVersion != m.GetResourceVersion() {
		return nil, apierrors.NewConflict(res.gr, m.GetName(), fmt.Errorf("%s", conflictMsg))
	}
	if want.Spec.Replicas < 0 {
		return nil, apierrors.NewInvalid(scaleGVK.GroupKind(), m.GetName(), field.ErrorList{
			field.Invalid(field.NewPath("spec", "replicas"), want.Spec.Replicas, "must be greater than or equal to 0")})
	}
	res.Scale.Set(cur, want.Spec.Replicas)
	return cur, nil
}

func (s *Server) updateScaleFromBody(w http.ResponseWriter, r *http.Request, out output, res *resource, info requestInfo, body []byte, dry bool) error {
	var want autoscalingv1.Scale
	obj, _, err := s.decodeBody(r, res, body, &want, scaleGVK)
	if err != nil {
		return err
	}
	wantp := obj.(*autoscalingv1.Scale)
	if wantp.Name != "" && wantp.Name != info.Name {
		return apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", wantp.Name, info.Name))
	}
	updated, err := s.updateObject(r.Context(), res, info, dry, func(cur runtime.Object) (runtime.Object, error) {
		return applyScale(res, cur, wantp)
	})
	if err != nil {
		return err
	}
	result, err := scaleOf(res, updated)
	if err != nil {
		return err
	}
	s.writeObject(w, r, out, http.StatusOK, result)
	return nil
}

// handleBinding assigns a pod to a node (POST pods/NAME/binding).
// decodeSubresourceRequest reads the body of a create on a subresource
// (binding, eviction, token) as gvk into into, and the output the client
// accepts for the answer.
func (s *Server) decodeSubresourceRequest(r *http.Request, res *resource, into runtime.Object, gvk schema.GroupVersionKind) (output, runtime.Object, error) {
	out, err := s.codecs.negotiateOutput(r)
	if err != nil {
		return out, nil, err
	}
	body, err := readBody(r)
	if err != nil {
		return out, nil, err
	}
	obj, _, err := s.decodeBody(r, res, body, into, gvk)
	return out, obj, err
}

func (s *Server) handleBinding(w http.ResponseWriter, r *http.Request, res *resource, info requestInfo) error {
	dry, err := dryRun(r)
	if err != nil {
		return err
	}
	gvk := corev1.SchemeGroupVersion.WithKind("Binding")
	out, obj, err := s.decodeSubresourceRequest(r, res, &corev1.Binding{}, gvk)
	if err != nil {
		return err
	}
	b := obj.(*corev1.Binding)
	if b.Name == "" {
		b.Name = info.Name
	}
	if b.Name != info.Name {
		return apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", b.Name, info.Name))
	}
	if b.Namespace != "" && b.Namespace != info.Namespace {
		return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		return apierrors.NewInvalid(gvk.GroupKind(), b.Name, field.ErrorList{field.NotSupported(field.NewPath("target", "kind"), b.Target.Kind, []string{"Node", "<empty>"})})
	}
	if b.Target.Name == "" {
		return apierrors.NewInvalid(gvk.GroupKind(), b.Name, field.ErrorList{field.Required(field.NewPath("target", "name"), "")})
	}
	info.Subresource = "binding"
	_, err = s.updateObject(r.Context(), res, info, dry, func(cur runtime.Object) (runtime.Object, error) {
		pod := cur.(*corev1.Pod)
		if b.UID != "" && b.UID != pod.UID {
			return nil, apierrors.NewConflict(res.gr, pod.Name, fmt.Errorf("precondition failed: UID in precondition: %v, UID in object meta: %v", b.UID, pod.UID))
		}
		if pod.DeletionTimestamp != nil {
			return nil, apierrors.NewConflict(res.gr, pod.Name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", pod.Name))
		}
		if pod.Spec.NodeName != "" {
			return nil, apierrors.NewConflict(res.gr, pod.Name, fmt.Errorf("pod %v is already assigned to node %q", pod.Name, pod.Spec.NodeName))
		}
		pod.Spec.NodeName = b.Target.Name
		for k, v := range b.Annotations {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[k] = v
		}
		setPodCondition(&pod.Status, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()})
		return pod, nil
	})
	if err != nil {
		return err
	}
	s.writeObject(w, r, out, http.StatusCreated, successStatus(res, info.Name, ""))
	return nil
}

func setPodCondition(status *corev1.PodStatus, c corev1.PodCondition) {
	for i := range status.Conditions {
		if status.Conditions[i].Type == c.Type {
			if status.Conditions[i].Status != c.Status {
				status.Conditions[i] = c
			}
			return
		}
	}
	status.Conditions = append(status.Conditions, c)
}

// handleEviction deletes a pod unless a PodDisruptionBudget forbids it.
func (s *Server) handleEviction(w http.ResponseWriter, r *http.Request, res *resource, info requestInfo) error {
	gvk := policyv1.SchemeGroupVersion.WithKind("Eviction")
	out, obj, err := s.decodeSubresourceRequest(r, res, &policyv1.Eviction{}, gvk)
	if err != nil {
		return err
	}
	ev := obj.(*policyv1.Eviction)
	if ev.Name != "" && ev.Name != info.Name {
		return apierrors.NewBadRequest(fmt.Sprintf("name in URL does not match name in Eviction object"))
	}
	ctx := r.Context()
	cur, err := res.store.Get(ctx, res.key(info.Namespace, info.Name), storage.GetOptions{})
	if err != nil {
		return toAPIError(err, res.gr, info.Name)
	}
	pod := cur.(*corev1.Pod)
	if err := s.validateAdmission(ctx, s.admissionAttributes(ctx, admission.Create, res, "eviction", ev, pod, false)); err != nil {
		return err
	}
	terminal := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	if !terminal && pod.DeletionTimestamp == nil {
		if err := s.checkDisruptionBudgets(ctx, pod); err != nil {
			return err
		}
	}
	opts := metav1.DeleteOptions{}
	if ev.DeleteOptions != nil {
		opts = *ev.DeleteOptions
	}
	if _, _, err := s.deleteObject(ctx, res, info, opts); err != nil {
		return err
	}
	s.writeObject(w, r, out, http.StatusCreated, successStatus(res, info.Name, ""))
	return nil
}

// checkDisruptionBudgets refuses an eviction that the pod's budget does
// not allow, and otherwise takes one disruption from it with a
// compare-and-swap, so that concurrent evictions (kubectl drain evicts in
// parallel) cannot all pass a budget that allows one.
func (s *Server) checkDisruptionBudgets(ctx context.Context, pod *corev1.Pod) error {
	pdbRes := s.resources[schema.GroupVersionResource{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"}]
	if pdbRes == nil {
		return nil
	}
	// A consistent read: a budget created a moment ago must count.
	list, err := pdbRes.store.List(ctx, pdbRes.listPrefix(pod.Namespace), storage.ListOptions{Recursive: true})
	if err != nil {
		return toAPIError(err, pdbRes.gr, "")
	}
	var matching []string
	for _, pdb := range list.(*policyv1.PodDisruptionBudgetList).Items {
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		matching = append(matching, pdb.Name)
	}
	switch len(matching) {
	case 0:
		return nil
	case 1:
	default:
		return apierrors.NewInternalError(fmt.Errorf("this pod has more than one PodDisruptionBudget, which the eviction subresource does not support"))
	}
	tooMany := func(msg string) error {
		return &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusTooManyRequests, Reason: metav1.StatusReasonTooManyRequests,
			Message: "Cannot evict pod as it would violate the pod's disruption budget.",
			Details: &metav1.StatusDetails{RetryAfterSeconds: 10, Causes: []metav1.StatusCause{{Type: "DisruptionBudget", Message: msg}}},
		}}
	}
	_, err = pdbRes.store.GuaranteedUpdate(ctx, pdbRes.key(pod.Namespace, matching[0]), false, nil, func(cur runtime.Object) (runtime.Object, error) {
		pdb := cur.(*policyv1.PodDisruptionBudget)
		if pdb.Status.ObservedGeneration < pdb.Generation {
			return nil, tooMany(fmt.Sprintf("The disruption budget %s is still being processed by the server.", pdb.Name))
		}
		if pdb.Status.DisruptionsAllowed < 1 {
			return nil, tooMany(fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently", pdb.Name, pdb.Status.DesiredHealthy, pdb.Status.CurrentHealthy))
		}
		pdb.Status.DisruptionsAllowed--
		if pdb.Status.DisruptedPods == nil {
			pdb.Status.DisruptedPods = map[string]metav1.Time{}
		}
		pdb.Status.DisruptedPods[pod.Name] = metav1.Now()
		return pdb, nil
	})
	if storage.IsNotFound(err) {
		return nil // the budget went away meanwhile
	}
	if err != nil {
		return toAPIError(err, pdbRes.gr, matching[0])
	}
	return nil
}

// successStatus is the Status returned for completed deletes and bindings.
func successStatus(res *resource, name string, uid types.UID) *metav1.Status {
	return &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusSuccess,
		Details:  &metav1.StatusDetails{Name: name, Group: res.Group, Kind: res.Plural, UID: uid},
	}
}

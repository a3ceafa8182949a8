package registry

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// podResource is core/v1 pods. Binding, eviction, logs, exec and the
// Terminating lifecycle are the api-server's; this is the data.
func podResource() *Resource {
	return &Resource{
		Version: "v1", Kind: "Pod", Plural: "pods", Singular: "pod",
		WatchIndex: "spec.nodeName",
		ShortNames: []string{"po"}, Categories: []string{"all"}, Namespaced: true,
		New:     func() runtime.Object { return &corev1.Pod{} },
		NewList: func() runtime.Object { return &corev1.PodList{} },
		Default: func(obj runtime.Object) { defaultPod(obj.(*corev1.Pod)) },
		PrepareForCreate: func(obj runtime.Object) {
			pod := obj.(*corev1.Pod)
			pod.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: podQOSClass(&pod.Spec)}
		},
		PrepareForUpdate: func(obj, old runtime.Object) {
			obj.(*corev1.Pod).Status = old.(*corev1.Pod).Status
		},
		Validate: func(obj runtime.Object) field.ErrorList { return validatePod(obj.(*corev1.Pod)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return validatePodUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
		},
		Status: &StatusSubresource{
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				return validatePodStatusUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
			},
		},
		Table:  podTable(),
		Fields: podFields,
	}
}

func validatePod(pod *corev1.Pod) field.ErrorList {
	specPath := field.NewPath("spec")
	errs := validatePodSpec(&pod.Spec, specPath)
	if len(pod.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(specPath.Child("ephemeralContainers"), "cannot be set on create"))
	}
	return append(errs, validatePodImagesTrimmed(&pod.Spec, specPath)...)
}

// validatePodImagesTrimmed rejects images with surrounding blanks. Pods
// only: templates may carry " " as a placeholder that a controller fills.
func validatePodImagesTrimmed(spec *corev1.PodSpec, specPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, group := range []struct {
		name string
		ctrs []corev1.Container
	}{{"containers", spec.Containers}, {"initContainers", spec.InitContainers}} {
		for i, c := range group.ctrs {
			if c.Image != "" && strings.TrimSpace(c.Image) != c.Image {
				errs = append(errs, field.Invalid(specPath.Child(group.name).Index(i).Child("image"), c.Image,
					"must not have leading or trailing whitespace"))
			}
		}
	}
	return errs
}

// podMutableSpecMsg is upstream's message for a forbidden pod spec change.
const podMutableSpecMsg = "pod updates may not change fields other than `spec.containers[*].image`," +
	"`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations)," +
	"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"

// validatePodUpdate enforces pod spec immutability: only images,
// activeDeadlineSeconds (set or lowered), tolerations (additions, or a
// lower tolerationSeconds), terminationGracePeriodSeconds (negative to 1)
// and the removal of scheduling gates may change.
func validatePodUpdate(pod, old *corev1.Pod) field.ErrorList {
	specPath := field.NewPath("spec")
	errs := validatePodSpec(&pod.Spec, specPath)
	errs = append(errs, validatePodImagesTrimmed(&pod.Spec, specPath)...)

	if len(pod.Spec.Containers) != len(old.Spec.Containers) {
		return append(errs, field.Forbidden(specPath.Child("containers"), "pod updates may not add or remove containers"))
	}
	if len(pod.Spec.InitContainers) != len(old.Spec.InitContainers) {
		return append(errs, field.Forbidden(specPath.Child("initContainers"), "pod updates may not add or remove containers"))
	}

	if old.Spec.ActiveDeadlineSeconds != nil {
		p := specPath.Child("activeDeadlineSeconds")
		switch {
		case pod.Spec.ActiveDeadlineSeconds == nil:
			errs = append(errs, field.Invalid(p, pod.Spec.ActiveDeadlineSeconds, "must not update from a positive integer to nil value"))
		case *pod.Spec.ActiveDeadlineSeconds > *old.Spec.ActiveDeadlineSeconds:
			errs = append(errs, field.Invalid(p, *pod.Spec.ActiveDeadlineSeconds, "must be less than or equal to previous value"))
		}
	}
	errs = append(errs, validatePodTolerationsUpdate(pod.Spec.Tolerations, old.Spec.Tolerations, specPath.Child("tolerations"))...)
	for i, g := range pod.Spec.SchedulingGates {
		if !slices.ContainsFunc(old.Spec.SchedulingGates, func(o corev1.PodSchedulingGate) bool { return o.Name == g.Name }) {
			errs = append(errs, field.Forbidden(specPath.Child("schedulingGates").Index(i), "only deletion is allowed, but found new scheduling gate '"+g.Name+"'"))
		}
	}

	// Compare the specs with every mutable field taken from the new one.
	mutated := *old.Spec.DeepCopy()
	mutated.Containers = podWithImages(mutated.Containers, pod.Spec.Containers)
	mutated.InitContainers = podWithImages(mutated.InitContainers, pod.Spec.InitContainers)
	mutated.ActiveDeadlineSeconds = pod.Spec.ActiveDeadlineSeconds
	mutated.Tolerations = pod.Spec.Tolerations
	mutated.SchedulingGates = pod.Spec.SchedulingGates
	if g := old.Spec.TerminationGracePeriodSeconds; g != nil && *g < 0 && pod.Spec.TerminationGracePeriodSeconds != nil &&
		*pod.Spec.TerminationGracePeriodSeconds == 1 {
		mutated.TerminationGracePeriodSeconds = pod.Spec.TerminationGracePeriodSeconds
	}
	if !equality.Semantic.DeepEqual(mutated, pod.Spec) {
		changed := podChangedSpecFields(&mutated, &pod.Spec)
		msg := podMutableSpecMsg
		if len(changed) > 0 {
			msg += "\n  changed: " + strings.Join(changed, ", ")
		}
		errs = append(errs, field.Forbidden(specPath, msg))
	}
	return errs
}

// podWithImages returns old with the images of ctrs (same length).
func podWithImages(old, ctrs []corev1.Container) []corev1.Container {
	for i := range old {
		old[i].Image = ctrs[i].Image
	}
	return old
}

// podChangedSpecFields names the top-level spec fields that differ, as
// "spec.<json name>", so the user sees what blocked the update.
func podChangedSpecFields(a, b *corev1.PodSpec) []string {
	var out []string
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	t := va.Type()
	for i := range t.NumField() {
		if equality.Semantic.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			continue
		}
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out = append(out, "spec."+name)
	}
	return out
}

// validatePodTolerationsUpdate allows adding tolerations and changing the
// tolerationSeconds of existing ones; nothing may be removed.
func validatePodTolerationsUpdate(tols, old []corev1.Toleration, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, o := range old {
		found := false
		for _, t := range tols {
			if t.Key == o.Key && t.Operator == o.Operator && t.Value == o.Value && t.Effect == o.Effect {
				found = true
				break
			}
		}
		if !found {
			errs = append(errs, field.Forbidden(fldPath, "existing toleration can not be modified except its tolerationSeconds"))
			break
		}
	}
	return errs
}

func validatePodStatusUpdate(pod, old *corev1.Pod) field.ErrorList {
	var errs field.ErrorList
	statusPath := field.NewPath("status")
	if n := pod.Status.NominatedNodeName; n != "" {
		for _, msg := range validation.IsDNS1123Subdomain(n) {
			errs = append(errs, field.Invalid(statusPath.Child("nominatedNodeName"), n, msg))
		}
	}
	phases := []corev1.PodPhase{corev1.PodFailed, corev1.PodPending, corev1.PodRunning, corev1.PodSucceeded, corev1.PodUnknown}
	if pod.Status.Phase != "" && !slices.Contains(phases, pod.Status.Phase) {
		errs = append(errs, field.NotSupported(statusPath.Child("phase"), pod.Status.Phase, phases))
	}
	// A pod that reached a terminal phase stays there.
	if (old.Status.Phase == corev1.PodSucceeded || old.Status.Phase == corev1.PodFailed) && pod.Status.Phase != old.Status.Phase {
		errs = append(errs, field.Forbidden(statusPath.Child("phase"),
			fmt.Sprintf("may not transition from %s to %s", old.Status.Phase, pod.Status.Phase)))
	}
	if pod.Status.PodIP != "" {
		errs = append(errs, validation.IsValidIPForLegacyField(statusPath.Child("podIP"), pod.Status.PodIP, true, nil)...)
	}
	for i, ip := range pod.Status.PodIPs {
		errs = append(errs, validation.IsValidIPForLegacyField(statusPath.Child("podIPs").Index(i).Child("ip"), ip.IP, true, nil)...)
	}
	if len(pod.Status.PodIPs) > 0 && pod.Status.PodIP != "" && pod.Status.PodIPs[0].IP != pod.Status.PodIP {
		errs = append(errs, field.Invalid(statusPath.Child("podIPs").Index(0).Child("ip"), pod.Status.PodIPs[0].IP, "must match `podIP`"))
	}
	if pod.Status.HostIP != "" {
		errs = append(errs, validation.IsValidIPForLegacyField(statusPath.Child("hostIP"), pod.Status.HostIP, true, nil)...)
	}
	return errs
}

// podFields are the field-selector fields of a pod.
func podFields(obj runtime.Object) fields.Set {
	pod := obj.(*corev1.Pod)
	podIP := pod.Status.PodIP
	if len(pod.Status.PodIPs) > 0 {
		podIP = pod.Status.PodIPs[0].IP
	}
	return fields.Set{
		"spec.nodeName":            pod.Spec.NodeName,
		"spec.restartPolicy":       string(pod.Spec.RestartPolicy),
		"spec.schedulerName":       pod.Spec.SchedulerName,
		"spec.serviceAccountName":  pod.Spec.ServiceAccountName,
		"spec.hostNetwork":         strconv.FormatBool(pod.Spec.HostNetwork),
		"status.phase":             string(pod.Status.Phase),
		"status.podIP":             podIP,
		"status.nominatedNodeName": pod.Status.NominatedNodeName,
	}
}

// podQOSClass computes the QoS class as upstream does: BestEffort without
// any cpu/memory request or limit, Guaranteed when every container limits
// both and requests equal limits, Burstable otherwise. Pod-level resources,
// when set, decide alone.
func podQOSClass(spec *corev1.PodSpec) corev1.PodQOSClass {
	requests, limits := corev1.ResourceList{}, corev1.ResourceList{}
	guaranteed := true
	add := func(into corev1.ResourceList, name corev1.ResourceName, q resource.Quantity) {
		if cur, ok := into[name]; ok {
			q.Add(cur)
		}
		into[name] = q
	}
	qosResource := func(name corev1.ResourceName) bool {
		return name == corev1.ResourceCPU || name == corev1.ResourceMemory
	}
	account := func(r *corev1.ResourceRequirements) {
		for name, q := range r.Requests {
			if qosResource(name) && q.Sign() > 0 {
				add(requests, name, q.DeepCopy())
			}
		}
		found := 0
		for name, q := range r.Limits {
			if qosResource(name) && !q.IsZero() {
				add(limits, name, q.DeepCopy())
				found++
			}
		}
		if found != 2 {
			guaranteed = false
		}
	}
	if spec.Resources != nil && (len(spec.Resources.Requests) > 0 || len(spec.Resources.Limits) > 0) {
		account(spec.Resources)
	} else {
		for i := range spec.InitContainers {
			account(&spec.InitContainers[i].Resources)
		}
		for i := range spec.Containers {
			account(&spec.Containers[i].Resources)
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return corev1.PodQOSBestEffort
	}
	if guaranteed {
		for name, req := range requests {
			if lim, ok := limits[name]; !ok || lim.Cmp(req) != 0 {
				guaranteed = false
				break
			}
		}
	}
	if guaranteed && len(requests) == len(limits) {
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

package limitranger

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

// Annotation records what LimitRanger defaulted on a pod.
const Annotation = "kubernetes.io/limit-ranger"

// defaultRequestsFromLimits is the API's pod defaulting that upstream
// applies before admission: a container with a limit but no request for a
// resource requests its limit. It is a no-op when already applied.
func defaultRequestsFromLimits(pod *corev1.Pod) {
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			res := &cs[i].Resources
			if len(res.Limits) == 0 {
				continue
			}
			if res.Requests == nil {
				res.Requests = corev1.ResourceList{}
			}
			for k, v := range res.Limits {
				if _, ok := res.Requests[k]; !ok {
					res.Requests[k] = v.DeepCopy()
				}
			}
		}
	}
}

// DefaultPod fills every container's and init container's missing requests
// from the range's Container defaultRequest and missing limits from its
// default, and records what it set in the Annotation. lr must already
// carry LimitRange defaulting (default from max, defaultRequest from
// default or min).
func DefaultPod(lr *corev1.LimitRange, pod *corev1.Pod) {
	requests, limits := corev1.ResourceList{}, corev1.ResourceList{}
	for _, item := range lr.Spec.Limits {
		if item.Type != corev1.LimitTypeContainer {
			continue
		}
		for k, v := range item.DefaultRequest {
			requests[k] = v.DeepCopy()
		}
		for k, v := range item.Default {
			limits[k] = v.DeepCopy()
		}
	}
	var notes []string
	merge := func(c *corev1.Container, kind string) {
		set := func(into *corev1.ResourceList, from corev1.ResourceList) []string {
			var names []string
			for k, v := range from {
				if _, ok := (*into)[k]; ok {
					continue
				}
				if *into == nil {
					*into = corev1.ResourceList{}
				}
				(*into)[k] = v.DeepCopy()
				names = append(names, string(k))
			}
			slices.Sort(names)
			return names
		}
		if names := set(&c.Resources.Requests, requests); len(names) > 0 {
			notes = append(notes, fmt.Sprintf("%s request for %s %s", strings.Join(names, ", "), kind, c.Name))
		}
		if names := set(&c.Resources.Limits, limits); len(names) > 0 {
			notes = append(notes, fmt.Sprintf("%s limit for %s %s", strings.Join(names, ", "), kind, c.Name))
		}
	}
	for i := range pod.Spec.Containers {
		merge(&pod.Spec.Containers[i], "container")
	}
	for i := range pod.Spec.InitContainers {
		merge(&pod.Spec.InitContainers[i], "init container")
	}
	if len(notes) == 0 {
		return
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[Annotation] = "LimitRanger plugin set: " + strings.Join(notes, "; ")
}

// ValidatePod checks a pod against a range's Container items (each
// container and init container) and Pod items (the pod's effective
// requests and limits). Errors are worded as upstream's and aggregated.
func ValidatePod(lr *corev1.LimitRange, pod *corev1.Pod) error {
	var errs []error
	for _, item := range lr.Spec.Limits {
		switch item.Type {
		case corev1.LimitTypeContainer:
			for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
				for i := range cs {
					errs = append(errs, checkItem(item, cs[i].Resources.Requests, cs[i].Resources.Limits)...)
				}
			}
		case corev1.LimitTypePod:
			errs = append(errs, checkItem(item, podRequests(pod), podLimits(pod))...)
		}
	}
	return utilerrors.NewAggregate(errs)
}

// ValidateClaim checks a claim's requests against a range's
// PersistentVolumeClaim items: min and max only, on requests only.
func ValidateClaim(lr *corev1.LimitRange, claim *corev1.PersistentVolumeClaim) error {
	var errs []error
	requests := claim.Spec.Resources.Requests
	for _, item := range lr.Spec.Limits {
		if item.Type != corev1.LimitTypePersistentVolumeClaim {
			continue
		}
		for _, k := range sortedNames(item.Min) {
			if err := minConstraint(item.Type, k, item.Min[k], requests, corev1.ResourceList{}); err != nil {
				errs = append(errs, err)
			}
		}
		for _, k := range sortedNames(item.Max) {
			if err := maxRequestConstraint(item.Type, k, item.Max[k], requests); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return utilerrors.NewAggregate(errs)
}

// checkItem applies an item's min, max and maxLimitRequestRatio, resource
// by resource in name order.
func checkItem(item corev1.LimitRangeItem, requests, limits corev1.ResourceList) []error {
	var errs []error
	for _, k := range sortedNames(item.Min) {
		if err := minConstraint(item.Type, k, item.Min[k], requests, limits); err != nil {
			errs = append(errs, err)
		}
	}
	for _, k := range sortedNames(item.Max) {
		if err := maxConstraint(item.Type, k, item.Max[k], requests, limits); err != nil {
			errs = append(errs, err)
		}
	}
	for _, k := range sortedNames(item.MaxLimitRequestRatio) {
		if err := ratioConstraint(item.Type, k, item.MaxLimitRequestRatio[k], requests, limits); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func sortedNames(l corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(l))
	for k := range l {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// atCommonPrecision returns the three quantities at a common precision: milli
// units unless that would overflow.
func atCommonPrecision(request, limit, enforced resource.Quantity) (int64, int64, int64) {
	r, l, e := request.Value(), limit.Value(), enforced.Value()
	if r <= resource.MaxMilliValue && l <= resource.MaxMilliValue && e <= resource.MaxMilliValue {
		return request.MilliValue(), limit.MilliValue(), enforced.MilliValue()
	}
	return r, l, e
}

func minConstraint(t corev1.LimitType, name corev1.ResourceName, enforced resource.Quantity, requests, limits corev1.ResourceList) error {
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	r, l, e := atCommonPrecision(req, lim, enforced)
	if !hasReq {
		return fmt.Errorf("minimum %s usage per %s is %s.  No request is specified", name, t, enforced.String())
	}
	if r < e {
		return fmt.Errorf("minimum %s usage per %s is %s, but request is %s", name, t, enforced.String(), req.String())
	}
	if hasLim && l < e {
		return fmt.Errorf("minimum %s usage per %s is %s, but limit is %s", name, t, enforced.String(), lim.String())
	}
	return nil
}

func maxConstraint(t corev1.LimitType, name corev1.ResourceName, enforced resource.Quantity, requests, limits corev1.ResourceList) error {
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	r, l, e := atCommonPrecision(req, lim, enforced)
	if !hasLim {
		return fmt.Errorf("maximum %s usage per %s is %s.  No limit is specified", name, t, enforced.String())
	}
	if l > e {
		return fmt.Errorf("maximum %s usage per %s is %s, but limit is %s", name, t, enforced.String(), lim.String())
	}
	if hasReq && r > e {
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, t, enforced.String(), req.String())
	}
	return nil
}

// maxRequestConstraint is max for types without limits (claims).
func maxRequestConstraint(t corev1.LimitType, name corev1.ResourceName, enforced resource.Quantity, requests corev1.ResourceList) error {
	req, hasReq := requests[name]
	r, _, e := atCommonPrecision(req, resource.Quantity{}, enforced)
	if !hasReq {
		return fmt.Errorf("maximum %s usage per %s is %s.  No request is specified", name, t, enforced.String())
	}
	if r > e {
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, t, enforced.String(), req.String())
	}
	return nil
}

func ratioConstraint(t corev1.LimitType, name corev1.ResourceName, enforced resource.Quantity, requests, limits corev1.ResourceList) error {
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	r, l, _ := atCommonPrecision(req, lim, enforced)
	if !hasReq || r == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no request is specified or request is 0", name, t, enforced.String())
	}
	if !hasLim || l == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no limit is specified or limit is 0", name, t, enforced.String())
	}
	ratio := float64(l) / float64(r)
	observed, allowed := ratio, float64(enforced.Value())
	if enforced.Value() <= resource.MaxMilliValue {
		observed, allowed = ratio*1000, float64(enforced.MilliValue())
	}
	if observed > allowed {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but provided ratio is %f", name, t, enforced.String(), ratio)
	}
	return nil
}

// podRequests is the pod's effective request: the sum over containers
// and sidecars (restartable init containers), or the largest init
// container (plus the sidecars started before it) if that is more.
func podRequests(pod *corev1.Pod) corev1.ResourceList {
	return podTotal(pod, func(c *corev1.Container) corev1.ResourceList { return c.Resources.Requests })
}

// podLimits is podRequests for limits.
func podLimits(pod *corev1.Pod) corev1.ResourceList {
	return podTotal(pod, func(c *corev1.Container) corev1.ResourceList { return c.Resources.Limits })
}

func podTotal(pod *corev1.Pod, of func(*corev1.Container) corev1.ResourceList) corev1.ResourceList {
	total := corev1.ResourceList{}
	for i := range pod.Spec.Containers {
		add(total, of(&pod.Spec.Containers[i]))
	}
	sidecars, inits := corev1.ResourceList{}, corev1.ResourceList{}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		own := of(c)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			add(total, own)
			add(sidecars, own)
			maxInto(inits, sidecars)
			continue
		}
		running := corev1.ResourceList{}
		add(running, own)
		add(running, sidecars)
		maxInto(inits, running)
	}
	maxInto(total, inits)
	return total
}

func add(into, from corev1.ResourceList) {
	for k, v := range from {
		if cur, ok := into[k]; ok {
			cur.Add(v)
			into[k] = cur
		} else {
			into[k] = v.DeepCopy()
		}
	}
}

func maxInto(into, from corev1.ResourceList) {
	for k, v := range from {
		if cur, ok := into[k]; !ok || v.Cmp(cur) > 0 {
			into[k] = v.DeepCopy()
		}
	}
}

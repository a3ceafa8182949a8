package quota

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/k1s/k1s/internal/admission"
)

// Admit charges a write of obj, an object of gr, to quotas (the
// ResourceQuotas of its namespace) the way upstream's ResourceQuota
// admission plugin does. Creates cost obj's usage; updates cost what obj
// costs more than old did (all of it if old has no resourceVersion or
// was outside a quota's scopes); other operations cost nothing. Only
// resources in a quota's status.hard are charged to it.
//
// It returns deep copies of the quotas whose status.used grew, in the
// order given, for the caller to write with a compare-and-swap before
// storing obj (on a conflict: re-read the quotas and call Admit again);
// nil when nothing is charged. The write is refused with a Forbidden
// StatusError, for the first quota in order, when
//   - a quota on cpu or memory matches a pod with a container that does
//     not set that request or limit: "failed quota: <name>: must specify
//     limits.cpu for: <containers>";
//   - a matching quota's status has no usage yet for a charged resource:
//     "status unknown for quota: <name>, resources: ...";
//   - used+charge would pass hard: "exceeded quota: <name>, requested:
//     pods=1, used: pods=2, limited: pods=2".
//
// Other errors mean obj could not be evaluated. Admit does no I/O, keeps
// no state and does not change its arguments.
func Admit(quotas []*corev1.ResourceQuota, gr schema.GroupResource, op admission.Operation, obj, old runtime.Object) ([]*corev1.ResourceQuota, error) {
	if op != admission.Create && op != admission.Update {
		return nil, nil
	}
	forbidden := func(format string, args ...any) error {
		return apierrors.NewForbidden(gr, objectName(obj), fmt.Errorf(format, args...))
	}

	var charged []int // indexes into quotas
	for i, q := range quotas {
		match, err := matches(q, gr, obj)
		if err != nil {
			return nil, err
		}
		if !match {
			continue
		}
		restricted := accounted(gr, q.Status.Hard)
		if pod, ok := obj.(*corev1.Pod); ok && gr == podsResource {
			if err := missingRequirements(pod, restricted); err != nil {
				return nil, forbidden("failed quota: %s: %w", q.Name, err)
			}
		}
		for _, name := range restricted {
			if _, ok := q.Status.Used[name]; !ok {
				return nil, forbidden("status unknown for quota: %s, resources: %s", q.Name, formatNames(restricted))
			}
		}
		charged = append(charged, i)
	}
	if len(charged) == 0 {
		return nil, nil
	}

	usage, err := Usage(gr, obj)
	if err != nil {
		return nil, err
	}
	var negative []corev1.ResourceName
	for name, q := range usage {
		if q.Sign() < 0 {
			negative = append(negative, name)
		}
	}
	if len(negative) > 0 {
		return nil, forbidden("quota usage is negative for resource(s): %s", formatNames(negative))
	}

	// On update, a quota that already held old pays the difference.
	var oldUsage corev1.ResourceList
	if op == admission.Update {
		if old == nil {
			return nil, forbidden("unable to get previous usage since prior version of object was not found")
		}
		if m, err := meta.Accessor(old); err == nil && m.GetResourceVersion() != "" {
			if oldUsage, err = Usage(gr, old); err != nil {
				return nil, err
			}
		}
	}

	var out []*corev1.ResourceQuota
	for _, i := range charged {
		q := quotas[i]
		delta := usage
		if oldUsage != nil {
			held, err := matches(q, gr, old)
			if err != nil {
				return nil, err
			}
			if held {
				delta = subtractNonNegative(usage, oldUsage)
			}
		}
		requested := mask(removeZeros(delta), nameSet(q.Status.Hard))
		if len(requested) == 0 {
			continue
		}
		used := add(q.Status.Used, requested)
		var exceeded []corev1.ResourceName
		for name := range requested {
			if u := used[name]; u.Cmp(q.Status.Hard[name]) > 0 {
				exceeded = append(exceeded, name)
			}
		}
		if len(exceeded) > 0 {
			names := make(map[corev1.ResourceName]bool, len(exceeded))
			for _, n := range exceeded {
				names[n] = true
			}
			return nil, forbidden("exceeded quota: %s, requested: %s, used: %s, limited: %s", q.Name,
				format(mask(requested, names)), format(mask(q.Status.Used, names)), format(mask(q.Status.Hard, names)))
		}
		updated := q.DeepCopy()
		updated.Status.Used = used
		out = append(out, updated)
	}
	return out, nil
}

// objectName names obj in a refusal: its name, or its generateName
// before the name is generated, or "Unknown".
func objectName(obj runtime.Object) string {
	m, err := meta.Accessor(obj)
	switch {
	case err != nil:
		return "Unknown"
	case m.GetName() != "":
		return m.GetName()
	case m.GetGenerateName() != "":
		return m.GetGenerateName()
	}
	return "Unknown"
}

// requiredPerContainer are the resources that, when a quota limits them,
// every container must set. Upstream calls this coupling a mistake kept
// for compatibility; it is not extended to other resources.
var requiredPerContainer = []corev1.ResourceName{
	corev1.ResourceCPU, corev1.ResourceMemory,
	corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory,
	corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory,
}

// missingRequirements reports the containers that do not set a request or
// limit that restricted makes mandatory. A pod-level request or limit
// (pod.spec.resources) covers all its containers.
func missingRequirements(pod *corev1.Pod, restricted []corev1.ResourceName) error {
	var required []corev1.ResourceName
	for _, name := range restricted {
		if slices.Contains(requiredPerContainer, name) {
			required = append(required, name)
		}
	}
	if len(required) == 0 {
		return nil
	}
	var podLevel corev1.ResourceList
	if r := pod.Spec.Resources; r != nil {
		podLevel = computeUsage(r.Requests, r.Limits)
	}
	missing := map[corev1.ResourceName][]string{}
	check := func(c corev1.Container) {
		set := computeUsage(c.Resources.Requests, c.Resources.Limits)
		for _, name := range required {
			_, byContainer := set[name]
			_, byPod := podLevel[name]
			if !byContainer && !byPod && !slices.Contains(missing[name], c.Name) {
				missing[name] = append(missing[name], c.Name)
			}
		}
	}
	for _, c := range pod.Spec.Containers {
		check(c)
	}
	for _, c := range pod.Spec.InitContainers {
		check(c)
	}
	if len(missing) == 0 {
		return nil
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(missing)) {
		containers := slices.Clone(missing[name])
		slices.Sort(containers)
		parts = append(parts, fmt.Sprintf("%s for: %s", name, strings.Join(containers, ",")))
	}
	return errors.New("must specify " + strings.Join(parts, "; "))
}

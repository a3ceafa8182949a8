package limitranger

import (
	"context"
	"errors"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	corev1listers "k8s.io/client-go/listers/core/v1"

	"github.com/k1s/k1s/internal/admission"
	"github.com/k1s/k1s/internal/registry"
)

// Options configure the plugin.
type Options struct {
	// LimitRanges lists a namespace's LimitRanges. Required.
	LimitRanges corev1listers.LimitRangeLister
}

// Plugin is LimitRanger: it defaults container resources from a
// namespace's LimitRanges (Admit) and refuses pods and claims outside
// their bounds (Validate).
type Plugin struct {
	limitRanges corev1listers.LimitRangeLister
}

var (
	_ admission.Mutator   = (*Plugin)(nil)
	_ admission.Validator = (*Plugin)(nil)
)

// New returns the plugin.
func New(opts Options) (*Plugin, error) {
	if opts.LimitRanges == nil {
		return nil, errors.New("limitranger: Options.LimitRanges is required")
	}
	return &Plugin{limitRanges: opts.LimitRanges}, nil
}

var (
	podsResource   = schema.GroupResource{Resource: "pods"}
	claimsResource = schema.GroupResource{Resource: "persistentvolumeclaims"}
)

// applies reports whether LimitRanger looks at a write: pod creates
// (containers cannot change afterwards) and claim creates and updates,
// never subresources nor objects being deleted, as upstream.
func applies(a *admission.Attributes) bool {
	if a.Subresource != "" || a.Object == nil {
		return false
	}
	switch a.Resource.GroupResource() {
	case podsResource:
		if a.Operation != admission.Create {
			return false
		}
	case claimsResource:
		if a.Operation != admission.Create && a.Operation != admission.Update {
			return false
		}
	default:
		return false
	}
	if a.OldObject != nil {
		if m, err := meta.Accessor(a.OldObject); err == nil && m.GetDeletionTimestamp() != nil {
			return false
		}
	}
	return true
}

// Admit implements admission.Mutator: it fills a new pod's missing
// container requests and limits from the namespace's LimitRanges, and
// records what it set in the kubernetes.io/limit-ranger annotation.
func (p *Plugin) Admit(_ context.Context, a *admission.Attributes) error {
	if !applies(a) || a.Resource.GroupResource() != podsResource {
		return nil
	}
	ranges, err := p.ranges(a)
	if err != nil {
		return err
	}
	u, isUnstructured := a.Object.(*unstructured.Unstructured)
	pod, err := podOf(a.Object)
	if err != nil {
		return forbidden(a, err)
	}
	defaultRequestsFromLimits(pod)
	for _, lr := range ranges {
		DefaultPod(lr, pod)
	}
	if isUnstructured {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(pod)
		if err != nil {
			return forbidden(a, fmt.Errorf("convert pod: %w", err))
		}
		u.Object = m
	}
	return nil
}

// Validate implements admission.Validator: it refuses pods whose
// containers (or the pod as a whole) fall outside a LimitRange's min, max
// or maxLimitRequestRatio, and claims whose storage request falls outside
// its min or max.
func (p *Plugin) Validate(_ context.Context, a *admission.Attributes) error {
	if !applies(a) {
		return nil
	}
	ranges, err := p.ranges(a)
	if err != nil {
		return err
	}
	for _, lr := range ranges {
		switch a.Resource.GroupResource() {
		case podsResource:
			pod, err := podOf(a.Object)
			if err != nil {
				return forbidden(a, err)
			}
			err = ValidatePod(lr, pod)
			if err != nil {
				return forbidden(a, err)
			}
		case claimsResource:
			claim, err := claimOf(a.Object)
			if err != nil {
				return forbidden(a, err)
			}
			if err := ValidateClaim(lr, claim); err != nil {
				return forbidden(a, err)
			}
		}
	}
	return nil
}

// ranges returns the namespace's LimitRanges in name order, each with
// upstream's LimitRange defaulting applied to a copy.
func (p *Plugin) ranges(a *admission.Attributes) ([]*corev1.LimitRange, error) {
	list, err := p.limitRanges.LimitRanges(a.Namespace).List(labels.Everything())
	if err != nil {
		return nil, forbidden(a, fmt.Errorf("unable to %s %v at this time because there was an error enforcing limit ranges", a.Operation, a.Resource))
	}
	out := make([]*corev1.LimitRange, 0, len(list))
	for _, lr := range list {
		lr = lr.DeepCopy()
		for i := range lr.Spec.Limits {
			registry.DefaultLimitRangeItem(&lr.Spec.Limits[i])
		}
		out = append(out, lr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// forbidden wraps a refusal as upstream's admission.NewForbidden does:
// `pods "x" is forbidden: <err>`, naming the object (or its generateName).
func forbidden(a *admission.Attributes, err error) error {
	if apierrors.IsForbidden(err) {
		return err
	}
	name := "Unknown"
	if m, merr := meta.Accessor(a.Object); merr == nil {
		if m.GetName() != "" {
			name = m.GetName()
		} else if m.GetGenerateName() != "" {
			name = m.GetGenerateName()
		}
	}
	return apierrors.NewForbidden(a.Resource.GroupResource(), name, err)
}

func podOf(obj runtime.Object) (*corev1.Pod, error) {
	switch o := obj.(type) {
	case *corev1.Pod:
		return o, nil
	case *unstructured.Unstructured:
		pod := &corev1.Pod{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, pod); err != nil {
			return nil, fmt.Errorf("decode pod: %w", err)
		}
		return pod, nil
	}
	return nil, fmt.Errorf("unexpected object %T for a pod", obj)
}

func claimOf(obj runtime.Object) (*corev1.PersistentVolumeClaim, error) {
	switch o := obj.(type) {
	case *corev1.PersistentVolumeClaim:
		return o, nil
	case *unstructured.Unstructured:
		claim := &corev1.PersistentVolumeClaim{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, claim); err != nil {
			return nil, fmt.Errorf("decode persistentvolumeclaim: %w", err)
		}
		return claim, nil
	}
	return nil, fmt.Errorf("unexpected object %T for a persistentvolumeclaim", obj)
}

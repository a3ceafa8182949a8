package podsecurity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	corev1listers "k8s.io/client-go/listers/core/v1"

	"github.com/k1s/k1s/internal/admission"
)

// Audit annotation keys, as upstream names them.
const (
	AuditViolationsAnnotation = "pod-security.kubernetes.io/audit-violations"
	EnforcePolicyAnnotation   = "pod-security.kubernetes.io/enforce-policy"
	ErrorAnnotation           = "pod-security.kubernetes.io/error"
)

// maxPodsToCheck bounds the existing pods checked when a namespace's
// enforce level tightens, as upstream.
const maxPodsToCheck = 3000

// Options configure the plugin.
type Options struct {
	// Namespaces reads the namespace labels that select the policy. Required.
	Namespaces corev1listers.NamespaceLister
	// GetNamespace, if set, is asked when Namespaces does not (yet) hold
	// the pod's namespace, e.g. right after the namespace was created.
	GetNamespace func(ctx context.Context, name string) (*corev1.Namespace, error)
	// Pods, if set, lets a namespace update that tightens the enforce level
	// warn about existing pods that would break it.
	Pods corev1listers.PodLister
	// ExemptNamespaces, ExemptUsers and ExemptRuntimeClasses are never
	// evaluated. Nothing is exempt by default (not even kube-system).
	ExemptNamespaces     []string
	ExemptUsers          []string
	ExemptRuntimeClasses []string
}

// Plugin is Pod Security Admission: it refuses pods that break their
// namespace's enforce level and warns about those that break its warn
// level (and about workload templates that break either).
type Plugin struct {
	opts Options
}

var _ admission.Validator = (*Plugin)(nil)

// New returns the plugin.
func New(opts Options) (*Plugin, error) {
	if opts.Namespaces == nil {
		return nil, errors.New("podsecurity: Options.Namespaces is required")
	}
	return &Plugin{opts: opts}, nil
}

// Decision is everything PodSecurity concluded about one write.
type Decision struct {
	// Err refuses the write (a Forbidden or Invalid StatusError).
	Err error
	// Warnings are for the response's Warning headers.
	Warnings []string
	// AuditAnnotations go into the audit record (audit-level violations,
	// unparsable namespace labels).
	AuditAnnotations map[string]string
}

// Validate implements admission.Validator.
func (p *Plugin) Validate(ctx context.Context, a *admission.Attributes) error {
	return p.Decide(ctx, a).Err
}

// Warnings returns the warnings for a write: the api-server puts them in
// Warning headers. It evaluates the write anew; callers that also need
// the refusal should call Decide once instead.
func (p *Plugin) Warnings(ctx context.Context, a *admission.Attributes) []string {
	return p.Decide(ctx, a).Warnings
}

var (
	podsResource       = schema.GroupResource{Resource: "pods"}
	namespacesResource = schema.GroupResource{Resource: "namespaces"}
)

// workloadResources embed a pod template; PodSecurity warns about them and
// never refuses them, as upstream.
var workloadResources = map[schema.GroupResource]func() runtime.Object{
	{Resource: "replicationcontrollers"}:      func() runtime.Object { return &corev1.ReplicationController{} },
	{Resource: "podtemplates"}:                func() runtime.Object { return &corev1.PodTemplate{} },
	{Group: "apps", Resource: "deployments"}:  func() runtime.Object { return &appsv1.Deployment{} },
	{Group: "apps", Resource: "replicasets"}:  func() runtime.Object { return &appsv1.ReplicaSet{} },
	{Group: "apps", Resource: "statefulsets"}: func() runtime.Object { return &appsv1.StatefulSet{} },
	{Group: "apps", Resource: "daemonsets"}:   func() runtime.Object { return &appsv1.DaemonSet{} },
	{Group: "batch", Resource: "jobs"}:        func() runtime.Object { return &batchv1.Job{} },
	{Group: "batch", Resource: "cronjobs"}:    func() runtime.Object { return &batchv1.CronJob{} },
}

// Decide evaluates one write.
func (p *Plugin) Decide(ctx context.Context, a *admission.Attributes) Decision {
	if a.Operation != admission.Create && a.Operation != admission.Update {
		return Decision{}
	}
	gr := a.Resource.GroupResource()
	switch {
	case gr == namespacesResource:
		return p.decideNamespace(a)
	case gr == podsResource:
		return p.decidePod(ctx, a)
	case workloadResources[gr] != nil:
		return p.decideWorkload(ctx, a, workloadResources[gr])
	}
	return Decision{}
}

// ignoredPodSubresources never change what PodSecurity looks at; any other
// pod subresource (ephemeralcontainers, resize) carries a pod and is
// evaluated, as upstream.
var ignoredPodSubresources = map[string]bool{
	"exec": true, "attach": true, "binding": true, "eviction": true,
	"log": true, "portforward": true, "proxy": true, "status": true,
}

func (p *Plugin) decidePod(ctx context.Context, a *admission.Attributes) Decision {
	if ignoredPodSubresources[a.Subresource] || p.exempt(a) {
		return Decision{}
	}
	policy, policyErrs, err := p.namespacePolicy(ctx, a.Namespace)
	if err != nil {
		return Decision{Err: err}
	}
	if len(policyErrs) == 0 && policy.Enforce.Level == Privileged && policy.Warn.Level == Privileged && policy.Audit.Level == Privileged {
		return Decision{}
	}
	obj, err := typed(a.Object, &corev1.Pod{})
	if err != nil {
		return Decision{Err: apierrors.NewBadRequest(fmt.Sprintf("failed to decode pod: %v", err))}
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return Decision{Err: apierrors.NewBadRequest(fmt.Sprintf("failed to decode pod: unexpected %T", a.Object))}
	}
	if a.Operation == admission.Update {
		old, err := typed(a.OldObject, &corev1.Pod{})
		if oldPod, ok := old.(*corev1.Pod); err == nil && ok && !significantPodUpdate(pod, oldPod) {
			return Decision{}
		}
	}
	if p.exemptRuntimeClass(pod.Spec.RuntimeClassName) {
		return Decision{}
	}
	return p.evaluate(a, policy, policyErrs, &pod.ObjectMeta, &pod.Spec, true)
}

func (p *Plugin) decideWorkload(ctx context.Context, a *admission.Attributes, newObj func() runtime.Object) Decision {
	if a.Subresource != "" || p.exempt(a) {
		return Decision{}
	}
	policy, policyErrs, err := p.namespacePolicy(ctx, a.Namespace)
	if err != nil {
		return Decision{Err: err}
	}
	if len(policyErrs) == 0 && policy.Enforce.Level == Privileged && policy.Warn.Level == Privileged && policy.Audit.Level == Privileged {
		return Decision{}
	}
	obj, err := typed(a.Object, newObj())
	if err != nil {
		// As upstream, a template we cannot read does not block the write.
		return Decision{}
	}
	podMeta, spec := podTemplateOf(obj)
	if spec == nil || p.exemptRuntimeClass(spec.RuntimeClassName) {
		return Decision{}
	}
	return p.evaluate(a, policy, policyErrs, podMeta, spec, false)
}

// evaluate applies a namespace's policy to a pod or a pod template. With
// enforce, breaking the enforce level refuses the write; without it (a
// workload) it only warns.
func (p *Plugin) evaluate(a *admission.Attributes, policy Policy, policyErrs field.ErrorList, podMeta *metav1.ObjectMeta, spec *corev1.PodSpec, enforce bool) Decision {
	var d Decision
	audit := map[string]string{}
	if len(policyErrs) > 0 {
		audit[ErrorAnnotation] = fmt.Sprintf("Failed to parse policy: %v", policyErrs.ToAggregate())
	}
	cache := map[Level][]Violation{}
	eval := func(l Level) []Violation {
		if vs, ok := cache[l]; ok {
			return vs
		}
		vs := Evaluate(l, podMeta, spec)
		cache[l] = vs
		return vs
	}
	if vs := eval(policy.Enforce.Level); len(vs) > 0 {
		if enforce {
			d.Err = apierrors.NewForbidden(a.Resource.GroupResource(), objectName(a),
				fmt.Errorf("violates PodSecurity %q: %s", policy.Enforce.String(), FormatViolations(vs)))
		} else {
			d.Warnings = append(d.Warnings, wouldViolate(policy.Enforce, vs))
		}
	}
	if enforce {
		audit[EnforcePolicyAnnotation] = policy.Enforce.String()
	}
	if vs := eval(policy.Audit.Level); len(vs) > 0 {
		audit[AuditViolationsAnnotation] = wouldViolate(policy.Audit, vs)
	}
	// No warnings on a write that is refused anyway; no repeat of the
	// enforce-level warning a workload already got.
	if d.Err == nil && (enforce || policy.Warn != policy.Enforce) {
		if vs := eval(policy.Warn.Level); len(vs) > 0 {
			d.Warnings = append(d.Warnings, wouldViolate(policy.Warn, vs))
		}
	}
	if len(audit) > 0 {
		d.AuditAnnotations = audit
	}
	return d
}

func wouldViolate(lv LevelVersion, vs []Violation) string {
	return fmt.Sprintf("would violate PodSecurity %q: %s", lv.String(), FormatViolations(vs))
}

// decideNamespace refuses invalid policy labels (on create, and on update
// when they changed) and warns about existing pods that break a tightened
// enforce level.
func (p *Plugin) decideNamespace(a *admission.Attributes) Decision {
	if a.Subresource != "" {
		return Decision{}
	}
	obj, err := typed(a.Object, &corev1.Namespace{})
	if err != nil {
		return Decision{Err: apierrors.NewBadRequest(fmt.Sprintf("failed to decode namespace: %v", err))}
	}
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return Decision{Err: apierrors.NewBadRequest(fmt.Sprintf("failed to decode namespace: unexpected %T", a.Object))}
	}
	policy, errs := PolicyFromLabels(ns.Labels)
	invalid := func() Decision {
		return Decision{Err: apierrors.NewInvalid(schema.GroupKind{Kind: "Namespace"}, ns.Name, errs)}
	}
	if a.Operation == admission.Create {
		if len(errs) > 0 {
			return invalid()
		}
		return Decision{}
	}
	oldPolicy := DefaultPolicy()
	var oldErrs field.ErrorList
	if old, err := typed(a.OldObject, &corev1.Namespace{}); err == nil {
		if oldNS, ok := old.(*corev1.Namespace); ok {
			oldPolicy, oldErrs = PolicyFromLabels(oldNS.Labels)
		}
	}
	if len(errs) > 0 && (len(oldErrs) == 0 || errs.ToAggregate().Error() != oldErrs.ToAggregate().Error()) {
		return invalid()
	}
	if p.opts.Pods == nil || policy.Enforce == oldPolicy.Enforce || policy.Enforce.Level == Privileged ||
		(policy.Enforce.Version == oldPolicy.Enforce.Version && policy.Enforce.Level.strictness() <= oldPolicy.Enforce.Level.strictness()) ||
		slices.Contains(p.opts.ExemptNamespaces, ns.Name) {
		return Decision{}
	}
	return Decision{Warnings: p.existingPodWarnings(ns.Name, policy.Enforce)}
}

// existingPodWarnings lists the existing pods of a namespace that break a
// new enforce level, grouped by reasons, as upstream words it.
func (p *Plugin) existingPodWarnings(namespace string, enforce LevelVersion) []string {
	pods, err := p.opts.Pods.Pods(namespace).List(labels.Everything())
	if err != nil {
		return []string{"failed to list pods while checking new PodSecurity enforce level"}
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	var warnings []string
	total := len(pods)
	if total > maxPodsToCheck {
		pods = pods[:maxPodsToCheck]
		warnings = append(warnings, fmt.Sprintf("new PodSecurity enforce level only checked against the first %d of %d existing pods", maxPodsToCheck, total))
	}
	type group struct {
		first string
		count int
	}
	groups := map[string]*group{}
	var order []string
	for _, pod := range pods {
		if p.exemptRuntimeClass(pod.Spec.RuntimeClassName) {
			continue
		}
		vs := Evaluate(enforce.Level, &pod.ObjectMeta, &pod.Spec)
		if len(vs) == 0 {
			continue
		}
		r := reasons(vs)
		g, ok := groups[r]
		if !ok {
			g = &group{first: pod.Name}
			groups[r] = g
			order = append(order, r)
		}
		g.count++
	}
	if len(order) == 0 {
		return warnings
	}
	warnings = append(warnings, fmt.Sprintf("existing pods in namespace %q violate the new PodSecurity enforce level %q", namespace, enforce.String()))
	var podWarnings []string
	for _, r := range order {
		g := groups[r]
		switch g.count {
		case 1:
			podWarnings = append(podWarnings, fmt.Sprintf("%s: %s", g.first, r))
		case 2:
			podWarnings = append(podWarnings, fmt.Sprintf("%s (and 1 other pod): %s", g.first, r))
		default:
			podWarnings = append(podWarnings, fmt.Sprintf("%s (and %d other pods): %s", g.first, g.count-1, r))
		}
	}
	sort.Strings(podWarnings)
	return append(warnings, podWarnings...)
}

// namespacePolicy reads the policy of a pod's namespace.
func (p *Plugin) namespacePolicy(ctx context.Context, name string) (Policy, field.ErrorList, error) {
	ns, err := p.opts.Namespaces.Get(name)
	if apierrors.IsNotFound(err) && p.opts.GetNamespace != nil {
		ns, err = p.opts.GetNamespace(ctx, name)
	}
	if err != nil {
		return Policy{}, nil, apierrors.NewInternalError(fmt.Errorf("failed to lookup namespace %s: %w", name, err))
	}
	policy, errs := PolicyFromLabels(ns.Labels)
	return policy, errs, nil
}

func (p *Plugin) exempt(a *admission.Attributes) bool {
	return (a.Namespace != "" && slices.Contains(p.opts.ExemptNamespaces, a.Namespace)) ||
		(a.User != "" && slices.Contains(p.opts.ExemptUsers, a.User))
}

func (p *Plugin) exemptRuntimeClass(rc *string) bool {
	return rc != nil && *rc != "" && slices.Contains(p.opts.ExemptRuntimeClasses, *rc)
}

// significantPodUpdate reports whether an update can change the outcome:
// the pod's security-relevant spec is immutable except for images, the
// seccomp annotations and added ephemeral containers, as upstream reasons.
func significantPodUpdate(pod, old *corev1.Pod) bool {
	if pod.Annotations[corev1.SeccompPodAnnotationKey] != old.Annotations[corev1.SeccompPodAnnotationKey] {
		return true
	}
	if len(pod.Spec.Containers) != len(old.Spec.Containers) || len(pod.Spec.InitContainers) != len(old.Spec.InitContainers) {
		return true
	}
	changed := func(c, oc *corev1.Container) bool {
		if c.Image != oc.Image {
			return true
		}
		key := corev1.SeccompContainerAnnotationKeyPrefix + c.Name
		return pod.Annotations[key] != old.Annotations[key]
	}
	for i := range pod.Spec.Containers {
		if changed(&pod.Spec.Containers[i], &old.Spec.Containers[i]) {
			return true
		}
	}
	for i := range pod.Spec.InitContainers {
		if changed(&pod.Spec.InitContainers[i], &old.Spec.InitContainers[i]) {
			return true
		}
	}
	for i := range pod.Spec.EphemeralContainers {
		c := (*corev1.Container)(&pod.Spec.EphemeralContainers[i].EphemeralContainerCommon)
		var oc *corev1.Container
		for j := range old.Spec.EphemeralContainers {
			if old.Spec.EphemeralContainers[j].Name == c.Name {
				oc = (*corev1.Container)(&old.Spec.EphemeralContainers[j].EphemeralContainerCommon)
				break
			}
		}
		if oc == nil || changed(c, oc) {
			return true
		}
	}
	return false
}

// podTemplateOf returns the pod template a workload embeds.
func podTemplateOf(obj runtime.Object) (*metav1.ObjectMeta, *corev1.PodSpec) {
	var t *corev1.PodTemplateSpec
	switch o := obj.(type) {
	case *corev1.ReplicationController:
		t = o.Spec.Template
	case *corev1.PodTemplate:
		t = &o.Template
	case *appsv1.Deployment:
		t = &o.Spec.Template
	case *appsv1.ReplicaSet:
		t = &o.Spec.Template
	case *appsv1.StatefulSet:
		t = &o.Spec.Template
	case *appsv1.DaemonSet:
		t = &o.Spec.Template
	case *batchv1.Job:
		t = &o.Spec.Template
	case *batchv1.CronJob:
		t = &o.Spec.JobTemplate.Spec.Template
	}
	if t == nil {
		return nil, nil
	}
	return &t.ObjectMeta, &t.Spec
}

// typed returns obj as a typed object: unchanged if it already is one,
// converted into into if it is unstructured.
func typed(obj runtime.Object, into runtime.Object) (runtime.Object, error) {
	if obj == nil {
		return nil, errors.New("no object")
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
		return nil, fmt.Errorf("convert %s: %w", u.GetKind(), err)
	}
	return into, nil
}

// objectName names the object in refusals: the request's name, else the
// object's name or generateName.
func objectName(a *admission.Attributes) string {
	if a.Name != "" {
		return a.Name
	}
	if a.Object != nil {
		if m, err := meta.Accessor(a.Object); err == nil {
			if m.GetName() != "" {
				return m.GetName()
			}
			return m.GetGenerateName()
		}
	}
	return ""
}

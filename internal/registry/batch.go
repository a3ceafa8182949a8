package registry

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// batch/v1: jobs and cronjobs.

func batchResources() []*Resource {
	return []*Resource{jobResource(), cronJobResource()}
}

// Limits the upstream API enforces on jobs.
const (
	jobMaxParallelismForIndexed = 100000
	jobMaxPodFailurePolicyRules = 20
	jobMaxExitCodeValues        = 255
	jobMaxManagedByLength       = 63
	cronJobMaxNameLength        = 52
)

// The unprefixed labels the job controller has always set next to the
// batch.kubernetes.io/ ones.
const (
	jobLegacyNameLabel          = "job-name"
	jobLegacyControllerUIDLabel = "controller-uid"
)

// --- Job ---

func jobResource() *Resource {
	return &Resource{
		Group: "batch", Version: "v1", Kind: "Job",
		Plural: "jobs", Singular: "job",
		Categories: []string{"all"}, Namespaced: true,
		New:     func() runtime.Object { return &batchv1.Job{} },
		NewList: func() runtime.Object { return &batchv1.JobList{} },
		Default: func(obj runtime.Object) { jobDefault(obj.(*batchv1.Job)) },
		PrepareForCreate: func(obj runtime.Object) {
			j := obj.(*batchv1.Job)
			j.Status = batchv1.JobStatus{}
			if j.Spec.ManualSelector == nil || !*j.Spec.ManualSelector {
				jobGenerateSelector(j)
			}
		},
		PrepareForUpdate: func(obj, old runtime.Object) {
			obj.(*batchv1.Job).Status = old.(*batchv1.Job).Status
		},
		Validate: func(obj runtime.Object) field.ErrorList { return jobValidate(obj.(*batchv1.Job)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return jobValidateUpdate(obj.(*batchv1.Job), old.(*batchv1.Job))
		},
		Status: &StatusSubresource{ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList {
			s := &obj.(*batchv1.Job).Status
			p := field.NewPath("status")
			errs := groupNonNegative(int64(s.Active), p.Child("active"))
			errs = append(errs, groupNonNegative(int64(s.Succeeded), p.Child("succeeded"))...)
			errs = append(errs, groupNonNegative(int64(s.Failed), p.Child("failed"))...)
			if s.Ready != nil {
				errs = append(errs, groupNonNegative(int64(*s.Ready), p.Child("ready"))...)
			}
			if s.Terminating != nil {
				errs = append(errs, groupNonNegative(int64(*s.Terminating), p.Child("terminating"))...)
			}
			return errs
		}},
		Table: jobTable(),
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.successful": strconv.Itoa(int(obj.(*batchv1.Job).Status.Succeeded))}
		},
	}
}

func jobDefault(j *batchv1.Job) {
	spec := &j.Spec
	// A non-parallel job may leave both unset: both become 1.
	if spec.Completions == nil && spec.Parallelism == nil {
		spec.Completions = new(int32(1))
		spec.Parallelism = new(int32(1))
	}
	if spec.Parallelism == nil {
		spec.Parallelism = new(int32(1))
	}
	if spec.BackoffLimit == nil {
		if spec.BackoffLimitPerIndex != nil {
			spec.BackoffLimit = new(int32(1<<31 - 1))
		} else {
			spec.BackoffLimit = new(int32(6))
		}
	}
	if len(j.Labels) == 0 && spec.Template.Labels != nil {
		j.Labels = make(map[string]string, len(spec.Template.Labels))
		for k, v := range spec.Template.Labels {
			j.Labels[k] = v
		}
	}
	if spec.CompletionMode == nil {
		spec.CompletionMode = new(batchv1.NonIndexedCompletion)
	}
	if spec.Suspend == nil {
		spec.Suspend = new(false)
	}
	if spec.PodFailurePolicy != nil {
		for _, rule := range spec.PodFailurePolicy.Rules {
			for i := range rule.OnPodConditions {
				if rule.OnPodConditions[i].Status == "" {
					rule.OnPodConditions[i].Status = corev1.ConditionTrue
				}
			}
		}
	}
	if spec.PodReplacementPolicy == nil {
		if spec.PodFailurePolicy != nil {
			spec.PodReplacementPolicy = new(batchv1.Failed)
		} else {
			spec.PodReplacementPolicy = new(batchv1.TerminatingOrFailed)
		}
	}
	if spec.ManualSelector == nil {
		spec.ManualSelector = new(false)
	}
	defaultPodTemplateSpec(&spec.Template)
}

// jobGenerateSelector gives a job without a manual selector the selector
// on its own UID, and labels its template so that the selector matches.
// Labels the user set are kept; validation rejects conflicting ones.
func jobGenerateSelector(j *batchv1.Job) {
	if j.UID == "" {
		return // reported by validation (metadata.uid: Required value)
	}
	if j.Spec.Template.Labels == nil {
		j.Spec.Template.Labels = map[string]string{}
	}
	for k, v := range map[string]string{
		jobLegacyNameLabel:          j.Name,
		batchv1.JobNameLabel:        j.Name,
		jobLegacyControllerUIDLabel: string(j.UID),
		batchv1.ControllerUidLabel:  string(j.UID),
	} {
		if _, ok := j.Spec.Template.Labels[k]; !ok {
			j.Spec.Template.Labels[k] = v
		}
	}
	if j.Spec.Selector == nil {
		j.Spec.Selector = &metav1.LabelSelector{}
	}
	if j.Spec.Selector.MatchLabels == nil {
		j.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, ok := j.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel]; !ok {
		j.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel] = string(j.UID)
	}
}

func jobValidate(j *batchv1.Job) field.ErrorList {
	errs := jobValidateGeneratedSelector(j)
	errs = append(errs, jobValidateSpec(&j.Spec, field.NewPath("spec"))...)
	if j.Spec.CompletionMode != nil && *j.Spec.CompletionMode == batchv1.IndexedCompletion &&
		j.Spec.Completions != nil && *j.Spec.Completions > 0 {
		// Indexed pods are named after the job plus their index, which
		// becomes their hostname: the longest one must be a DNS label.
		hostname := fmt.Sprintf("%s-%d", j.Name, *j.Spec.Completions-1)
		if len(validation.IsDNS1123Label(hostname)) > 0 {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), j.Name,
				"will not able to create pod with invalid DNS label: "+hostname))
		}
	}
	return errs
}

// jobValidateGeneratedSelector checks that a generated selector and the
// labels it relies on are in place and name this job.
func jobValidateGeneratedSelector(j *batchv1.Job) field.ErrorList {
	if j.Spec.ManualSelector != nil && *j.Spec.ManualSelector {
		return nil
	}
	var errs field.ErrorList
	if j.UID == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "uid"), ""))
	}
	meta := field.NewPath("spec", "template", "metadata")
	for _, want := range []struct{ key, value string }{
		{jobLegacyControllerUIDLabel, string(j.UID)},
		{jobLegacyNameLabel, j.Name},
		{batchv1.ControllerUidLabel, string(j.UID)},
		{batchv1.JobNameLabel, j.Name},
	} {
		p := meta.Child("labels").Key(want.key)
		got, ok := j.Spec.Template.Labels[want.key]
		switch {
		case !ok:
			errs = append(errs, field.Required(p, "must be '"+want.value+"'"))
		case got != want.value:
			errs = append(errs, field.Invalid(p, j.Spec.Template.Labels, "must be '"+want.value+"'"))
		}
	}
	want := labels.Set{batchv1.ControllerUidLabel: string(j.UID)}
	if sel, err := metav1.LabelSelectorAsSelector(j.Spec.Selector); err == nil && !sel.Matches(want) {
		errs = append(errs, field.Invalid(field.NewPath("spec", "selector"), j.Spec.Selector,
			"`selector` not auto-generated"))
	}
	return errs
}

// jobValidateSpec checks a job's spec including its selector.
func jobValidateSpec(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	errs := jobValidateSpecCommon(spec, fldPath)
	if spec.Selector == nil {
		errs = append(errs, field.Required(fldPath.Child("selector"), ""))
	} else {
		errs = append(errs, groupLabelSelector(spec.Selector, fldPath.Child("selector"))...)
	}
	// Whether generated or manual, the selector must select the job's pods.
	if sel, err := metav1.LabelSelectorAsSelector(spec.Selector); err == nil && !sel.Matches(labels.Set(spec.Template.Labels)) {
		errs = append(errs, field.Invalid(fldPath.Child("template", "metadata", "labels"), spec.Template.Labels,
			"`selector` does not match template `labels`"))
	}
	return errs
}

// jobValidateSpecCommon checks what a job spec and a cronjob's job
// template have in common (everything but the selector).
func jobValidateSpecCommon(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct {
		name string
		v    *int32
	}{
		{"parallelism", spec.Parallelism}, {"completions", spec.Completions},
		{"backoffLimit", spec.BackoffLimit}, {"ttlSecondsAfterFinished", spec.TTLSecondsAfterFinished},
	} {
		if f.v != nil {
			errs = append(errs, groupNonNegative(int64(*f.v), fldPath.Child(f.name))...)
		}
	}
	if spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, groupNonNegative(*spec.ActiveDeadlineSeconds, fldPath.Child("activeDeadlineSeconds"))...)
	}
	indexed := spec.CompletionMode != nil && *spec.CompletionMode == batchv1.IndexedCompletion
	if spec.BackoffLimitPerIndex != nil {
		p := fldPath.Child("backoffLimitPerIndex")
		errs = append(errs, groupNonNegative(int64(*spec.BackoffLimitPerIndex), p)...)
		if !indexed {
			errs = append(errs, field.Invalid(p, *spec.BackoffLimitPerIndex, "requires indexed completion mode"))
		}
	}
	if spec.MaxFailedIndexes != nil {
		p := fldPath.Child("maxFailedIndexes")
		errs = append(errs, groupNonNegative(int64(*spec.MaxFailedIndexes), p)...)
		if spec.BackoffLimitPerIndex == nil {
			errs = append(errs, field.Required(fldPath.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
		}
		if spec.Completions != nil && *spec.MaxFailedIndexes > *spec.Completions {
			errs = append(errs, field.Invalid(p, *spec.MaxFailedIndexes, "must be less than or equal to completions"))
		}
	}
	if spec.CompletionMode != nil {
		switch *spec.CompletionMode {
		case batchv1.NonIndexedCompletion:
		case batchv1.IndexedCompletion:
			if spec.Completions == nil {
				errs = append(errs, field.Required(fldPath.Child("completions"), "when completion mode is Indexed"))
			}
			if spec.Parallelism != nil && *spec.Parallelism > jobMaxParallelismForIndexed {
				errs = append(errs, field.Invalid(fldPath.Child("parallelism"), *spec.Parallelism,
					fmt.Sprintf("must be less than or equal to %d when completion mode is Indexed", jobMaxParallelismForIndexed)))
			}
		default:
			errs = append(errs, field.NotSupported(fldPath.Child("completionMode"), *spec.CompletionMode,
				[]batchv1.CompletionMode{batchv1.NonIndexedCompletion, batchv1.IndexedCompletion}))
		}
	}
	if spec.PodFailurePolicy != nil {
		errs = append(errs, jobValidatePodFailurePolicy(spec, fldPath.Child("podFailurePolicy"))...)
	}
	if spec.SuccessPolicy != nil {
		errs = append(errs, jobValidateSuccessPolicy(spec, indexed, fldPath.Child("successPolicy"))...)
	}
	if spec.PodReplacementPolicy != nil {
		p := fldPath.Child("podReplacementPolicy")
		switch {
		case spec.PodFailurePolicy != nil && *spec.PodReplacementPolicy != batchv1.Failed:
			errs = append(errs, field.NotSupported(p, *spec.PodReplacementPolicy, []batchv1.PodReplacementPolicy{batchv1.Failed}))
		case *spec.PodReplacementPolicy != batchv1.Failed && *spec.PodReplacementPolicy != batchv1.TerminatingOrFailed:
			errs = append(errs, field.NotSupported(p, *spec.PodReplacementPolicy,
				[]batchv1.PodReplacementPolicy{batchv1.Failed, batchv1.TerminatingOrFailed}))
		}
	}
	if spec.ManagedBy != nil {
		p := fldPath.Child("managedBy")
		errs = append(errs, validation.IsDomainPrefixedPath(p, *spec.ManagedBy)...)
		if len(*spec.ManagedBy) > jobMaxManagedByLength {
			errs = append(errs, field.TooLong(p, "", jobMaxManagedByLength))
		}
	}
	tmplPath := fldPath.Child("template")
	errs = append(errs, validatePodTemplateSpec(&spec.Template, tmplPath)...)
	// An unset restartPolicy has been defaulted to Always by now, so both
	// mean the user did not pick one of the two a job supports.
	rp := tmplPath.Child("spec", "restartPolicy")
	switch policy := spec.Template.Spec.RestartPolicy; {
	case policy == corev1.RestartPolicyAlways || policy == "":
		errs = append(errs, field.Required(rp, fmt.Sprintf("valid values: %q, %q", corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)))
	case policy != corev1.RestartPolicyOnFailure && policy != corev1.RestartPolicyNever:
		errs = append(errs, field.NotSupported(rp, policy, []corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}))
	case spec.PodFailurePolicy != nil && policy != corev1.RestartPolicyNever:
		errs = append(errs, field.Invalid(rp, policy, fmt.Sprintf("only %q is supported when podFailurePolicy is specified", corev1.RestartPolicyNever)))
	}
	return errs
}

func jobValidatePodFailurePolicy(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	rulesPath := fldPath.Child("rules")
	rules := spec.PodFailurePolicy.Rules
	if len(rules) > jobMaxPodFailurePolicyRules {
		errs = append(errs, field.TooMany(rulesPath, len(rules), jobMaxPodFailurePolicyRules))
	}
	containers := sets.New[string]()
	for _, c := range spec.Template.Spec.InitContainers {
		containers.Insert(c.Name)
	}
	for _, c := range spec.Template.Spec.Containers {
		containers.Insert(c.Name)
	}
	actions := []batchv1.PodFailurePolicyAction{
		batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyActionFailIndex,
		batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyActionIgnore,
	}
	for i, rule := range rules {
		p := rulesPath.Index(i)
		ap := p.Child("action")
		switch rule.Action {
		case "":
			errs = append(errs, field.Required(ap, fmt.Sprintf("valid values: %q", actions)))
		case batchv1.PodFailurePolicyActionFailIndex:
			if spec.BackoffLimitPerIndex == nil {
				errs = append(errs, field.Invalid(ap, rule.Action, "requires the backoffLimitPerIndex to be set"))
			}
		case batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyActionIgnore:
		default:
			errs = append(errs, field.NotSupported(ap, rule.Action, actions))
		}
		if rule.OnExitCodes != nil {
			errs = append(errs, jobValidateOnExitCodes(rule.OnExitCodes, containers, p.Child("onExitCodes"))...)
		}
		for j, pattern := range rule.OnPodConditions {
			pp := p.Child("onPodConditions").Index(j)
			errs = append(errs, groupQualifiedName(string(pattern.Type), pp.Child("type"))...)
			statuses := []corev1.ConditionStatus{corev1.ConditionFalse, corev1.ConditionTrue, corev1.ConditionUnknown}
			switch pattern.Status {
			case "":
				errs = append(errs, field.Required(pp.Child("status"), fmt.Sprintf("valid values: %q", statuses)))
			case corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown:
			default:
				errs = append(errs, field.NotSupported(pp.Child("status"), pattern.Status, statuses))
			}
		}
		switch {
		case rule.OnExitCodes != nil && len(rule.OnPodConditions) > 0:
			errs = append(errs, field.Invalid(p, field.OmitValueType{}, "specifying both OnExitCodes and OnPodConditions is not supported"))
		case rule.OnExitCodes == nil && len(rule.OnPodConditions) == 0:
			errs = append(errs, field.Invalid(p, field.OmitValueType{}, "specifying one of OnExitCodes and OnPodConditions is required"))
		}
	}
	return errs
}

func jobValidateOnExitCodes(r *batchv1.PodFailurePolicyOnExitCodesRequirement, containers sets.Set[string], fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if r.ContainerName != nil && !containers.Has(*r.ContainerName) {
		errs = append(errs, field.Invalid(fldPath.Child("containerName"), *r.ContainerName,
			"must be one of the container or initContainer names in the pod template"))
	}
	ops := []batchv1.PodFailurePolicyOnExitCodesOperator{batchv1.PodFailurePolicyOnExitCodesOpIn, batchv1.PodFailurePolicyOnExitCodesOpNotIn}
	switch r.Operator {
	case "":
		errs = append(errs, field.Required(fldPath.Child("operator"), fmt.Sprintf("valid values: %q", ops)))
	case batchv1.PodFailurePolicyOnExitCodesOpIn, batchv1.PodFailurePolicyOnExitCodesOpNotIn:
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("operator"), r.Operator, ops))
	}
	vp := fldPath.Child("values")
	switch {
	case len(r.Values) == 0:
		errs = append(errs, field.Invalid(vp, r.Values, "at least one value is required"))
	case len(r.Values) > jobMaxExitCodeValues:
		errs = append(errs, field.TooMany(vp, len(r.Values), jobMaxExitCodeValues))
	default:
		seen := sets.New[int32]()
		ordered := true
		for i, v := range r.Values {
			if r.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && v == 0 {
				errs = append(errs, field.Invalid(vp.Index(i), v, "must not be 0 for the In operator"))
			}
			if seen.Has(v) {
				errs = append(errs, field.Duplicate(vp.Index(i), v))
			}
			seen.Insert(v)
			if i > 0 && r.Values[i-1] > v {
				ordered = false
			}
		}
		if !ordered {
			errs = append(errs, field.Invalid(vp, r.Values, "must be ordered"))
		}
	}
	return errs
}

func jobValidateSuccessPolicy(spec *batchv1.JobSpec, indexed bool, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if !indexed {
		errs = append(errs, field.Invalid(fldPath, field.OmitValueType{}, "requires indexed completion mode"))
	}
	rulesPath := fldPath.Child("rules")
	if len(spec.SuccessPolicy.Rules) == 0 {
		errs = append(errs, field.Required(rulesPath, "at least one rules must be specified when the successPolicy is specified"))
	}
	for i, rule := range spec.SuccessPolicy.Rules {
		p := rulesPath.Index(i)
		if rule.SucceededIndexes == nil && rule.SucceededCount == nil {
			errs = append(errs, field.Required(p, "at least one of succeededCount or succeededIndexes must be specified"))
		}
		if rule.SucceededCount != nil {
			cp := p.Child("succeededCount")
			errs = append(errs, groupNonNegative(int64(*rule.SucceededCount), cp)...)
			if spec.Completions != nil && *rule.SucceededCount > *spec.Completions {
				errs = append(errs, field.Invalid(cp, *rule.SucceededCount, fmt.Sprintf("must be less than or equal to %d (the number of specified completions)", *spec.Completions)))
			}
		}
	}
	return errs
}

func jobValidateUpdate(j, old *batchv1.Job) field.ErrorList {
	spec, oldSpec := &j.Spec, &old.Spec
	p := field.NewPath("spec")
	errs := jobValidateSpec(spec, p)
	indexed := spec.CompletionMode != nil && *spec.CompletionMode == batchv1.IndexedCompletion
	switch {
	case !indexed:
		errs = append(errs, groupImmutable(spec.Completions, oldSpec.Completions, p.Child("completions"))...)
	case spec.Completions != nil && (oldSpec.Completions == nil || *spec.Completions != *oldSpec.Completions):
		// Elastic indexed jobs: completions may change together with parallelism.
		if spec.Parallelism == nil || *spec.Completions != *spec.Parallelism {
			errs = append(errs, field.Invalid(p.Child("completions"), spec.Completions, "can only be modified in tandem with spec.parallelism"))
		}
	}
	errs = append(errs, groupImmutable(spec.Selector, oldSpec.Selector, p.Child("selector"))...)
	errs = append(errs, jobValidateTemplateUpdate(j, old)...)
	errs = append(errs, groupImmutable(spec.CompletionMode, oldSpec.CompletionMode, p.Child("completionMode"))...)
	errs = append(errs, groupImmutable(spec.PodFailurePolicy, oldSpec.PodFailurePolicy, p.Child("podFailurePolicy"))...)
	errs = append(errs, groupImmutable(spec.BackoffLimitPerIndex, oldSpec.BackoffLimitPerIndex, p.Child("backoffLimitPerIndex"))...)
	errs = append(errs, groupImmutable(spec.SuccessPolicy, oldSpec.SuccessPolicy, p.Child("successPolicy"))...)
	return append(errs, groupImmutable(spec.ManagedBy, oldSpec.ManagedBy, p.Child("managedBy"))...)
}

// jobValidateTemplateUpdate keeps the pod template immutable, except that
// a suspended job that never started may change where its pods schedule
// (node affinity, node selector, tolerations, scheduling gates) and its
// template labels and annotations.
func jobValidateTemplateUpdate(j, old *batchv1.Job) field.ErrorList {
	tmpl, oldTmpl := &j.Spec.Template, old.Spec.Template.DeepCopy()
	suspended := old.Spec.Suspend != nil && *old.Spec.Suspend
	if suspended && old.Status.StartTime == nil {
		switch {
		case tmpl.Spec.Affinity == nil && oldTmpl.Spec.Affinity != nil:
			oldTmpl.Spec.Affinity.NodeAffinity = nil
			if *oldTmpl.Spec.Affinity == (corev1.Affinity{}) {
				oldTmpl.Spec.Affinity = nil
			}
		case tmpl.Spec.Affinity != nil && oldTmpl.Spec.Affinity == nil:
			oldTmpl.Spec.Affinity = &corev1.Affinity{NodeAffinity: tmpl.Spec.Affinity.NodeAffinity}
		case tmpl.Spec.Affinity != nil && oldTmpl.Spec.Affinity != nil:
			oldTmpl.Spec.Affinity.NodeAffinity = tmpl.Spec.Affinity.NodeAffinity
		}
		oldTmpl.Spec.NodeSelector = tmpl.Spec.NodeSelector
		oldTmpl.Spec.Tolerations = tmpl.Spec.Tolerations
		oldTmpl.Spec.SchedulingGates = tmpl.Spec.SchedulingGates
		oldTmpl.Annotations = tmpl.Annotations
		oldTmpl.Labels = tmpl.Labels
	}
	return groupImmutable(tmpl, oldTmpl, field.NewPath("spec", "template"))
}

func jobHasCondition(j *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func jobTable() *Table {
	cols := []metav1.TableColumnDefinition{
		column("Status", "string", "Status of the job.", 0),
		column("Completions", "string", "The number of pods which reached phase Succeeded.", 0),
		column("Duration", "string", "Time required to complete the job.", 0),
		ageColumn,
	}
	cols = append(cols, groupContainerColumns()...)
	cols = append(cols, column("Selector", "string", "A label query over pods that should match the pod count.", 1))
	return &Table{Columns: cols, Row: func(obj runtime.Object) []any {
		j := obj.(*batchv1.Job)
		var completions string
		switch {
		case j.Spec.Completions != nil:
			completions = fmt.Sprintf("%d/%d", j.Status.Succeeded, *j.Spec.Completions)
		case j.Spec.Parallelism != nil && *j.Spec.Parallelism > 1:
			completions = fmt.Sprintf("%d/1 of %d", j.Status.Succeeded, *j.Spec.Parallelism)
		default:
			completions = fmt.Sprintf("%d/1", j.Status.Succeeded)
		}
		var dur string
		switch {
		case j.Status.StartTime == nil:
		case j.Status.CompletionTime == nil:
			dur = duration.HumanDuration(time.Since(j.Status.StartTime.Time))
		default:
			dur = duration.HumanDuration(j.Status.CompletionTime.Sub(j.Status.StartTime.Time))
		}
		status := "Running"
		switch {
		case jobHasCondition(j, batchv1.JobComplete):
			status = "Complete"
		case jobHasCondition(j, batchv1.JobFailed):
			status = "Failed"
		case j.DeletionTimestamp != nil:
			status = "Terminating"
		case jobHasCondition(j, batchv1.JobSuspended):
			status = "Suspended"
		case jobHasCondition(j, batchv1.JobFailureTarget):
			status = "FailureTarget"
		case jobHasCondition(j, batchv1.JobSuccessCriteriaMet):
			status = "SuccessCriteriaMet"
		}
		names, images := groupContainerCells(j.Spec.Template.Spec.Containers)
		return []any{status, completions, dur, age(j.CreationTimestamp), names, images, metav1.FormatLabelSelector(j.Spec.Selector)}
	}}
}

// --- CronJob ---

func cronJobResource() *Resource {
	return &Resource{
		Group: "batch", Version: "v1", Kind: "CronJob",
		Plural: "cronjobs", Singular: "cronjob",
		ShortNames: []string{"cj"}, Categories: []string{"all"}, Namespaced: true,
		New:     func() runtime.Object { return &batchv1.CronJob{} },
		NewList: func() runtime.Object { return &batchv1.CronJobList{} },
		Default: func(obj runtime.Object) { cronJobDefault(obj.(*batchv1.CronJob)) },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*batchv1.CronJob).Status = batchv1.CronJobStatus{}
		},
		PrepareForUpdate: func(obj, old runtime.Object) {
			obj.(*batchv1.CronJob).Status = old.(*batchv1.CronJob).Status
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			cj := obj.(*batchv1.CronJob)
			var errs field.ErrorList
			// Jobs are named <cronjob>-<minutes since epoch> (11 more
			// characters), and job names end up in 63-character labels.
			if len(cj.Name) > cronJobMaxNameLength {
				errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), cj.Name,
					fmt.Sprintf("must be no more than %d characters", cronJobMaxNameLength)))
			}
			return append(errs, cronJobValidateSpec(&cj.Spec, nil, field.NewPath("spec"))...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			// The name-length limit is not re-checked so that old, longer
			// names stay updatable.
			return cronJobValidateSpec(&obj.(*batchv1.CronJob).Spec, &old.(*batchv1.CronJob).Spec, field.NewPath("spec"))
		},
		Status: &StatusSubresource{},
		Table:  cronJobTable(),
	}
}

func cronJobDefault(cj *batchv1.CronJob) {
	spec := &cj.Spec
	if spec.ConcurrencyPolicy == "" {
		spec.ConcurrencyPolicy = batchv1.AllowConcurrent
	}
	if spec.Suspend == nil {
		spec.Suspend = new(false)
	}
	if spec.SuccessfulJobsHistoryLimit == nil {
		spec.SuccessfulJobsHistoryLimit = new(int32(3))
	}
	if spec.FailedJobsHistoryLimit == nil {
		spec.FailedJobsHistoryLimit = new(int32(1))
	}
	// The job template gets only the pod defaults; the Job defaults apply
	// when the controller creates the Job.
	defaultPodTemplateSpec(&spec.JobTemplate.Spec.Template)
}

// cronJobValidateSpec checks a cronjob spec; old is nil on create.
func cronJobValidateSpec(spec, old *batchv1.CronJobSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	sp := fldPath.Child("schedule")
	if spec.Schedule == "" {
		errs = append(errs, field.Required(sp, ""))
	} else {
		if err := cronJobParseSchedule(spec.Schedule); err != nil {
			errs = append(errs, field.Invalid(sp, spec.Schedule, err.Error()))
		}
		// TZ in the schedule is tolerated only on objects that had it.
		allowTZ := old != nil && strings.Contains(old.Schedule, "TZ")
		switch {
		case allowTZ && strings.Contains(spec.Schedule, "TZ") && spec.TimeZone != nil:
			errs = append(errs, field.Invalid(sp, spec.Schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
		case !allowTZ && strings.Contains(spec.Schedule, "TZ"):
			errs = append(errs, field.Invalid(sp, spec.Schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
		}
	}
	if spec.StartingDeadlineSeconds != nil {
		errs = append(errs, groupNonNegative(*spec.StartingDeadlineSeconds, fldPath.Child("startingDeadlineSeconds"))...)
	}
	if old == nil || !cronJobSameTimeZone(spec.TimeZone, old.TimeZone) {
		errs = append(errs, cronJobValidateTimeZone(spec.TimeZone, fldPath.Child("timeZone"))...)
	}
	cp := fldPath.Child("concurrencyPolicy")
	switch spec.ConcurrencyPolicy {
	case batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent:
	case "":
		errs = append(errs, field.Required(cp, ""))
	default:
		errs = append(errs, field.NotSupported(cp, spec.ConcurrencyPolicy,
			[]batchv1.ConcurrencyPolicy{batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent}))
	}
	jp := fldPath.Child("jobTemplate", "spec")
	errs = append(errs, jobValidateSpecCommon(&spec.JobTemplate.Spec, jp)...)
	if spec.JobTemplate.Spec.Selector != nil {
		errs = append(errs, field.Invalid(jp.Child("selector"), spec.JobTemplate.Spec.Selector, "`selector` will be auto-generated"))
	}
	if ms := spec.JobTemplate.Spec.ManualSelector; ms != nil && *ms {
		errs = append(errs, field.NotSupported(jp.Child("manualSelector"), ms, []string{"nil", "false"}))
	}
	if spec.SuccessfulJobsHistoryLimit != nil {
		errs = append(errs, groupNonNegative(int64(*spec.SuccessfulJobsHistoryLimit), fldPath.Child("successfulJobsHistoryLimit"))...)
	}
	if spec.FailedJobsHistoryLimit != nil {
		errs = append(errs, groupNonNegative(int64(*spec.FailedJobsHistoryLimit), fldPath.Child("failedJobsHistoryLimit"))...)
	}
	return errs
}

func cronJobSameTimeZone(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

func cronJobValidateTimeZone(tz *string, fldPath *field.Path) field.ErrorList {
	if tz == nil {
		return nil
	}
	if *tz == "" {
		return field.ErrorList{field.Invalid(fldPath, tz, "timeZone must be nil or non-empty string")}
	}
	for _, part := range strings.Split(*tz, "/") {
		if part == "." || part == ".." || strings.HasPrefix(part, "-") || !cronJobTimeZonePart(part) {
			return field.ErrorList{field.Invalid(fldPath, tz, "unknown time zone "+*tz)}
		}
	}
	if strings.EqualFold(*tz, "Local") {
		return field.ErrorList{field.Invalid(fldPath, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")}
	}
	if _, err := time.LoadLocation(*tz); err != nil {
		return field.ErrorList{field.Invalid(fldPath, tz, err.Error())}
	}
	return nil
}

// cronJobTimeZonePart reports whether s is 1-14 characters of
// [A-Za-z.-_0-9+], like every element of an IANA zone name.
func cronJobTimeZonePart(s string) bool {
	if len(s) < 1 || len(s) > 14 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune(".-_+", r):
		default:
			return false
		}
	}
	return true
}

func cronJobTable() *Table {
	cols := []metav1.TableColumnDefinition{
		column("Schedule", "string", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.", 0),
		column("Timezone", "string", "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.", 0),
		column("Suspend", "boolean", "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false.", 0),
		column("Active", "integer", "A list of pointers to currently running jobs.", 0),
		column("Last Schedule", "string", "Information when was the last time the job was successfully scheduled.", 0),
		ageColumn,
	}
	cols = append(cols, groupContainerColumns()...)
	cols = append(cols, column("Selector", "string", "A label query over pods that should match the pod count.", 1))
	return &Table{Columns: cols, Row: func(obj runtime.Object) []any {
		cj := obj.(*batchv1.CronJob)
		last := "<none>"
		if cj.Status.LastScheduleTime != nil {
			last = age(*cj.Status.LastScheduleTime)
		}
		tz := "<none>"
		if cj.Spec.TimeZone != nil {
			tz = *cj.Spec.TimeZone
		}
		names, images := groupContainerCells(cj.Spec.JobTemplate.Spec.Template.Spec.Containers)
		return []any{
			cj.Spec.Schedule, tz, groupBoolString(cj.Spec.Suspend), int64(len(cj.Status.Active)), last,
			age(cj.CreationTimestamp), names, images, metav1.FormatLabelSelector(cj.Spec.JobTemplate.Spec.Selector),
		}
	}}
}

package registry

import (
	"fmt"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// autoscaling/v1 horizontalpodautoscalers.

// hpaDefaultCPUUtilization is the target upstream applies when an
// autoscaler names none.
const hpaDefaultCPUUtilization = 80

func autoscalingResources() []*Resource {
	return []*Resource{horizontalPodAutoscalerResource()}
}

func horizontalPodAutoscalerResource() *Resource {
	validate := func(obj runtime.Object) field.ErrorList {
		return hpaValidateSpec(&obj.(*autoscalingv1.HorizontalPodAutoscaler).Spec, field.NewPath("spec"))
	}
	return &Resource{
		Group: "autoscaling", Version: "v1", Kind: "HorizontalPodAutoscaler",
		Plural: "horizontalpodautoscalers", Singular: "horizontalpodautoscaler",
		ShortNames: []string{"hpa"}, Categories: []string{"all"}, Namespaced: true,
		New:     func() runtime.Object { return &autoscalingv1.HorizontalPodAutoscaler{} },
		NewList: func() runtime.Object { return &autoscalingv1.HorizontalPodAutoscalerList{} },
		Default: func(obj runtime.Object) {
			spec := &obj.(*autoscalingv1.HorizontalPodAutoscaler).Spec
			if spec.MinReplicas == nil {
				spec.MinReplicas = new(int32(1))
			}
			// Upstream adds the default CPU target when converting; reading
			// the object back as autoscaling/v1 shows it.
			if spec.TargetCPUUtilizationPercentage == nil {
				spec.TargetCPUUtilizationPercentage = new(int32(hpaDefaultCPUUtilization))
			}
		},
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*autoscalingv1.HorizontalPodAutoscaler).Status = autoscalingv1.HorizontalPodAutoscalerStatus{}
		},
		PrepareForUpdate: func(obj, old runtime.Object) {
			obj.(*autoscalingv1.HorizontalPodAutoscaler).Status = old.(*autoscalingv1.HorizontalPodAutoscaler).Status
		},
		Validate:       validate,
		ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList { return validate(obj) },
		Status: &StatusSubresource{ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList {
			s := &obj.(*autoscalingv1.HorizontalPodAutoscaler).Status
			p := field.NewPath("status")
			errs := groupNonNegative(int64(s.CurrentReplicas), p.Child("currentReplicas"))
			return append(errs, groupNonNegative(int64(s.DesiredReplicas), p.Child("desiredReplicas"))...)
		}},
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{
				column("Reference", "string", "reference to scaled resource; horizontal pod autoscaler will learn the current resource consumption and will set the desired number of pods by using its Scale subresource.", 0),
				column("Targets", "string", "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).", 0),
				column("MinPods", "string", "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.", 0),
				column("MaxPods", "integer", "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up.", 0),
				column("Replicas", "integer", "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.", 0),
				ageColumn,
			},
			Row: func(obj runtime.Object) []any {
				hpa := obj.(*autoscalingv1.HorizontalPodAutoscaler)
				minPods := "<unset>"
				if hpa.Spec.MinReplicas != nil {
					minPods = fmt.Sprint(*hpa.Spec.MinReplicas)
				}
				targets := "<none>"
				if t := hpa.Spec.TargetCPUUtilizationPercentage; t != nil {
					current := "<unknown>"
					if c := hpa.Status.CurrentCPUUtilizationPercentage; c != nil {
						current = fmt.Sprintf("%d%%", *c)
					}
					targets = fmt.Sprintf("cpu: %s/%d%%", current, *t)
				}
				ref := hpa.Spec.ScaleTargetRef
				return []any{ref.Kind + "/" + ref.Name, targets, minPods, int64(hpa.Spec.MaxReplicas),
					int64(hpa.Status.CurrentReplicas), age(hpa.CreationTimestamp)}
			},
		},
	}
}

func hpaValidateSpec(spec *autoscalingv1.HorizontalPodAutoscalerSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	rp := fldPath.Child("scaleTargetRef")
	for _, f := range []struct{ name, value string }{{"kind", spec.ScaleTargetRef.Kind}, {"name", spec.ScaleTargetRef.Name}} {
		if f.value == "" {
			errs = append(errs, field.Required(rp.Child(f.name), ""))
			continue
		}
		for _, msg := range content.IsPathSegmentName(f.value) {
			errs = append(errs, field.Invalid(rp.Child(f.name), f.value, msg))
		}
	}
	if spec.MinReplicas != nil && *spec.MinReplicas < 1 {
		errs = append(errs, field.Invalid(fldPath.Child("minReplicas"), *spec.MinReplicas, "must be greater than or equal to 1"))
	}
	if spec.MaxReplicas < 1 {
		errs = append(errs, field.Invalid(fldPath.Child("maxReplicas"), spec.MaxReplicas, "must be greater than 0"))
	}
	if spec.MinReplicas != nil && spec.MaxReplicas < *spec.MinReplicas {
		errs = append(errs, field.Invalid(fldPath.Child("maxReplicas"), spec.MaxReplicas, "must be greater than or equal to `minReplicas`"))
	}
	if t := spec.TargetCPUUtilizationPercentage; t != nil && *t < 1 {
		errs = append(errs, field.Invalid(fldPath.Child("targetCPUUtilizationPercentage"), *t, "must be greater than 0"))
	}
	return errs
}

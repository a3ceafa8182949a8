package registry

import (
	"testing"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
)

func TestHorizontalPodAutoscaler(t *testing.T) {
	r := groupTestResource(t, "autoscaling", "horizontalpodautoscalers")
	mk := func(mutate func(*autoscalingv1.HorizontalPodAutoscalerSpec)) *autoscalingv1.HorizontalPodAutoscaler {
		hpa := &autoscalingv1.HorizontalPodAutoscaler{Spec: autoscalingv1.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MaxReplicas:    5,
		}}
		r.Default(hpa)
		if mutate != nil {
			mutate(&hpa.Spec)
		}
		return hpa
	}
	if s := mk(nil).Spec; *s.MinReplicas != 1 || *s.TargetCPUUtilizationPercentage != hpaDefaultCPUUtilization {
		t.Errorf("defaults: minReplicas %d, targetCPUUtilizationPercentage %d", *s.MinReplicas, *s.TargetCPUUtilizationPercentage)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*autoscalingv1.HorizontalPodAutoscalerSpec)
		want   []string
	}{
		{name: "valid"},
		{name: "no target", mutate: func(s *autoscalingv1.HorizontalPodAutoscalerSpec) {
			s.ScaleTargetRef = autoscalingv1.CrossVersionObjectReference{}
		}, want: []string{"spec.scaleTargetRef.kind: Required value", "spec.scaleTargetRef.name: Required value"}},
		{name: "min 0", mutate: func(s *autoscalingv1.HorizontalPodAutoscalerSpec) { s.MinReplicas = new(int32(0)) },
			want: []string{"spec.minReplicas: Invalid value"}},
		{name: "max below min", mutate: func(s *autoscalingv1.HorizontalPodAutoscalerSpec) { s.MinReplicas = new(int32(6)) },
			want: []string{"spec.maxReplicas: Invalid value"}},
		{name: "max 0", mutate: func(s *autoscalingv1.HorizontalPodAutoscalerSpec) { s.MaxReplicas = 0 },
			want: []string{"spec.maxReplicas: Invalid value", "spec.maxReplicas: Invalid value"}},
		{name: "cpu 0", mutate: func(s *autoscalingv1.HorizontalPodAutoscalerSpec) { s.TargetCPUUtilizationPercentage = new(int32(0)) },
			want: []string{"spec.targetCPUUtilizationPercentage: Invalid value"}},
	} {
		t.Run(tc.name, func(t *testing.T) { groupTestCheckErrs(t, r.Validate(mk(tc.mutate)), tc.want) })
	}
	hpa := mk(nil)
	hpa.Status = autoscalingv1.HorizontalPodAutoscalerStatus{CurrentReplicas: 2, CurrentCPUUtilizationPercentage: new(int32(35))}
	groupTestCheckTable(t, r.Table, hpa, "Reference,Targets,MinPods,MaxPods,Replicas,Age",
		[]any{"Deployment/web", "cpu: 35%/80%", "1", int64(5), int64(2), "<unknown>"})
}

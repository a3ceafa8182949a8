package registry

import (
	"testing"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestPodDisruptionBudget(t *testing.T) {
	r := groupTestResource(t, "policy", "poddisruptionbudgets")
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	for _, tc := range []struct {
		name string
		spec policyv1.PodDisruptionBudgetSpec
		want []string
	}{
		{name: "minAvailable", spec: policyv1.PodDisruptionBudgetSpec{Selector: sel, MinAvailable: new(intstr.FromInt32(2))}},
		{name: "maxUnavailable percent", spec: policyv1.PodDisruptionBudgetSpec{Selector: sel, MaxUnavailable: new(intstr.FromString("50%"))}},
		{name: "both", spec: policyv1.PodDisruptionBudgetSpec{Selector: sel, MinAvailable: new(intstr.FromInt32(1)), MaxUnavailable: new(intstr.FromInt32(1))},
			want: []string{"spec: Invalid value"}},
		{name: "negative", spec: policyv1.PodDisruptionBudgetSpec{Selector: sel, MinAvailable: new(intstr.FromInt32(-1))},
			want: []string{"spec.minAvailable: Invalid value"}},
		{name: "over 100%", spec: policyv1.PodDisruptionBudgetSpec{Selector: sel, MaxUnavailable: new(intstr.FromString("101%"))},
			want: []string{"spec.maxUnavailable: Invalid value"}},
		{name: "bad eviction policy", spec: policyv1.PodDisruptionBudgetSpec{Selector: sel,
			UnhealthyPodEvictionPolicy: new(policyv1.UnhealthyPodEvictionPolicyType("Never"))},
			want: []string{"spec.unhealthyPodEvictionPolicy: Unsupported value"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			groupTestCheckErrs(t, r.Validate(&policyv1.PodDisruptionBudget{Spec: tc.spec}), tc.want)
		})
	}
	pdb := &policyv1.PodDisruptionBudget{
		Spec:   policyv1.PodDisruptionBudgetSpec{Selector: sel, MinAvailable: new(intstr.FromString("50%"))},
		Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 1},
	}
	groupTestCheckTable(t, r.Table, pdb, "Min Available,Max Unavailable,Allowed Disruptions,Age",
		[]any{"50%", "N/A", int64(1), "<unknown>"})
	bad := pdb.DeepCopy()
	bad.Status.DisruptionsAllowed = -1
	groupTestCheckErrs(t, r.Status.ValidateUpdate(bad, pdb), []string{"status.disruptionsAllowed: Invalid value"})
}

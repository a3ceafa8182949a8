package quota

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func scopedQuota(hard string, scopes []corev1.ResourceQuotaScope, selector ...corev1.ScopedResourceSelectorRequirement) *corev1.ResourceQuota {
	q := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: "team"},
		Spec:       corev1.ResourceQuotaSpec{Hard: rl(hard), Scopes: scopes},
		Status:     corev1.ResourceQuotaStatus{Hard: rl(hard)},
	}
	if len(selector) > 0 {
		q.Spec.ScopeSelector = &corev1.ScopeSelector{MatchExpressions: selector}
	}
	return q
}

func TestMatches(t *testing.T) {
	podsGR := schema.GroupResource{Resource: "pods"}
	servicesGR := schema.GroupResource{Resource: "services"}
	bestEffort := pod("be", container("a", "", ""))
	burstable := pod("burst", container("a", "cpu=100m", ""))
	deadline := pod("job", container("a", "", ""))
	deadline.Spec.ActiveDeadlineSeconds = ptr(int64(60))
	high := pod("high", container("a", "", ""))
	high.Spec.PriorityClassName = "high"
	crossNS := pod("cross", container("a", "", ""))
	crossNS.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: 1, PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: "kubernetes.io/hostname", Namespaces: []string{"other"}},
		}},
	}}
	qosFromStatus := pod("status", container("a", "cpu=100m", ""))
	qosFromStatus.Status.QOSClass = corev1.PodQOSBestEffort
	priority := func(op corev1.ScopeSelectorOperator, values ...string) corev1.ScopedResourceSelectorRequirement {
		return corev1.ScopedResourceSelectorRequirement{ScopeName: corev1.ResourceQuotaScopePriorityClass, Operator: op, Values: values}
	}
	scopes := func(s ...corev1.ResourceQuotaScope) []corev1.ResourceQuotaScope { return s }

	tests := []struct {
		name  string
		quota *corev1.ResourceQuota
		gr    schema.GroupResource
		obj   runtime.Object
		want  bool
	}{
		{"unscoped pods quota, pod", scopedQuota("pods=1", nil), podsGR, burstable, true},
		{"unscoped cpu quota, pod", scopedQuota("limits.cpu=1", nil), podsGR, bestEffort, true},
		{"services quota, pod", scopedQuota("services=1", nil), podsGR, burstable, false},
		{"pods quota, service", scopedQuota("pods=1", nil), servicesGR, &corev1.Service{}, false},
		{"services quota, service", scopedQuota("services.nodeports=1", nil), servicesGR, &corev1.Service{}, true},
		{"status not filled in yet", func() *corev1.ResourceQuota {
			q := scopedQuota("pods=1", nil)
			q.Status = corev1.ResourceQuotaStatus{}
			return q
		}(), podsGR, burstable, false},
		{"BestEffort, best-effort pod", scopedQuota("pods=1", scopes(corev1.ResourceQuotaScopeBestEffort)), podsGR, bestEffort, true},
		{"BestEffort, burstable pod", scopedQuota("pods=1", scopes(corev1.ResourceQuotaScopeBestEffort)), podsGR, burstable, false},
		{"BestEffort, QoS class from status", scopedQuota("pods=1", scopes(corev1.ResourceQuotaScopeBestEffort)), podsGR, qosFromStatus, true},
		{"NotBestEffort, best-effort pod", scopedQuota("pods=1", scopes(corev1.ResourceQuotaScopeNotBestEffort)), podsGR, bestEffort, false},
		{"NotBestEffort, burstable pod", scopedQuota("pods=1", scopes(corev1.ResourceQuotaScopeNotBestEffort)), podsGR, burstable, true},
		{"Terminating, pod with a deadline", scopedQuota("pods=1", scopes(corev1.ResourceQuotaScopeTerminating)), podsGR, deadline, true},
		{"Terminating, pod without", scopedQuota("pods=1", scopes(corev1.ResourceQuotaScopeTerminating)), podsGR, bestEffort, false},
		{"NotTerminating, pod with a deadline", scopedQuota("pods=1", scopes(corev1.ResourceQuotaScopeNotTerminating)), podsGR, deadline, false},
		{"NotTerminating, pod without", scopedQuota("pods=1", scopes(corev1.ResourceQuotaScopeNotTerminating)), podsGR, bestEffort, true},
		{"all scopes must hold", scopedQuota("pods=1", scopes(corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotBestEffort)), podsGR, deadline, false},
		{"PriorityClass In, in", scopedQuota("pods=1", nil, priority(corev1.ScopeSelectorOpIn, "high", "urgent")), podsGR, high, true},
		{"PriorityClass In, no class", scopedQuota("pods=1", nil, priority(corev1.ScopeSelectorOpIn, "high")), podsGR, bestEffort, false},
		{"PriorityClass NotIn, in", scopedQuota("pods=1", nil, priority(corev1.ScopeSelectorOpNotIn, "high")), podsGR, high, false},
		{"PriorityClass NotIn, no class", scopedQuota("pods=1", nil, priority(corev1.ScopeSelectorOpNotIn, "high")), podsGR, bestEffort, true},
		{"PriorityClass Exists", scopedQuota("pods=1", nil, priority(corev1.ScopeSelectorOpExists)), podsGR, high, true},
		{"PriorityClass Exists, no class", scopedQuota("pods=1", nil, priority(corev1.ScopeSelectorOpExists)), podsGR, bestEffort, false},
		{"PriorityClass DoesNotExist, no class", scopedQuota("pods=1", nil, priority(corev1.ScopeSelectorOpDoesNotExist)), podsGR, bestEffort, true},
		{"PriorityClass In without values", scopedQuota("pods=1", nil, priority(corev1.ScopeSelectorOpIn)), podsGR, high, false},
		{"CrossNamespacePodAffinity, cross", scopedQuota("pods=1", scopes(corev1.ResourceQuotaScopeCrossNamespacePodAffinity)), podsGR, crossNS, true},
		{"CrossNamespacePodAffinity, local", scopedQuota("pods=1", scopes(corev1.ResourceQuotaScopeCrossNamespacePodAffinity)), podsGR, bestEffort, false},
		{"scoped quota, service", scopedQuota("services=1", scopes(corev1.ResourceQuotaScopeBestEffort)), servicesGR, &corev1.Service{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Matches(tt.quota, tt.gr, tt.obj); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAccounts(t *testing.T) {
	tests := []struct {
		gr   schema.GroupResource
		name corev1.ResourceName
		want bool
	}{
		{schema.GroupResource{Resource: "pods"}, "requests.cpu", true},
		{schema.GroupResource{Resource: "pods"}, "hugepages-2Mi", true},
		{schema.GroupResource{Resource: "pods"}, "requests.example.com/gpu", true},
		{schema.GroupResource{Resource: "pods"}, "requests.storage", false},
		{schema.GroupResource{Resource: "pods"}, "services", false},
		{schema.GroupResource{Resource: "persistentvolumeclaims"}, "requests.storage", true},
		{schema.GroupResource{Resource: "persistentvolumeclaims"}, "gold.storageclass.storage.k8s.io/requests.storage", true},
		{schema.GroupResource{Resource: "persistentvolumeclaims"}, "gold.storageclass.storage.k8s.io/persistentvolumeclaims", true},
		{schema.GroupResource{Resource: "services"}, "services.loadbalancers", true},
		{schema.GroupResource{Resource: "secrets"}, "secrets", true},
		{schema.GroupResource{Resource: "secrets"}, "count/secrets", true},
		{schema.GroupResource{Resource: "secrets"}, "configmaps", false},
		{schema.GroupResource{Group: "apps", Resource: "deployments"}, "count/deployments.apps", true},
		{schema.GroupResource{Group: "apps", Resource: "deployments"}, "count/deployments", false},
	}
	for _, tt := range tests {
		if got := Accounts(tt.gr, tt.name); got != tt.want {
			t.Errorf("Accounts(%v, %q) = %v, want %v", tt.gr, tt.name, got, tt.want)
		}
	}
}

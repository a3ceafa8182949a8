package ingress

import (
	"fmt"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

func TestMergeNodeAddresses(t *testing.T) {
	lb := func(ips ...string) []networkingv1.IngressLoadBalancerIngress {
		return loadBalancerIngress(ips)
	}
	ready := map[string]bool{"10.0.0.1": true, "10.0.0.2": true, "1.2.3.4": true}
	tests := []struct {
		name    string
		current []networkingv1.IngressLoadBalancerIngress
		own     []string
		want    []networkingv1.IngressLoadBalancerIngress
	}{
		{"empty status", nil, []string{"10.0.0.1"}, lb("10.0.0.1")},
		{"another ready node stays", lb("10.0.0.2"), []string{"10.0.0.1"}, lb("10.0.0.1", "10.0.0.2")},
		{"a gone node is dropped", lb("10.0.0.9", "10.0.0.1"), []string{"10.0.0.1"}, lb("10.0.0.1")},
		{"hostname entries are dropped", []networkingv1.IngressLoadBalancerIngress{{Hostname: "lb.example"}}, []string{"10.0.0.1"}, lb("10.0.0.1")},
		{"external and internal, sorted", lb("10.0.0.2"), []string{"1.2.3.4", "10.0.0.1"}, lb("1.2.3.4", "10.0.0.1", "10.0.0.2")},
	}
	for _, tt := range tests {
		got := mergeNodeAddresses(tt.current, tt.own, ready)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	// Two nodes starting from each other's result settle on one list.
	a := mergeNodeAddresses(nil, []string{"10.0.0.1"}, ready)
	b := mergeNodeAddresses(a, []string{"10.0.0.2"}, ready)
	a2 := mergeNodeAddresses(b, []string{"10.0.0.1"}, ready)
	if fmt.Sprint(a2) != fmt.Sprint(b) {
		t.Errorf("nodes disagree: %v then %v", b, a2)
	}
}

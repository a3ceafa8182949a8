package registry

import (
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
)

func TestLease(t *testing.T) {
	r := groupTestResource(t, "coordination.k8s.io", "leases")
	for _, tc := range []struct {
		name string
		spec coordinationv1.LeaseSpec
		want []string
	}{
		{name: "valid", spec: coordinationv1.LeaseSpec{HolderIdentity: new("node-1"), LeaseDurationSeconds: new(int32(40)), LeaseTransitions: new(int32(0))}},
		{name: "empty"},
		{name: "zero duration", spec: coordinationv1.LeaseSpec{LeaseDurationSeconds: new(int32(0))},
			want: []string{"spec.leaseDurationSeconds: Invalid value"}},
		{name: "negative transitions", spec: coordinationv1.LeaseSpec{LeaseTransitions: new(int32(-1))},
			want: []string{"spec.leaseTransitions: Invalid value"}},
		{name: "coordinated", spec: coordinationv1.LeaseSpec{
			Strategy: new(coordinationv1.OldestEmulationVersion), PreferredHolder: new("kcm-1"),
		}},
		{name: "unknown strategy", spec: coordinationv1.LeaseSpec{Strategy: new(coordinationv1.CoordinatedLeaseStrategy("Youngest"))},
			want: []string{"spec.strategy: Unsupported value"}},
		{name: "preferred holder without strategy", spec: coordinationv1.LeaseSpec{PreferredHolder: new("kcm-1")},
			want: []string{"spec.preferredHolder: Forbidden"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			groupTestCheckErrs(t, r.Validate(&coordinationv1.Lease{Spec: tc.spec}), tc.want)
		})
	}
	groupTestCheckTable(t, r.Table, &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{HolderIdentity: new("node-1")}},
		"Holder,Age", []any{"node-1", "<unknown>"})
}

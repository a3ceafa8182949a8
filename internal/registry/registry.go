package registry

import (
	"context"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
)

// Options configure the resources whose behaviour depends on the cluster.
type Options struct {
	// ServiceCIDR is the range ClusterIPs are allocated from (default 10.43.0.0/16).
	ServiceCIDR netip.Prefix
	// NodePortMin, NodePortMax bound NodePort allocation (default 30000-32767).
	NodePortMin, NodePortMax int
	// ListServices returns every Service in the cluster; allocators rebuild
	// their state from it when they start.
	ListServices func(ctx context.Context) ([]corev1.Service, error)
}

func (o *Options) setDefaults() {
	if !o.ServiceCIDR.IsValid() {
		o.ServiceCIDR = netip.MustParsePrefix("10.43.0.0/16")
	}
	if o.NodePortMin == 0 {
		o.NodePortMin = 30000
	}
	if o.NodePortMax == 0 {
		o.NodePortMax = 32767
	}
}

// All returns every resource k1s serves.
func All(opts Options) []*Resource {
	opts.setDefaults()
	var all []*Resource
	all = append(all, coreResources(opts)...)
	all = append(all, groupResources(opts)...)
	return all
}

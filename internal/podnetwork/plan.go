package podnetwork

import (
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// route is one pod range and the node address it is reached through.
type route struct {
	dst netip.Prefix
	gw  netip.Addr
}

// desiredRoutes returns the route to each other node's pod range, keyed by
// the range. Nodes without an IPv4 podCIDR or InternalIP get none, nor
// do nodes whose InternalIP cannot be a gateway (loopback: hollow nodes
// and single-host setups). When
// two nodes claim the same range (a transient of reallocation), the node
// with the smaller name wins so the answer does not depend on list order.
func desiredRoutes(nodes []*corev1.Node, self string) map[netip.Prefix]route {
	sorted := slices.Clone(nodes)
	slices.SortFunc(sorted, func(a, b *corev1.Node) int { return strings.Compare(a.Name, b.Name) })
	out := map[netip.Prefix]route{}
	for _, n := range sorted {
		if n.Name == self {
			continue
		}
		cidr, ok := nodePodCIDR(n)
		if !ok {
			continue
		}
		ip, ok := nodeInternalIP(n)
		if !ok || ip.IsLoopback() || ip.IsUnspecified() || cidr.Contains(ip) {
			continue
		}
		if _, taken := out[cidr]; !taken {
			out[cidr] = route{dst: cidr, gw: ip}
		}
	}
	return out
}

// nodePodCIDR is the node's first IPv4 pod range, masked.
func nodePodCIDR(n *corev1.Node) (netip.Prefix, bool) {
	cidrs := n.Spec.PodCIDRs
	if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
		cidrs = []string{n.Spec.PodCIDR}
	}
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err == nil && p.Addr().Is4() {
			return p.Masked(), true
		}
	}
	return netip.Prefix{}, false
}

// nodeInternalIP is the node's first IPv4 InternalIP.
func nodeInternalIP(n *corev1.Node) (netip.Addr, bool) {
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		ip, err := netip.ParseAddr(a.Address)
		if err == nil && ip.Is4() {
			return ip, true
		}
	}
	return netip.Addr{}, false
}

// routeChanges compares our routes now in the table (ours) and the
// destinations of other routes (foreign) with the desired ones: put holds
// routes to write (replacing ours in place when only the gateway
// changed), del our routes to remove. A destination covered by a foreign
// route is left alone, and our own route to it removed.
func routeChanges(ours []route, foreign map[netip.Prefix]bool, desired map[netip.Prefix]route) (put, del []route) {
	have := map[netip.Prefix]route{}
	for _, r := range ours {
		want, ok := desired[r.dst]
		switch {
		case !ok || foreign[r.dst]:
			del = append(del, r)
		case want.gw == r.gw:
			have[r.dst] = r
		}
	}
	for dst, r := range desired {
		if _, ok := have[dst]; ok || foreign[dst] {
			continue
		}
		put = append(put, r)
	}
	less := func(a, b route) int { return a.dst.Addr().Compare(b.dst.Addr()) }
	slices.SortFunc(put, less)
	slices.SortFunc(del, less)
	return put, del
}

// Package podnetwork is a node's part of the pod network, in the style of
// flannel's host-gw backend: every node's pods live in its spec.podCIDR,
// and each node routes the other nodes' pod ranges via their InternalIP.
//
// A Network guarantees, level-triggered (on every Node change and every
// 30 s), that in its network namespace:
//   - the main routing table holds `podCIDR via InternalIP` for every other
//     node that has both, and no route of ours for nodes that are gone or
//     changed; routes are tagged with their own protocol number
//     (RouteProtocol) and routes with another protocol are never touched,
//     even when they cover a node's pod range;
//   - the nftables table `ip k1s-podnet` masquerades traffic from this
//     node's podCIDR to destinations outside the cluster CIDR, and accepts
//     forwarded traffic to or from the cluster CIDR (an accept cannot
//     override a drop in another table: a host firewall that drops
//     forwarded traffic in its own table still wins);
//   - net.ipv4.ip_forward is 1.
//
// Run leaves routes and table in place when it returns, so pods keep
// their network across an agent restart; Cleanup removes both. Nodes must
// share a layer-2 segment (or otherwise reach each other's InternalIP
// directly): there is no encapsulation.
package podnetwork

// Package proxy is k1s's kube-proxy: it watches Services and
// EndpointSlices and programs one nftables table per node (family ip,
// name k1s-proxy) that sends ClusterIP and NodePort traffic to ready
// endpoints.
//
// Guarantees:
//   - Every change reaches the kernel as one netlink transaction: a packet
//     sees either the old rules or the new ones, never a mix.
//   - Programming is incremental: only the chains, sets and map elements of
//     the services that changed are rewritten. At start the table is
//     replaced whole (a table left by an earlier run included, so a restart
//     leaves no duplicate rules); every Options.ResyncPeriod it is rewritten
//     in place, idempotently, keeping session-affinity state and removing
//     chains and sets that do not belong. A failed change is retried as a
//     whole-table replace.
//   - ClusterIPs, NodePorts (on the node's local addresses but loopback),
//     externalIPs and load-balancer ingress IPs are served; endpoints are
//     picked at random (numgen random) among the ready ones, or among the
//     terminating-but-serving ones when none is ready; a service without
//     any rejects new connections at once; ClientIP session affinity holds
//     for its timeout.
//   - Cleanup removes the table and nothing else.
//
// What it does not do: IPv6, externalTrafficPolicy/internalTrafficPolicy
// Local, loadBalancerSourceRanges, topology hints, and clearing conntrack
// entries of UDP flows to endpoints that went away.
//
// Layout: model.go translates API objects to a small rule model and is pure
// (no I/O, no time); nftables.go turns a model, or the difference between
// two, into one batch of netlink messages; proxier.go is the shell of
// informers, workqueue, metrics and the sync loop. Nodes whose pods share a
// Linux bridge need br_netfilter (bridge-nf-call-iptables) so that replies
// between two pods of the bridge pass conntrack and are un-DNATed.
package proxy

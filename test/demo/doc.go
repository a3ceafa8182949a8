// Package demo holds the end-to-end test of `k1s up`, `k1s demo`,
// `k1s status` and `k1s down` together: a three-node cluster on this
// machine (the first node is the machine itself, the others live in
// network namespaces), the reference application deployed and exercised
// by the demo's steps, then the cluster stopped, checked to leave nothing
// behind on the host (namespaces, nftables tables, cgroups, mounts,
// processes), resumed from its data dir with the application's data
// intact, and purged. Requests go only to 127.0.0.1.
//
// The test needs root, K1S_BIN (a static k1s binary: `make test` sets
// it), go, containerd, runc, the CNI plugins, nftables and kubectl;
// without them it is skipped. It uses the host's network stack for the
// first node, so it must not run at the same time as another cluster on
// this machine.
package demo

// Package localcluster is `k1s up`, `k1s down` and `k1s status`: a whole
// cluster on this machine. The first node is the machine itself (the
// server runs its agent); nodes 2..N each live in a network namespace of
// their own, joined to the host by a veth on the bridge k1s-nodes
// (10.44.0.0/24: the host is .1, node i is .10+i), each with its own
// containerd, agent and cgroup root. The processes run detached from the
// command that started them, with their logs and pid files in the data
// dir, so that `k1s up` returns once the cluster is ready and `k1s down`
// stops it later.
//
// `k1s up` on an existing data dir resumes the same cluster: etcd, the
// certificates and the nodes' state are kept; the network is made anew.
// `k1s down` stops everything it started and removes the namespaces,
// veths, bridge, nftables tables, cgroups, mounts and containerd children;
// with Purge it also removes the data dir.
package localcluster

// Package containerd runs and supervises a private containerd for one
// k1s node: its own config, root, state, socket and log under
// DATADIR/containerd, the CRI plugin set up for this kind of machine
// (cgroupfs, restrict_oom_score_adj, no AppArmor, overlayfs, runc v2),
// and a CNI config for the node's pod CIDR.
//
// Guarantees:
//   - Run restarts containerd with exponential backoff (200ms to 30s)
//     whenever it dies, and stops it (SIGTERM, SIGKILL after 10s) when its
//     context ends. Only the containerd process is signalled: pod shims
//     run in their own process groups, reparented away from containerd,
//     so pods keep running across a containerd restart or a k1s stop.
//   - WaitReady returns once containerd serves CRI and holds the pause
//     image (k1s.local/pause:3.10, built by package image and loaded only
//     when missing), so RunPodSandbox cannot fail for want of it.
//   - The CNI config is replaced atomically; containerd reloads it
//     without a restart. Sandboxes get addresses from host-local IPAM
//     whose state lives under DATADIR/containerd/cni/ipam.
//   - A containerd left running by a k1s that was killed (recorded in
//     containerd.pid, recognized by its config path) is stopped before a
//     new one starts.
//
// Not done here, and left behind when Run returns: running pods and
// their shims (the kubelet removes pods; the shim sockets are in
// /run/containerd/s), the pod cgroup parents (containerd removes leaf
// cgroups, not /k1s/pod-<uid>: the kubelet must), the bridge (k1s0 by
// default) with its gateway address, ip_forward=1 set by the bridge
// plugin, and the CNI-HOSTPORT-* iptables chains portmap creates for
// hostPorts. containerd's loopback setup for pods needs the loopback
// plugin in CNIBinDir but no config file. The log file is rotated once
// at start when over 50 MiB.
package containerd

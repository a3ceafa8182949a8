// Package preflight checks, before k1s starts anything, that the machine
// has what the requested roles need: root, the container runtime
// (containerd, runc, the CNI plugins), the kernel features pods and
// Services rely on (cgroups, overlayfs, network namespaces, br_netfilter,
// IP forwarding, nf_tables), free ports, and the tools a multi-node setup
// uses.
//
// Guarantees:
//   - Run reports every problem it finds, one Problem each, in a fixed
//     order; each names what is missing and how to fix it (Debian 12
//     package names). A nil result means every requested check passed.
//   - Run changes nothing on the host. The nf_tables probe creates a table
//     only inside an anonymous network namespace it creates for the probe;
//     the namespace vanishes with its last file descriptor. Sysctls are
//     opened for writing but never written. Ports are bound on the
//     requested addresses and released at once.
//   - Everything read from /proc and /sys (and the CNI plugin directories)
//     is read under Options.Root, and binaries are looked up through
//     Options.LookPath, so the checks run against fake trees in tests.
//
// It does not guarantee that k1s will start: a port can be taken between
// the check and the real bind, and a kernel feature can be present yet
// misbehave. Warnings (Problem.Warning) name optional things, such as
// kubectl, that k1s runs without.
package preflight

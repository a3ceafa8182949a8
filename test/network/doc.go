// Package network holds the end-to-end tests of cluster networking: a
// `k1s server` process and two `k1s agent` processes, each agent in a
// network namespace of its own (as RUNTIME-NOTES.md describes), joined
// to the server by a bridge the test creates on this machine. The nodes'
// namespaces have no default route: nothing the tests start can reach any
// address but the server's and the other nodes'. The real kubectl drives
// the cluster; images are built by the test from busybox-static, the
// add-ons run from the k1s image the agents build from K1S_BIN.
//
// The tests need root, K1S_BIN (a static k1s binary: `make test` sets
// it), containerd, runc, the CNI plugins, nftables and kubectl; without
// them they are skipped.
package network

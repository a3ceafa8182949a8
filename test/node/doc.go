// Package node holds the end-to-end tests of a worker node: a k1s server
// and a node agent with its own containerd child run in this process, the
// real kubectl drives them, and images are built by the test from
// busybox-static (internal/image), so nothing is pulled. The tests need
// root, containerd, runc and the CNI plugins (CI installs them); without
// them they are skipped.
package node

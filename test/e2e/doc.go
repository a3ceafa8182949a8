// Package e2e drives the real kubectl binary against a k1s control plane
// started in-process on a random loopback port with embedded etcd in a
// temporary directory. Later issues add real containerd and nodes in
// network namespaces.
package e2e

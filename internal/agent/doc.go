// Package agent composes one worker node, `k1s agent`: a private
// containerd child (unless a CRI endpoint is given), the kubelet over CRI,
// the kubelet's HTTPS server for logs, exec, attach and port-forward, and,
// with the private containerd, the node's part of the pod network
// (podnetwork: routes to other nodes' pods, egress masquerade), and the
// local-path provisioner for volumes on the node's disk (localpath, under
// DataDir/storage).
// Run returns when ctx ends, after every part has stopped; pod containers
// keep running (a restarted agent adopts them), and so do the pod
// network's routes and rules.
package agent

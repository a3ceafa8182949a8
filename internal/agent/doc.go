// Package agent composes one worker node, `k1s agent`: a private
// containerd child (unless a CRI endpoint is given), the kubelet over CRI,
// and the kubelet's HTTPS server for logs, exec, attach and port-forward.
// Run returns when ctx ends, after every part has stopped; pod containers
// keep running (a restarted agent adopts them).
package agent

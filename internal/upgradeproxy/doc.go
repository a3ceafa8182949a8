// Package upgradeproxy forwards an HTTP upgrade request (SPDY or
// WebSocket: exec, attach, port-forward) to a backend and then copies
// bytes both ways until either side closes. A backend that refuses the
// upgrade has its answer passed back at once, so that a client trying
// WebSocket first (kubectl) sees the refusal and falls back to SPDY.
// The api-server uses it towards kubelets, and the kubelet towards the
// runtime's streaming server.
package upgradeproxy

// Package hollow runs many hollow nodes in one process for scale tests
// (`k1s simulate`): each is the real kubelet over the in-memory fake
// runtime, so the api-server, scheduler and controllers see ordinary nodes
// that register, heartbeat, run pods and report their status, while
// nothing is started on the machine.
//
// Hollow nodes share api-server connections in groups (HTTP/2 limits the
// streams, and so the watches, one connection carries), share one event
// broadcaster, and run one sync worker each, to keep per-node memory
// small. They mount no volumes and answer network probes as successful.
package hollow

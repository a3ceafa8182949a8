// Package runtime defines the kubelet's view of a container runtime: the small
// subset of CRI v1 (k8s.io/cri-api) the kubelet calls, with CRI's own message
// types so that a real runtime is a thin gRPC wrapper.
//
// Two implementations satisfy it and pass one conformance suite
// (runtimetest): cri/ talks to containerd (or any CRI v1 runtime) over gRPC;
// fake/ keeps sandboxes and containers in memory so that thousands of hollow
// kubelets fit in one process.
//
// Guarantees every implementation gives (checked by runtimetest):
//   - IDs are unique and never reused; Remove* of an unknown ID is not an error
//     (CRI's idempotence rules), Status/Stop/Start of an unknown ID is a
//     NotFound error (errors.Is(err, ErrNotFound)).
//   - A container whose sandbox is stopped is exited; removing a sandbox
//     removes its containers.
//   - List* filters by ID, state and labels like CRI.
package runtime

// Package kubelet is the node agent: it registers its Node, renews the node's
// Lease, and turns the pods bound to the node into sandboxes and containers
// of a runtime.Runtime (containerd over CRI, or the in-memory fake of hollow
// nodes), reporting their status back through the api-server.
//
// Shape: pods come from an informer restricted to spec.nodeName; every
// change to a pod, every container state change noticed by the relister
// (the kubelet's PLEG) and every probe result change enqueues the pod's UID.
// A worker syncs one UID at a time (the workqueue never hands the same key
// to two workers): it compares the pod's spec with what the runtime holds
// under that UID and takes the next steps (sandbox, init containers in
// order, containers, restarts with CrashLoopBackOff, kills), then writes
// the computed status if it differs from the API's. A UID with no pod in
// the cache, or a pod being deleted, is torn down, and a deleted pod's API
// object is removed only after its containers are gone. Everything is
// level-triggered: restarting the kubelet re-derives all decisions from the
// API and the runtime, so running containers are adopted, not duplicated.
//
// Not provided here: the HTTPS API (kubeletserver), volumes (volume),
// container environment (envvar); pod networking is the runtime's CNI.
package kubelet

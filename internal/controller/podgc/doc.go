// Package podgc is the pod garbage collector: it deletes pods nobody else
// will clean up.
//
//   - Terminated pods (phase Succeeded or Failed) beyond
//     TerminatedPodThreshold (default 12500, as
//     --terminated-pod-gc-threshold) are deleted, oldest first (evicted
//     ones before others).
//   - Pods bound to a node that no longer exists are marked Failed with a
//     DisruptionTarget condition (reason DeletionByPodGC) and force
//     deleted. A node counts as gone only once it has been missing from
//     the cache for the quarantine (default 40s, as upstream) and a live
//     GET confirms it, so a pod bound to a node the cache has not seen
//     yet is safe.
//   - Pods that are terminating but were never scheduled are force deleted
//     (grace period 0): no kubelet will ever finish them.
//
// Guarantees: reconciling is level-triggered from informer caches and
// idempotent; deletes carry the pod's UID as a precondition, so a pod
// recreated under the same name is never hit; cached objects are never
// mutated. Everything is checked again every Period (default 20s), so a
// missed event delays a collection but never loses it.
//
// It does not collect pods on nodes tainted out-of-service, and it does
// not wait for volumes to detach.
package podgc

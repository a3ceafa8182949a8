// Package namespace is the namespace controller: it finishes the deletion
// of namespaces.
//
// Deleting a Namespace only marks it (deletionTimestamp, phase
// Terminating); the api-server keeps it while spec.finalizers holds
// "kubernetes". For such a namespace the controller discovers every
// namespaced resource the api-server serves that can be listed and
// deleted, deletes the namespace's content, and once every list in the
// namespace is empty removes "kubernetes" through the namespaces/NAME/finalize
// subresource, after which the api-server removes the namespace.
//
// Guarantees:
//   - Content deletion starts a delay (default 5s, as upstream) after the
//     namespace is seen terminating, so objects whose create was admitted
//     just before the deletion have landed and are removed too.
//   - The finalizer is removed only after one pass in which discovery
//     succeeded for every group and every listed resource was empty, so
//     content is never orphaned because a group was unreachable.
//   - Progress is reported in status.conditions with the upstream condition
//     types (NamespaceDeletionDiscoveryFailure, NamespaceDeletionContentFailure,
//     NamespaceContentRemaining, NamespaceFinalizersRemaining, ...); the status
//     is written only when a condition changes.
//   - While content remains (objects with finalizers, pods waiting for their
//     kubelet) the namespace is retried with the queue's per-item backoff,
//     never in a hot loop.
//   - Reconciling is level-triggered and idempotent; cached objects are
//     never mutated.
//
// It does not remove finalizers of other controllers, does not force-delete
// pods, and does not clean up cluster-scoped objects.
package namespace

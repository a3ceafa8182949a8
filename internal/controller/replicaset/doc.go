// Package replicaset is the ReplicaSet controller: it keeps exactly
// spec.replicas active pods matching each ReplicaSet's selector.
//
// Pods are created from spec.template with generateName "<rs>-" and an
// ownerReference marking the ReplicaSet as their controller. Orphan pods
// matching the selector are adopted and owned pods that stopped matching
// are released (package claim). On scale-down the least valuable pods go
// first: unscheduled before scheduled, Pending before Unknown before
// Running, not ready before ready, lower pod-deletion-cost first, pods
// doubled up on a node with their siblings first, ready for less time,
// more restarts, newer (see comparePodValue).
//
// Guarantees:
//   - Event handlers only enqueue keys and note observed creations and
//     deletions; reconcile re-reads from the informer caches, is
//     idempotent, and never mutates cached objects.
//   - Expectations: after asking for creations or deletions the controller
//     does not create or delete again for that ReplicaSet until its cache
//     has shown them (or five minutes passed), so a lagging cache never
//     makes it double-create.
//   - At most BurstReplicas pods are created or deleted per reconcile;
//     creates go in slow-start batches of 1, 2, 4, ... and stop at the
//     first failed batch.
//   - Status (replicas, fullyLabeledReplicas, readyReplicas,
//     availableReplicas honouring minReadySeconds, observedGeneration) is
//     written only when it changes; a failed create or delete sets the
//     ReplicaFailure condition (FailedCreate/FailedDelete, e.g. a quota
//     refusal), removed on the next clean pass.
//   - Events SuccessfulCreate, FailedCreate, SuccessfulDelete and
//     FailedDelete are recorded on the ReplicaSet (core/v1 Events, shown
//     by kubectl describe).
//
// It does not schedule pods, does not wait for terminating pods (a pod
// being deleted no longer counts), does not report terminatingReplicas,
// and buckets no ages logarithmically (upstream's LogarithmicScaleDown):
// times are compared exactly.
package replicaset

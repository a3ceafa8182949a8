// Package deployment is the Deployment controller: it rolls a Deployment's
// pod template out through ReplicaSets, one per template.
//
// The ReplicaSet for a template is named "<deployment>-<hash>", its
// selector and template carry pod-template-hash=<hash>, where the hash is
// computed as upstream (FNV-32a over the template and collisionCount,
// safe-encoded), so names match what kube-controller-manager would pick.
// Each ReplicaSet carries deployment.kubernetes.io/revision (the newest is
// the highest; a ReplicaSet brought back by a rollback gets a new revision
// and keeps its old ones in revision-history), desired-replicas and
// max-replicas; the Deployment carries its current revision. This is what
// kubectl rollout history, undo (which copies an old ReplicaSet's
// template into the Deployment), pause/resume, restart and status rely on.
//
// Strategies:
//   - RollingUpdate: the new ReplicaSet grows while all pods stay within
//     spec.replicas+maxSurge (percentages rounded up) and old ones shrink
//     while at least spec.replicas-maxUnavailable (rounded down; 1 if both
//     come to 0) pods stay available, unavailable old pods first.
//   - Recreate: old ReplicaSets go to 0; the new one is created or grown
//     only once no old pod is left running (terminating pods count).
//
// Guarantees:
//   - Handlers only enqueue Deployment keys; reconcile re-reads the
//     informer caches, never mutates cached objects, and every write
//     carries the resourceVersion it was computed from, so a stale cache
//     costs a conflict and a retry, never a wrong step.
//   - A rolling update never counts on pods an old ReplicaSet is about to
//     delete (available pods are capped by spec.replicas), and never grows
//     the new ReplicaSet while an old one still reports pods beyond its
//     spec: maxUnavailable and maxSurge hold for the pods that exist, not
//     only for the ReplicaSets' specs (upstream counts specs only).
//   - spec.replicas changes during a rollout (kubectl scale) are spread
//     over the active ReplicaSets in proportion, as upstream.
//   - A paused Deployment makes no rollout progress (no new ReplicaSet,
//     no template change applied) but still scales and cleans up history.
//   - Old ReplicaSets with no pods beyond revisionHistoryLimit are deleted,
//     lowest revision first.
//   - Status: observedGeneration, replicas, updatedReplicas, readyReplicas,
//     availableReplicas, unavailableReplicas, and the conditions Available
//     (MinimumReplicasAvailable/Unavailable), Progressing
//     (NewReplicaSetCreated, FoundNewReplicaSet, ReplicaSetUpdated,
//     NewReplicaSetAvailable, DeploymentPaused, DeploymentResumed,
//     ProgressDeadlineExceeded after progressDeadlineSeconds without
//     progress, ReplicaSetCreateError) and ReplicaFailure lifted from the
//     ReplicaSets. A rollout in progress is looked at again when its
//     deadline passes, without any event.
//   - Events ScalingReplicaSet (and SelectingAll, ReplicaSetCreateError)
//     are recorded on the Deployment.
//
// The revision annotation is written with an ordinary update of the
// Deployment (metadata only, so no new generation), not through the status
// subresource as upstream does. It does not implement the deprecated
// extensions/v1beta1 rollbackTo, does not delete the ReplicaSets of a
// deleted Deployment (the garbage collector does), and does not report
// terminatingReplicas.
package deployment

// Package job is the batch/v1 Job controller: it runs each Job's pods
// until spec.completions of them have succeeded, or the Job fails.
//
// Pods are created from spec.template (whose labels the api-server's
// defaulting filled with batch.kubernetes.io/controller-uid and job-name)
// with generateName "<job>-" and an ownerReference marking the Job as
// their controller. At most spec.parallelism pods are active at once, and
// never more than the completions still missing. Indexed jobs get pods
// "<job>-<i>-<random>" carrying the batch.kubernetes.io/job-completion-index
// annotation and label and hostname "<job>-<i>", one per missing index;
// status.completedIndexes lists the succeeded ones.
//
// Guarantees:
//   - Event handlers only enqueue keys and note observed creations and
//     deletions; reconcile re-reads from the informer caches, is
//     idempotent, and never mutates cached objects. The decisions are made
//     by decide, a pure function of the Job, its pods and the time.
//   - Counting, as upstream's tracking with finalizers: pods are created
//     with the finalizer batch.kubernetes.io/job-tracking. A pod that
//     terminated (or was deleted before it succeeded: a failure) is first
//     recorded in status.uncountedTerminatedPods, then its finalizer is
//     removed, then it moves into status.succeeded or failed, so each
//     counts exactly once and the counts never go down when finished pods
//     are deleted. Active pods the controller deletes itself (excess
//     parallelism, suspension, finished job) lose the finalizer first and
//     do not count as failures. Pods of a Job that is gone or being
//     deleted are released (finalizer removed), uncounted.
//   - Expectations: after asking for creations or deletions (recorded
//     together, once per sync) the controller does not create or delete
//     again for that Job until its cache has shown them (or five minutes
//     passed), so a lagging cache never makes it exceed parallelism.
//     Finalizer removals are remembered the same way, so a lagging cache
//     never makes it count a pod twice.
//   - A failed pod is replaced after a backoff of BackoffBase (10s),
//     doubled per failed pod, capped at BackoffMax (6m), counted from the
//     last failure.
//   - More than spec.backoffLimit failed pods: conditions FailureTarget and
//     Failed, reason BackoffLimitExceeded; running longer than
//     activeDeadlineSeconds (since status.startTime): reason
//     DeadlineExceeded. Either way the remaining active pods are deleted.
//   - Enough succeeded pods: conditions SuccessCriteriaMet and Complete,
//     status.completionTime; remaining active pods are deleted. With no
//     spec.completions the Job completes once one pod succeeded and no
//     other is still running.
//   - spec.suspend deletes the active pods, sets condition Suspended and
//     clears status.startTime; resuming sets Suspended=False and restarts
//     the deadline clock.
//   - ttlSecondsAfterFinished deletes a finished Job (background
//     propagation) that long after its terminal condition.
//   - Events SuccessfulCreate, FailedCreate, SuccessfulDelete,
//     FailedDelete, Completed, BackoffLimitExceeded, DeadlineExceeded,
//     Suspended and Resumed are recorded on the Job.
//
// Simplified against upstream: a terminated pod without the finalizer
// (created before tracking) is not counted; the backoff counts
// status.failed but measures from the failed pods that still exist.
// FailureTarget and Failed are set together rather
// than waiting for pods to terminate. Not implemented: podFailurePolicy,
// backoffLimitPerIndex, successPolicy, podReplacementPolicy=Failed
// (terminating pods are always replaced), the JOB_COMPLETION_INDEX env
// (upstream's kubelet adds it), adoption of orphan pods, managedBy.
package job

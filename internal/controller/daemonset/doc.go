// Package daemonset is the DaemonSet controller: it keeps one pod of each
// apps/v1 DaemonSet on every eligible node, adding and removing pods as
// nodes come and go or change labels and taints.
//
// A node is eligible when it matches the template's nodeSelector and
// required node affinity and every NoSchedule and NoExecute taint on it is
// tolerated by the template's tolerations plus the ones upstream adds to
// every daemon pod (not-ready and unreachable NoExecute; disk-, memory-,
// pid-pressure and unschedulable NoSchedule; network-unavailable for
// hostNetwork pods). A pod already on a node stays when only a NoSchedule
// taint forbids new ones (counted as misscheduled); a NoExecute taint, a
// label change that breaks the selector, or the node's deletion removes it.
//
// Placement, as upstream since 1.12: a pod is created for a chosen node
// with its required node affinity replaced by the single term
// "metadata.name In [node]" (matchFields), and the scheduler (k1s's or
// kube-scheduler) binds it, so resource fit, host ports and readiness are
// checked as for any pod. A pod is counted for its node from creation on,
// bound or not. Without a running scheduler daemon pods stay Pending.
//
// Guarantees:
//   - Event handlers only enqueue keys and note observed creations and
//     deletions; reconcile re-reads from the informer caches, is
//     idempotent, and never mutates cached objects.
//   - Expectations: after asking for creations or deletions the controller
//     does not act again for that DaemonSet until its cache shows them (or
//     five minutes passed), so a lagging cache never doubles a pod.
//   - Orphan pods matching the selector are adopted, owned pods that
//     stopped matching released (package claim). Duplicates on one node,
//     pods on nodes that no longer exist and Failed/Succeeded pods are
//     deleted (the latter replaced in the next pass).
//   - A node whose daemon pods keep failing is backed off, as upstream:
//     its failed pod is deleted (Warning Event FailedDaemonPod) and
//     replaced at once the first time, then only after 1s, 2s, 4s, ... up
//     to 15 minutes (FailedPodsBackoffBase/Max).
//   - Every distinct template has a ControllerRevision "<ds>-<hash>"
//     (package history) owned by the DaemonSet, the newest being the
//     template's; pods carry its hash in the controller-revision-hash
//     label, so `kubectl rollout history` and `rollout undo` work.
//     Revisions no pod uses beyond spec.revisionHistoryLimit (default 10)
//     are deleted, oldest first.
//   - RollingUpdate deletes old-template pods, in node-name order, only
//     while fewer than maxUnavailable eligible nodes lack an available pod
//     (old pods that are not available go at once); the next pass creates
//     the new ones. OnDelete replaces a pod only after someone deletes it.
//   - With rollingUpdate.maxSurge > 0 (then maxUnavailable is not used,
//     as upstream) a node whose old pod is available gets its new pod
//     beside it, at most maxSurge nodes at a time, and the old pod goes
//     once the new one is available; an old pod that is not available is
//     replaced at once.
//   - Status (desired/current/updatedNumberScheduled, numberMisscheduled,
//     numberReady, numberAvailable honouring minReadySeconds,
//     numberUnavailable, observedGeneration) is written only when it
//     changes. Events SuccessfulCreate, FailedCreate, SuccessfulDelete and
//     FailedDelete are recorded on the DaemonSet.
//
// It does not wait for a terminating pod before creating its replacement,
// and does not adopt orphaned ControllerRevisions.
package daemonset

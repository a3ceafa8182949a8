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
//   - Pods carry the template hash in the controller-revision-hash label.
//     RollingUpdate deletes old-template pods, in node-name order, only
//     while fewer than maxUnavailable eligible nodes lack an available pod
//     (old pods that are not available go at once); the next pass creates
//     the new ones. OnDelete replaces a pod only after someone deletes it.
//   - Status (desired/current/updatedNumberScheduled, numberMisscheduled,
//     numberReady, numberAvailable honouring minReadySeconds,
//     numberUnavailable, observedGeneration) is written only when it
//     changes. Events SuccessfulCreate, FailedCreate, SuccessfulDelete and
//     FailedDelete are recorded on the DaemonSet.
//
// It writes no ControllerRevision objects (so `kubectl rollout history`
// and `rollout undo` of a DaemonSet do not work), does not honour
// maxSurge, does not wait for a terminating pod before creating its
// replacement, and does not back off a node whose pods keep failing.
package daemonset

// Package nodelifecycle is the node lifecycle controller: it notices
// nodes whose kubelet went silent and moves their pods away.
//
//   - A kubelet heartbeats by renewing its Lease in kube-node-lease
//     (spec.renewTime) or posting the Ready condition's
//     lastHeartbeatTime. When neither has changed for
//     NodeMonitorGracePeriod (default 40s) by this controller's clock, the
//     conditions Ready, MemoryPressure, DiskPressure and PIDPressure
//     become Unknown (reason NodeStatusUnknown) through nodes/status. A
//     node never heard from counts from its creation; any other node seen
//     for the first time, as after a restart, gets a full grace period.
//   - The node is tainted node.kubernetes.io/unreachable:NoExecute while
//     Ready is Unknown and node.kubernetes.io/not-ready:NoExecute while it
//     is False; the taints go away when it is True again, which the
//     kubelet must post (a renewed Lease alone does not make it True).
//   - NoSchedule taints follow the conditions, as the upstream scheduler
//     expects: unreachable / not-ready with Ready, memory-pressure,
//     disk-pressure, pid-pressure and network-unavailable with theirs,
//     and unschedulable with spec.unschedulable.
//   - While Ready is Unknown, every pod on the node gets Ready=False at
//     once (pods/status), so endpoints stop sending it traffic.
//   - Taint-based eviction: a pod on a node with NoExecute taints that
//     it does not tolerate is deleted at once; one that tolerates them
//     with tolerationSeconds is deleted that long after the taint was
//     added. A pod without a toleration for not-ready or unreachable is
//     treated as tolerating them for DefaultTolerationSeconds (default
//     300), as upstream's admission would have written. Deletion is
//     graceful, with a DisruptionTarget condition and the pod's UID as a
//     precondition; the pod's controller recreates it elsewhere.
//
// The decisions are pure functions (decide.go) of the node, its lease,
// the pods and the time; the Controller only does the I/O. Every node is
// looked at again each NodeMonitorPeriod (default 5s), and a node with
// pending evictions is looked at again when the first is due.
//
// It does not rate-limit evictions by zone and does not delete Node
// objects.
package nodelifecycle

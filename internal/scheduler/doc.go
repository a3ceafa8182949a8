// Package scheduler assigns pending pods to nodes, like kube-scheduler. It
// is an ordinary client of the api-server (user agent "k1s-scheduler"): it
// watches pods, nodes, persistent volumes and claims, storage classes and
// namespaces through client-go informers, and binds through the
// pods/binding subresource. It never runs anything itself.
//
// The decision is a deterministic core, built in one place (newChain):
//   - a scheduling queue (queue.go) with active, backoff and unschedulable
//     pods; time comes in as arguments;
//   - a node cache (cache.go) summing, per node, what bound and assumed
//     pods request;
//   - a chain (chain.go) of filter plugins (filters.go) and weighted score
//     plugins (scores.go). Filters: node cordoned, nodeName, node Ready (as
//     its not-ready/unreachable taint), NoSchedule/NoExecute taints,
//     nodeSelector and required node affinity, host ports, requests (cpu,
//     memory, ephemeral-storage, extended resources, pod count; containers
//     plus the largest init container plus overhead, as upstream),
//     ReadWriteOncePod claims used by another pod, volume binding (below),
//     required pod affinity and anti-affinity.
//     Scores, weight 1 each: least allocated, balanced allocation, spread
//     of pods of the same controller, preferred node affinity,
//     PreferNoSchedule taints; ties are broken at random. Above 100 nodes
//     the chain stops after upstream's adaptive share of feasible nodes.
//
// Volume binding (volumes.go, volumebind.go), as upstream's VolumeBinding
// plugin: a claim missing or being deleted, or an unbound claim whose class
// binds immediately (or that has no class), makes the pod unschedulable on
// every node ("pod has unbound immediate PersistentVolumeClaims"); a bound
// claim's volume must admit the node by its node affinity; an unbound
// WaitForFirstConsumer claim needs, on the node, an Available volume of
// its class that matches it (access modes, size, selector, volume mode;
// the smallest is taken), or a class with a provisioner whose
// allowedTopologies admit the node. Once a node is chosen, and before the
// pod's Binding is posted, the scheduler sets the chosen static volume's
// claimRef, or the claim's volume.kubernetes.io/selected-node annotation,
// and waits, watching the informers, until the PV controller and the
// provisioner have bound every such claim (at most
// Options.VolumeBindTimeout, 30s by default). On failure the annotations it
// set are removed and the pod is retried after a backoff. Decisions not yet
// seen through the informers are assumed, so that pods sharing a claim
// follow the first one's node and two claims never get one volume.
//
// A thin shell (shell.go) runs informers whose handlers only update the
// cache and queue, a loop that pops one pod at a time, and goroutines that
// bind volumes, write bindings and failures (at most 128 at once; a pod
// waiting for its claims holds one of them).
//
// Guarantees:
//   - Only pods with spec.schedulerName equal to Options.SchedulerName
//     (default "default-scheduler"), no spec.nodeName, no scheduling gates
//     and no deletion timestamp are placed.
//   - A pod counts against its node from the decision on (assumed), so a
//     burst never over-commits a node; a failed binding forgets it, and the
//     pod is retried after a backoff.
//   - A pod no node fits gets PodScheduled=False, reason Unschedulable,
//     with upstream's message ("0/3 nodes are available: 1 node(s) had
//     untolerated taint {k: v}, 2 Insufficient cpu. preemption: ...") through
//     pods/status, and a FailedScheduling event. It is retried when a node is
//     added or changes in a way that matters, a bound pod is deleted or
//     finishes, a volume or claim changes, or its own spec changes, after a
//     backoff of 1s doubling per attempt up to 10s; and at the latest after
//     5 minutes. Nothing polls.
//   - A placed pod gets a Scheduled event ("Successfully assigned ns/pod to
//     node"). Events go through client-go's record broadcaster (core/v1).
//   - With leader election, pods are placed only while this process holds
//     the Lease kube-system/kube-scheduler (15s/10s/2s, like
//     kube-scheduler), and the lease is released when Run returns.
//
// It does not preempt, and has no pod topology spread constraints, image
// locality, volume count limits (NodeVolumeLimits), volume zone checks,
// storage capacity tracking (CSIStorageCapacity) or dynamic resources, and
// does not account for in-place resized pods' allocated resources. Volume
// scores (upstream's StorageCapacityScoring) are not computed. It serves no
// metrics.
package scheduler

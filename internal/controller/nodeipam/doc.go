// Package nodeipam gives every Node without one a pod CIDR (spec.podCIDR)
// out of the cluster CIDR, the range its CNI configuration hands pod IPs
// from. It guarantees that no two nodes it allocates for share a range:
// ranges in use are rebuilt from every node's spec (so restarts and
// several controller-managers converge), an allocation is written with a
// precondition on the node's resourceVersion, and a range is only freed
// when its node is gone. Ranges a node brought itself (a kubelet with
// --pod-cidr) are respected as taken.
package nodeipam

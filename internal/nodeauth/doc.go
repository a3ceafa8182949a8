// Package nodeauth confines kubelets to their own node, as upstream's Node
// authorizer and NodeRestriction admission plugin do. A node is the user
// "system:node:<name>" in the group "system:nodes"; for every other user
// both pieces stay out of the way (NoOpinion, admit).
//
// The Authorizer guarantees a node can read a secret, config map,
// persistent volume claim or persistent volume, and request a service
// account token, only while some pod bound to it (spec.nodeName)
// references that object, and can touch only its own lease in
// kube-node-lease. Secrets and config maps may be listed and watched
// only when the request names one object (a metadata.name field
// selector). Everything else a kubelet needs is a fixed rule table
// (upstream's system:node role, plus what the node's proxy reads); the
// rest gets NoOpinion. Refusals are NoOpinion with upstream's reason
// ("no relationship found between node 'n' and this object"), not Deny,
// so RBAC may still grant a node more. Lookups go through the api-server's
// caches: pods through the IndexPodsByNode index, never a scan of all
// pods; a decision is as fresh as those caches.
//
// The Admission plugin (a Validator) guarantees a node's writes stay on
// its own objects: its own Node (and no node-restriction.kubernetes.io
// labels), its own lease and CSINode, only mirror pods bound to and owned
// by itself that reference no secret, config map, claim or service
// account, status, deletion and eviction only of pods bound to itself,
// only the status of claims, and service account tokens only when bound
// to a pod running on itself. It does not restrict taints, events, or the
// fields a node writes in its own Node and pods' status.
package nodeauth

// Package kubelet is the node agent: it registers its Node, renews the node's
// Lease, and turns the pods bound to the node into sandboxes and containers
// of a runtime.Runtime (containerd over CRI, or the in-memory fake of hollow
// nodes), reporting their status back through the api-server.
//
// Shape: pods come from an informer restricted to spec.nodeName; every
// change to a pod, every container state change noticed by the relister
// (the kubelet's PLEG) and every probe result change enqueues the pod's UID.
// A worker syncs one UID at a time (the workqueue never hands the same key
// to two workers): it compares the pod's spec with what the runtime holds
// under that UID and takes the next steps (sandbox, init containers in
// order, containers, restarts with CrashLoopBackOff, kills), then writes
// the computed status if it differs from the API's. A UID with no pod in
// the cache, or a pod being deleted, is torn down, and a deleted pod's API
// object is removed only after its containers are gone. Everything is
// level-triggered: restarting the kubelet re-derives all decisions from the
// API and the runtime, so running containers are adopted, not duplicated.
//
// Pod networking, the kubelet's part: a sandbox joins the node's network
// namespace for hostNetwork pods (whose IP is then the node's) and the
// runtime's CNI network otherwise. The pod's resolv.conf follows dnsPolicy
// and spec.dnsConfig over the node's resolver configuration, as upstream;
// /etc/hosts is kubelet-written (the pod's IPs with its hostname and
// FQDN, or the node's hosts file for hostNetwork pods, plus hostAliases);
// containers get the Service variables of their namespace (unless
// enableServiceLinks is false) and always those of default/kubernetes,
// from a Service informer the kubelet waits for before starting pods.
//
// Not provided here: the HTTPS API (kubeletserver), volumes (volume),
// container environment (envvar); routes between nodes (podnetwork).
package kubelet

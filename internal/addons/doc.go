// Package addons installs the cluster's own workloads, which run from the
// k1s image (image.SelfImageRef) like any other pod: the cluster DNS
// (`k1s dns`, a Deployment behind the kube-dns Service at the tenth
// address of the service range) and the Ingress controller (`k1s
// ingress`, a hostNetwork DaemonSet answering on every node's ports 80 and
// 443, with the default IngressClass k1s) and the default StorageClass
// local-path (volumes are directories on the node of their first
// consumer, provisioned by that node's agent).
//
// Install applies them with server-side apply under the field manager
// "k1s-addons", forcing conflicts: running it again (every server start)
// converges them on this build's image and settings and leaves fields
// other managers own alone.
package addons

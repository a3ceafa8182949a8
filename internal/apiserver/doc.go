// Package apiserver is the cluster's front door: the Kubernetes REST API
// over HTTPS, generic over the resources declared in internal/registry and
// backed by internal/storage (etcd through a watch cache).
//
// It serves discovery (legacy and aggregated), OpenAPI (internal/openapi),
// get/list/watch/create/update/patch/delete/deletecollection with the
// upstream semantics clients rely on (resourceVersion, optimistic
// concurrency, generateName, finalizers, graceful pod deletion, namespace
// lifecycle, dryRun, field validation), the status/scale/binding/eviction
// subresources and server-side Table printing for kubectl. pods/log,
// exec, attach and portforward are proxied to the kubelet of the pod's
// node (kubeletproxy.go): log output is streamed as it comes, upgraded
// connections (SPDY or WebSocket) are piped byte for byte, so a runtime's
// refusal of WebSocket reaches the client, which falls back to SPDY.
//
// Every refusal is a metav1.Status with the right code, reason and causes.
//
// Every request is authenticated (auth.go: client certificates, service
// account tokens, the node join token), then authorized (authorize.go:
// system:masters may do anything; then the Node authorizer and RBAC,
// internal/nodeauth and internal/rbac, read from informers over the
// api-server's own watch caches, localinformers.go) and refused with 403
// and upstream's message when nobody allows it. Writes then pass the
// admission chain (admit.go, setup.go): LimitRanger, NodeRestriction,
// Pod Security, RBAC escalation checks and ResourceQuota, besides the
// namespace lifecycle, ServiceAccount and DefaultStorageClass steps of the
// create path. The default RBAC policy is written at every start
// (bootstraprbac.go). Joining agents exchange the join token for their own
// client certificates at /v1-k1s/client-cert (nodecert.go).
package apiserver

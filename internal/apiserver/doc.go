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
// It does not (yet) enforce authorization: authenticated users may do anything.
package apiserver

// Package ingress is k1s's Ingress controller: an HTTP and an HTTPS
// reverse proxy that route to pods directly, configured from the
// networking.k8s.io/v1 Ingresses of one IngressClass (default "k1s",
// controller "k1s.io/ingress"). It runs on every node (hostNetwork) and
// is an ordinary client of the api-server.
//
// An Ingress is served when its spec.ingressClassName (or legacy
// kubernetes.io/ingress.class annotation) names the class, or when it has
// no class and the IngressClass of that name is marked default. The
// controller only reads IngressClasses; it creates none.
//
// The decision core is buildTable (routes.go): from Ingresses, Services,
// EndpointSlices and TLS Secrets it makes an immutable routing snapshot,
// and table.lookup picks a route for a host and path. The shell
// (controller.go) rebuilds the snapshot from informer caches through a
// workqueue and swaps it in atomically; listeners are never restarted,
// and a request in flight keeps the snapshot it started with.
//
// Guarantees:
//   - Hosts match exactly, or a wildcard "*.example.com" matches exactly
//     one more label. Rules of the exact host are tried first, then the
//     wildcard's, then rules without a host, then the oldest Ingress's
//     spec.defaultBackend. Within a host the longest path wins, Exact
//     before Prefix at equal length; Prefix matches whole path elements;
//     ImplementationSpecific is Prefix. On a conflict the oldest Ingress
//     wins.
//   - Requests go to the READY endpoints (EndpointSlice conditions) of
//     the backend service port, dialing the pod address and the slice port
//     named like the service port. The endpoint with the fewest
//     outstanding requests is chosen, ties at random. A failed dial ejects
//     the endpoint for 5s and the request is retried on another one (up to
//     3 attempts); other failures are retried only for idempotent methods
//     whose body was not read yet.
//   - No matching rule answers 404, a backend without a ready endpoint
//     503, and a backend that could not be reached 502, each with a one
//     line text body.
//   - HTTPS picks the certificate by SNI from the Ingresses' spec.tls
//     secrets (exact host, then wildcard), else a self-signed certificate
//     made at start. Only HTTP/1.1 is offered.
//   - Upgrades (WebSocket) pass through; answers are flushed after each
//     write. X-Forwarded-For/-Proto/-Host/-Port are set; Host is kept.
//   - Each request is logged (slog, message "request") and counted in
//     k1s_ingress_requests_total and k1s_ingress_request_duration_seconds
//     by namespace, ingress and service, served with /healthz on the
//     health address.
//   - Each served Ingress gets status.loadBalancer.ingress set to
//     Options.PublishAddresses, or else to this node's ExternalIP and
//     InternalIP addresses plus the entries already there that are
//     addresses of other Ready nodes, sorted: the controllers of a
//     DaemonSet converge on one list instead of overwriting each other.
//     It is written only when it differs.
//
// It needs to get, list and watch ingresses, ingressclasses, services,
// endpointslices, secrets and nodes, and to update ingresses/status.
//
// It does not do HTTP/2, TLS passthrough, annotations (rewrites, auth,
// rate limits), session affinity, resource backends or ExternalName
// services, and leaves the status of an Ingress that stops being ours as
// it was.
package ingress

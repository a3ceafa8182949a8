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
// The data path (proxy.go, forward.go) is HTTP/1.x written for a proxy:
// one goroutine per client connection reads a request (net/http's
// parser), forwards it on a pooled keep-alive connection to the chosen
// endpoint and relays the answer, without handing the request to other
// goroutines; only an upgraded connection gets a second one. That costs
// half the CPU per request of net/http's server and client. Its TCP
// sockets are read and written with raw system calls through the poller
// (sysconn.go), which keeps the runtime's monitor thread asleep.
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
//     A pooled connection the endpoint had closed is replaced by a new
//     one without the client noticing: idempotent requests are resent,
//     others are only sent on a pooled connection checked open first.
//   - Idle connections to an endpoint: at most 128, for at most 60s,
//     closed when the endpoint leaves the snapshot.
//   - No matching rule answers 404, a backend without a ready endpoint
//     503, and a backend that could not be reached 502, each with a one
//     line text body.
//   - Requests framed ambiguously (Content-Length with Transfer-Encoding,
//     chunked HTTP/1.0, bad lengths or codings) or without a single Host
//     are refused with 400 and the connection closed; a header block
//     over 16 KiB with 431. CONNECT answers 405, an Expect other than
//     100-continue 417; 100 Continue is answered by the proxy itself.
//   - HTTPS picks the certificate by SNI from the Ingresses' spec.tls
//     secrets (exact host, then wildcard), else a self-signed certificate
//     made at start. Only HTTP/1.1 is offered.
//   - Upgrades (WebSocket) pass through. Bodies stream both ways: what
//     has arrived is sent on before the proxy waits for more. A request
//     body is sent in full before the answer is read (no full duplex),
//     unless the endpoint stops taking it: then the answer it sent early
//     (a 413, say) is relayed and the client connection closed.
//   - A connection to an endpoint serves again only at a message
//     boundary: bytes after an answer (a body on a HEAD, 204 or 304
//     answer, more than its Content-Length) close it.
//     X-Forwarded-For/-Proto/-Host/-Port are set (client values
//     replaced, Forwarded dropped); Host is kept; hop-by-hop fields,
//     and those the Connection field lists, are dropped.
//   - On shutdown, listeners close, idle connections close, requests in
//     flight get up to 10s to finish (answered with Connection: close),
//     then upgraded and remaining connections close, with the endpoint
//     connections they use.
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
// it was. A client that goes away while its request waits is noticed
// once the answer has taken 500ms (the endpoint connection is then
// closed; logged and counted as status 499), or when the answer is
// written.
package ingress

// Package dns is the cluster DNS server: it answers the names of the
// Kubernetes DNS specification (schema 1.1.0) for one cluster domain and
// forwards every other name to upstream resolvers.
//
// Guarantees:
//   - Cluster names are answered only from client-go informer caches of
//     Services and EndpointSlices; a query never calls the api-server.
//     Until the caches have synced, cluster names get SERVFAIL (never a
//     cacheable NXDOMAIN) and /readyz reports not ready.
//   - <svc>.<ns>.svc.<domain> answers A/AAAA with the cluster IPs, or for a
//     headless Service the ready endpoint addresses (all of them with
//     publishNotReadyAddresses or the tolerate-unready-endpoints
//     annotation); ExternalName Services answer a CNAME, followed to its
//     target's records. <host>.<svc>.<ns>.svc.<domain> names one
//     endpoint, by its hostname or else its dashed IP. Named ports
//     answer SRV, PTR answers cluster IPs and headless endpoint IPs, and
//     <a-b-c-d>.<ns>.pod.<domain> answers the IP it encodes (CoreDNS's
//     "pods insecure").
//   - An unknown name in the domain is NXDOMAIN with the zone's SOA in the
//     authority section; a known name without records of the asked type is
//     NOERROR with no answer and the SOA (NODATA). Cluster answers carry
//     Options.TTL and are authoritative.
//   - Other names, and reverse names that are no cluster IP, go to the
//     upstreams over UDP, retried over TCP when truncated. Answers are cached
//     in a bounded LRU for their TTL; negative answers for at most 30 s.
//     Concurrent identical misses share one upstream exchange; beyond 1000
//     exchanges in flight, questions get SERVFAIL at once.
//
// It does not do DNSSEC, zone transfers, stub domains, wildcard queries or
// the (deprecated) Endpoints API, and it does not verify that a pod with a
// queried pod IP exists.
package dns

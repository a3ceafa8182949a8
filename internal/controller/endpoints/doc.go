// Package endpoints is the endpoints controller: it keeps the core/v1
// Endpoints object of every Service with a selector equal to what the
// selected pods offer.
//
// Guarantees:
//   - A pod is an address of the service if it has an IP of the service's
//     first IP family, is not terminal, and (unless the service sets
//     publishNotReadyAddresses) is not terminating. Pods whose Ready
//     condition is True are in addresses, the others in notReadyAddresses;
//     publishNotReadyAddresses puts every such pod in addresses.
//   - Named target ports are resolved per pod through its container ports
//     (name and protocol); a pod that lacks the name is left out of that
//     port only. Pods are grouped into subsets by the ports they serve, in
//     a deterministic order, so an unchanged set of pods writes nothing.
//   - Addresses carry nodeName, the pod as targetRef, and the pod's
//     hostname when its subdomain is the service (headless services for
//     StatefulSets). A headless service without ports still lists its pods.
//   - A readiness change of a pod is written as soon as the workqueue hands
//     the service to a worker: there is no batching delay.
//   - More than 1000 addresses are truncated (ready ones kept first) and
//     the object is annotated endpoints.kubernetes.io/over-capacity=truncated.
//   - The Endpoints object of a deleted service is deleted. Services
//     without a selector (default/kubernetes, hand-made endpoints) are left
//     alone.
//   - Failed writes are retried with per-service backoff and reported as
//     Warning events on the service.
//
// It does not mirror EndpointSlices, set topology, or record the
// last-change-trigger-time annotation.
package endpoints

// Package endpointslice is the EndpointSlice controller: it keeps the
// discovery.k8s.io/v1 EndpointSlices of every Service with a selector
// equal to what the selected pods offer.
//
// Slices are labelled kubernetes.io/service-name=<service> and
// endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io,
// carry the service's own labels (and service.kubernetes.io/headless for
// headless services), and are owned by the service (controller and
// blockOwnerDeletion), so the garbage collector removes them with it.
//
// Guarantees:
//   - One set of slices per address type the service serves (its
//     ipFamilies); each slice holds endpoints whose named target ports
//     resolved alike, at most MaxEndpointsPerSlice (default 100) of them.
//   - An endpoint is a pod that has an IP of the address type and is not
//     terminal. Conditions: serving is the pod's Ready condition,
//     terminating is its deletionTimestamp, ready is serving and not
//     terminating, or always with publishNotReadyAddresses. It names the
//     pod (targetRef), its node, and its hostname when the pod's
//     subdomain is the service.
//   - Changes move few endpoints: an endpoint stays in its slice, new ones
//     fill slices that are written anyway, then slices with room, then new
//     slices. An address type without endpoints keeps one empty slice.
//     An unchanged service writes nothing.
//   - A pod's readiness change is written as soon as a worker takes the
//     service from the queue: there is no batching delay.
//   - A sync never acts on a cache that misses one of the controller's
//     own writes (it waits and retries), so slices are not duplicated.
//   - A service being deleted gets no new slices; a deleted service's
//     slices are deleted. Services without a selector and ExternalName
//     services are left alone. Failed writes are retried with backoff and
//     reported as FailedToUpdateEndpointSlices Warning events.
//
// It does not set zones or topology hints, does not mirror hand-made
// Endpoints, and does not record last-change-trigger-time.
package endpointslice

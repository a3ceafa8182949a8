// Package servicepods answers the questions the endpoints and
// endpointslice controllers share about a Service and its pods: which
// services select a pod, whether a pod is an endpoint at all, which of its
// IPs serves an address family, and which port a service port reaches on
// a given pod (named target ports resolve per pod).
//
// Everything here is a pure function of its arguments (plus a lister
// read in ServicesForPod); nothing writes to the api-server.
package servicepods

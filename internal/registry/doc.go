// Package registry declares every resource the api-server serves: one
// Resource value each, with its defaulting, validation, status and scale
// subresources, table columns and field selectors. The api-server is
// generic; everything resource-specific lives here.
//
// Defaulting and validation follow the upstream API's documented behaviour
// (written from scratch; k8s.io/kubernetes is not imported).
package registry

// Package openapi serves the OpenAPI documents of k1s' API: the whole API as
// Swagger 2.0 at /openapi/v2 (JSON, or gnostic protobuf when asked) and one
// OpenAPI 3.0 document per group-version under /openapi/v3, the way
// kube-apiserver lays them out. That is what kubectl needs for `apply` (it
// leaves validation to the server, fieldValidation=Strict, only for kinds
// whose PATCH operation declares the fieldValidation parameter, and computes
// strategic merge patches from the schemas), for `explain`, and what
// client-go's discovery.OpenAPISchema parses.
//
// Schemas are derived by reflection from the Go types in k8s.io/api:
// properties from json tags (inline embedding, omitempty for "required"),
// descriptions from the types' SwaggerDoc methods, patch strategy and merge
// key from struct tags, list and map types from what client-go's
// structured-merge-diff schema declares (kept in a table that a test checks),
// and hand-written schemas for the few special types (Quantity, IntOrString,
// Time, RawExtension, ...). Definition names are the upstream ones
// (io.k8s.api.apps.v1.Deployment).
//
// What it does not do: enum values, defaults, validation limits (pattern,
// maxLength) and the +optional markers that are not reflected in json tags
// are absent, so the documents are less detailed than upstream's. Every
// Resource is described with the full set of verbs.
//
// Documents are built once, on first use (or by an explicit Build; the v2
// document and the protobuf forms on their first request), and served from
// cached bytes with ETags; v3 group-version URLs carry a content hash and
// are served as immutable, as kube-apiserver does.
package openapi

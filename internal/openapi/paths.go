package openapi

import (
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/k1s/k1s/internal/registry"
)

// Definition names the operations refer to besides the resources' own.
const (
	deleteOptionsDef   = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"
	statusDef          = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
	patchDef           = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
	apiResourceListDef = "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList"
)

// patchMediaTypes are the media types a PATCH accepts. kubectl apply looks
// for strategic-merge-patch+json before it computes a strategic merge patch.
func patchMediaTypes() []string {
	return []string{
		"application/json-patch+json",
		"application/merge-patch+json",
		"application/strategic-merge-patch+json",
		"application/apply-patch+yaml",
	}
}

// param is one path or query parameter.
type param struct {
	name, in, description string
	typ                   string // string, integer or boolean
	required              bool
}

// operation is one HTTP method on one path, in a form neutral to the
// OpenAPI version it is rendered in.
type operation struct {
	method      string // get, put, post, patch, delete
	id          string
	description string
	action      string // x-kubernetes-action
	gvk         *schema.GroupVersionKind
	params      []param
	body        string // definition name of the request body; "" for none
	patch       bool   // the body is a patch: consumes patchMediaTypes
	responses   []response
	watch       bool // a list that can also stream watch events
}

type response struct {
	code, description, def string
}

type path struct {
	path   string
	params []param
	ops    []operation
}

// writeQuery are the query parameters of create and update. kubectl
// validates objects itself, from the v2 schemas, unless the PATCH of their
// kind declares fieldValidation.
func writeQuery() []string { return []string{"dryRun", "fieldManager", "fieldValidation"} }

func patchQuery() []string { return append(writeQuery(), "force") }

func deleteQuery() []string {
	return []string{"dryRun", "gracePeriodSeconds", "orphanDependents", "propagationPolicy"}
}

func listQuery() []string {
	return []string{"allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit",
		"resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch"}
}

func deleteCollectionQuery() []string {
	return []string{"continue", "dryRun", "fieldSelector", "gracePeriodSeconds", "labelSelector",
		"limit", "orphanDependents", "propagationPolicy", "resourceVersion", "resourceVersionMatch",
		"sendInitialEvents", "timeoutSeconds"}
}

// query returns the named query parameters.
func query(names ...string) []param {
	out := make([]param, len(names))
	for i, name := range names {
		typ, description := queryParam(name)
		out[i] = param{name: name, in: "query", typ: typ, description: description}
	}
	return out
}

// queryParam returns the type and description of a query parameter.
// Descriptions are kept to a line: they repeat in every operation and make
// up most of the documents' size.
func queryParam(name string) (typ, description string) {
	switch name {
	case "pretty":
		return "string", "If 'true', then the output is pretty printed."
	case "dryRun":
		return "string", "When present (All), modifications are not persisted."
	case "fieldManager":
		return "string", "Name of the actor or entity making these changes."
	case "fieldValidation":
		return "string", "How the server handles unknown or duplicate fields in the object: Ignore, Warn or Strict (reject)."
	case "force":
		return "boolean", "Force an apply patch: re-acquire fields owned by other managers."
	case "gracePeriodSeconds":
		return "integer", "The duration in seconds before the object should be deleted; zero means immediately."
	case "orphanDependents":
		return "boolean", "Deprecated: use propagationPolicy. Whether dependents should be orphaned."
	case "propagationPolicy":
		return "string", "Whether and how garbage collection is performed: Orphan, Background or Foreground."
	case "allowWatchBookmarks":
		return "boolean", "Request watch events of type BOOKMARK."
	case "continue":
		return "string", "The continue token of the previous list response, to retrieve more results."
	case "fieldSelector":
		return "string", "A selector to restrict the returned objects by their fields. Defaults to everything."
	case "labelSelector":
		return "string", "A selector to restrict the returned objects by their labels. Defaults to everything."
	case "limit":
		return "integer", "The maximum number of objects to return; more are fetched with the continue token."
	case "resourceVersion":
		return "string", "A constraint on what resource versions the request may be served from. Defaults to unset."
	case "resourceVersionMatch":
		return "string", "How resourceVersion applies to list calls: Exact or NotOlderThan. Defaults to unset."
	case "sendInitialEvents":
		return "boolean", "With watch=true, begin the stream with ADDED events for all objects, then a BOOKMARK."
	case "timeoutSeconds":
		return "integer", "Timeout for the list/watch call."
	case "watch":
		return "boolean", "Watch for changes and return them as a stream of add, update, and remove notifications."
	}
	panic("openapi: undescribed query parameter " + name) // programming error: a typo in the sets above
}

// groupPrefix is the URL prefix of a group-version: /api/v1 or
// /apis/GROUP/VERSION.
func groupPrefix(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "/api/" + gv.Version
	}
	return "/apis/" + gv.Group + "/" + gv.Version
}

// operationPrefix is the group-version part of upstream's operation ids:
// CoreV1, AppsV1, NetworkingV1, RbacAuthorizationV1.
func operationPrefix(gv schema.GroupVersion) string {
	group := strings.TrimSuffix(gv.Group, ".k8s.io")
	if group == "" {
		group = "core"
	}
	var b strings.Builder
	for _, part := range strings.Split(group, ".") {
		b.WriteString(title(part))
	}
	b.WriteString(title(gv.Version))
	return b.String()
}

func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// discoveryPath is the group-version's own path, which lists its resources.
func discoveryPath(gv schema.GroupVersion) path {
	return path{path: groupPrefix(gv) + "/", ops: []operation{{
		method: "get", id: "get" + operationPrefix(gv) + "APIResources",
		description: "get available resources",
		responses:   []response{{"200", "OK", apiResourceListDef}},
	}}}
}

// resourcePaths returns the paths of r, and of its subresources, the way
// kube-apiserver describes them.
func resourcePaths(r *registry.Resource, kindDef, listDef, scaleDef string) []path {
	gv := r.GroupVersion()
	gvk := r.GroupVersionKind()
	kind := r.Kind
	scope := ""
	base := groupPrefix(gv)
	scopeParams := []param{}
	if r.Namespaced {
		scope = "Namespaced"
		base += "/namespaces/{namespace}"
		scopeParams = append(scopeParams, param{name: "namespace", in: "path", typ: "string", required: true,
			description: "object name and auth scope, such as for teams and projects"})
	}
	collection := base + "/" + r.Plural
	item := collection + "/{name}"
	nameParam := param{name: "name", in: "path", typ: "string", required: true, description: "name of the " + kind}
	id := func(verb, suffix string) string {
		return verb + operationPrefix(gv) + scope + kind + suffix
	}
	idCollection := func(verb string) string { return verb + operationPrefix(gv) + "Collection" + scope + kind }

	paths := []path{
		{
			path:   collection,
			params: append(append([]param{}, scopeParams...), query("pretty")...),
			ops: []operation{
				{method: "get", id: id("list", ""), description: "list or watch objects of kind " + kind,
					action: "list", gvk: &gvk, params: query(listQuery()...), watch: true,
					responses: []response{{"200", "OK", listDef}}},
				{method: "post", id: id("create", ""), description: "create a " + kind,
					action: "post", gvk: &gvk, params: query(writeQuery()...), body: kindDef,
					responses: []response{{"200", "OK", kindDef}, {"201", "Created", kindDef}, {"202", "Accepted", kindDef}}},
				{method: "delete", id: idCollection("delete"), description: "delete collection of " + kind,
					action: "deletecollection", gvk: &gvk, body: deleteOptionsDef,
					params:    query(deleteCollectionQuery()...),
					responses: []response{{"200", "OK", statusDef}}},
			},
		},
		{
			path:   item,
			params: append(append([]param{nameParam}, scopeParams...), query("pretty")...),
			ops: []operation{
				{method: "get", id: id("read", ""), description: "read the specified " + kind,
					action: "get", gvk: &gvk, responses: []response{{"200", "OK", kindDef}}},
				{method: "put", id: id("replace", ""), description: "replace the specified " + kind,
					action: "put", gvk: &gvk, params: query(writeQuery()...), body: kindDef,
					responses: []response{{"200", "OK", kindDef}, {"201", "Created", kindDef}}},
				{method: "patch", id: id("patch", ""), description: "partially update the specified " + kind,
					action: "patch", gvk: &gvk, params: query(patchQuery()...),
					body: patchDef, patch: true,
					responses: []response{{"200", "OK", kindDef}, {"201", "Created", kindDef}}},
				{method: "delete", id: id("delete", ""), description: "delete a " + kind,
					action: "delete", gvk: &gvk, body: deleteOptionsDef,
					params:    query(deleteQuery()...),
					responses: []response{{"200", "OK", statusDef}, {"202", "Accepted", statusDef}}},
			},
		},
	}
	if r.Namespaced {
		paths = append(paths, path{
			path:   groupPrefix(gv) + "/" + r.Plural,
			params: query(append(listQuery(), "pretty")...),
			ops: []operation{{method: "get", id: "list" + operationPrefix(gv) + kind + "ForAllNamespaces",
				description: "list or watch objects of kind " + kind, action: "list", gvk: &gvk, watch: true,
				responses: []response{{"200", "OK", listDef}}}},
		})
	}
	// A subresource: get, put and patch of a body of kind gvk.
	subresource := func(name, suffix string, gvk schema.GroupVersionKind, def string) path {
		return path{
			path:   item + "/" + name,
			params: append(append([]param{nameParam}, scopeParams...), query("pretty")...),
			ops: []operation{
				{method: "get", id: id("read", suffix), description: "read " + name + " of the specified " + kind,
					action: "get", gvk: &gvk, responses: []response{{"200", "OK", def}}},
				{method: "put", id: id("replace", suffix), description: "replace " + name + " of the specified " + kind,
					action: "put", gvk: &gvk, params: query(writeQuery()...), body: def,
					responses: []response{{"200", "OK", def}, {"201", "Created", def}}},
				{method: "patch", id: id("patch", suffix), description: "partially update " + name + " of the specified " + kind,
					action: "patch", gvk: &gvk, params: query(patchQuery()...), body: patchDef, patch: true,
					responses: []response{{"200", "OK", def}, {"201", "Created", def}}},
			},
		}
	}
	if r.Status != nil {
		paths = append(paths, subresource("status", "Status", gvk, kindDef))
	}
	if r.Scale != nil {
		scaleGVK := schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}
		paths = append(paths, subresource("scale", "Scale", scaleGVK, scaleDef))
	}
	return paths
}

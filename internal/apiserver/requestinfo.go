package apiserver

import (
	"net/http"
	"strings"
)

// requestInfo is what a resource request's path and method mean.
type requestInfo struct {
	Verb        string // get list watch create update patch delete deletecollection
	Group       string
	Version     string
	Namespace   string
	Resource    string
	Subresource string
	Name        string
	// Manager is the field manager of a write (see managerName).
	Manager string
	// apply marks server-side apply, which sets managedFields itself.
	apply bool
}

// parseResourcePath parses /api/v1/... and /apis/g/v/... resource paths.
// It returns ok=false for paths that are not resource requests (discovery
// of groups and versions is handled before).
func parseResourcePath(r *http.Request) (requestInfo, bool) {
	p := strings.Trim(r.URL.Path, "/")
	parts := strings.Split(p, "/")
	var info requestInfo
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		info.Version = parts[1]
		parts = parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		info.Group, info.Version = parts[1], parts[2]
		parts = parts[3:]
	default:
		return info, false
	}
	// namespaces/{ns}/{resource}... but "namespaces", "namespaces/{name}"
	// and "namespaces/{name}/{status,finalize}" are the namespace resource.
	if parts[0] == "namespaces" && len(parts) >= 3 && parts[2] != "status" && parts[2] != "finalize" {
		info.Namespace = parts[1]
		parts = parts[2:]
	}
	for _, s := range parts {
		if s == "" {
			return info, false
		}
	}
	info.Resource = parts[0]
	if len(parts) > 1 {
		info.Name = parts[1]
	}
	if len(parts) > 2 {
		info.Subresource = parts[2]
	}
	if len(parts) > 3 {
		return info, false
	}
	q := r.URL.Query()
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		watch := q.Get("watch") == "true" || q.Get("watch") == "1"
		switch {
		case info.Name != "" && (!watch || info.Subresource != ""):
			info.Verb = "get"
		case watch:
			info.Verb = "watch"
		default:
			info.Verb = "list"
		}
	case http.MethodPost:
		info.Verb = "create"
	case http.MethodPut:
		info.Verb = "update"
	case http.MethodPatch:
		info.Verb = "patch"
	case http.MethodDelete:
		if info.Name == "" {
			info.Verb = "deletecollection"
		} else {
			info.Verb = "delete"
		}
	default:
		info.Verb = strings.ToLower(r.Method)
	}
	return info, true
}

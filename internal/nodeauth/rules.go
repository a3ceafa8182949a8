package nodeauth

import (
	"slices"

	"github.com/k1s/k1s/internal/authz"
)

// rule grants verbs on resources ("pods" or "pods/status") of one API
// group, as an RBAC PolicyRule without wildcards.
type rule struct {
	group     string
	resources []string
	verbs     []string
}

func (r rule) allows(a authz.Attributes) bool {
	res := a.Resource
	if a.Subresource != "" {
		res += "/" + a.Subresource
	}
	return r.group == a.APIGroup && slices.Contains(r.resources, res) && slices.Contains(r.verbs, a.Verb)
}

var read = []string{"get", "list", "watch"}

// kubeletRules is what every node may do regardless of which pods it
// runs: upstream's system:node rules, less what the authorizer decides
// per object (secrets, config maps, claims, volumes, service account
// tokens, node leases) and plus what a k1s node's kube-proxy reads.
// The NodeRestriction admission plugin narrows the writes to the node's
// own objects.
func kubeletRules() []rule {
	return []rule{
		// Nodes register and report on themselves.
		{"", []string{"nodes"}, []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
		{"", []string{"nodes/status"}, []string{"update", "patch"}},
		// Pods: watch those bound here, create/delete mirror pods, report
		// status, evict.
		{"", []string{"pods"}, []string{"get", "list", "watch", "create", "delete"}},
		{"", []string{"pods/status"}, []string{"update", "patch"}},
		{"", []string{"pods/eviction"}, []string{"create"}},
		{"", []string{"events"}, []string{"create", "update", "patch"}},
		{"events.k8s.io", []string{"events"}, []string{"create", "update", "patch"}},
		// Service environment variables and the node's proxy.
		{"", []string{"services", "endpoints"}, read},
		{"discovery.k8s.io", []string{"endpointslices"}, read},
		{"storage.k8s.io", []string{"storageclasses", "csinodes", "csidrivers", "volumeattachments"}, read},
		{"node.k8s.io", []string{"runtimeclasses"}, read},
		// API access checks (webhook authentication/authorization of the
		// kubelet's own server) and certificate rotation.
		{"authentication.k8s.io", []string{"tokenreviews"}, []string{"create"}},
		{"authorization.k8s.io", []string{"subjectaccessreviews"}, []string{"create"}},
		{"certificates.k8s.io", []string{"certificatesigningrequests"}, []string{"create", "get", "list", "watch"}},
	}
}

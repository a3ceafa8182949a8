package rbac

import (
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Labels and annotation of the default policy, as upstream's.
const (
	// BootstrapLabel marks every default object (value "rbac-defaults").
	BootstrapLabel = "kubernetes.io/bootstrapping"
	// AutoUpdateAnnotation "true" lets the api-server put a default
	// object back to its default rules at start-up.
	AutoUpdateAnnotation = rbacv1.AutoUpdateAnnotationKey

	AggregateToAdminLabel = "rbac.authorization.k8s.io/aggregate-to-admin"
	AggregateToEditLabel  = "rbac.authorization.k8s.io/aggregate-to-edit"
	AggregateToViewLabel  = "rbac.authorization.k8s.io/aggregate-to-view"
)

// API groups named by the default rules.
const (
	coreGroup           = ""
	appsGroup           = "apps"
	authenticationGroup = "authentication.k8s.io"
	authorizationGroup  = "authorization.k8s.io"
	autoscalingGroup    = "autoscaling"
	batchGroup          = "batch"
	certificatesGroup   = "certificates.k8s.io"
	coordinationGroup   = "coordination.k8s.io"
	discoveryGroup      = "discovery.k8s.io"
	eventsGroup         = "events.k8s.io"
	extensionsGroup     = "extensions"
	networkingGroup     = "networking.k8s.io"
	nodeGroup           = "node.k8s.io"
	policyGroup         = "policy"
	rbacGroup           = rbacv1.GroupName
	storageGroup        = "storage.k8s.io"
)

// Verb sets are functions so that no two rules share a slice.
func read() []string      { return []string{"get", "list", "watch"} }
func write() []string     { return []string{"create", "update", "patch", "delete", "deletecollection"} }
func readWrite() []string { return append(read(), write()...) }
func v(verbs ...string) []string {
	return verbs
}
func g(groups ...string) []string { return groups }

// rule grants verbs on resources of groups.
func rule(verbs, groups []string, resources ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, APIGroups: groups, Resources: resources}
}

// named restricts r to the given object names.
func named(r rbacv1.PolicyRule, names ...string) rbacv1.PolicyRule {
	r.ResourceNames = names
	return r
}

// urls grants verbs on non-resource URLs.
func urls(verbs []string, paths ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, NonResourceURLs: paths}
}

// eventsRule lets a component record Events in either API.
func eventsRule() rbacv1.PolicyRule {
	return rule(v("create", "update", "patch"), g(coreGroup, eventsGroup), "events")
}

func defaultMeta(name, namespace string, labels map[string]string) metav1.ObjectMeta {
	l := map[string]string{BootstrapLabel: "rbac-defaults"}
	for k, val := range labels {
		l[k] = val
	}
	return metav1.ObjectMeta{
		Name: name, Namespace: namespace, Labels: l,
		Annotations: map[string]string{AutoUpdateAnnotation: "true"},
	}
}

func clusterRole(name string, labels map[string]string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{ObjectMeta: defaultMeta(name, "", labels), Rules: rules}
}

// aggregated is a ClusterRole whose rules the aggregation controller
// fills from the roles labelled selectLabel=true.
func aggregated(name string, labels map[string]string, selectLabel string) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{
		ObjectMeta: defaultMeta(name, "", labels),
		AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{
			{MatchLabels: map[string]string{selectLabel: "true"}},
		}},
	}
}

// DefaultClusterRoles returns the default ClusterRoles: upstream's
// user-facing and system roles, and those of k1s's add-ons.
func DefaultClusterRoles() []*rbacv1.ClusterRole {
	return []*rbacv1.ClusterRole{
		clusterRole("cluster-admin", nil,
			rule(v("*"), g("*"), "*"),
			urls(v("*"), "*"),
		),

		// User-facing roles, filled by aggregation: admin ⊇ edit ⊇ view.
		aggregated("admin", nil, AggregateToAdminLabel),
		aggregated("edit", map[string]string{AggregateToAdminLabel: "true"}, AggregateToEditLabel),
		aggregated("view", map[string]string{AggregateToEditLabel: "true"}, AggregateToViewLabel),
		clusterRole("system:aggregate-to-admin", map[string]string{AggregateToAdminLabel: "true"},
			rule(v("create"), g(authorizationGroup), "localsubjectaccessreviews"),
			rule(readWrite(), g(rbacGroup), "rolebindings", "roles"),
		),
		clusterRole("system:aggregate-to-edit", map[string]string{AggregateToEditLabel: "true"}, aggregateToEditRules()...),
		clusterRole("system:aggregate-to-view", map[string]string{AggregateToViewLabel: "true"}, aggregateToViewRules()...),

		// Everyone.
		clusterRole("system:basic-user", nil,
			rule(v("create"), g(authorizationGroup), "selfsubjectaccessreviews", "selfsubjectrulesreviews"),
			rule(v("create"), g(authenticationGroup), "selfsubjectreviews"),
		),
		clusterRole("system:discovery", nil,
			urls(v("get"), "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez",
				"/openapi", "/openapi/*", "/readyz", "/version", "/version/"),
		),
		clusterRole("system:public-info-viewer", nil,
			urls(v("get"), "/healthz", "/livez", "/readyz", "/version", "/version/"),
		),
		clusterRole("system:service-account-issuer-discovery", nil,
			urls(v("get"), "/.well-known/openid-configuration", "/.well-known/openid-configuration/",
				"/openid/v1/jwks", "/openid/v1/jwks/"),
		),
		clusterRole("system:monitoring", nil,
			urls(v("get"), "/healthz", "/healthz/*", "/livez", "/livez/*", "/metrics", "/metrics/slis", "/readyz", "/readyz/*", "/statusz"),
			rule(v("get"), g(coreGroup), "nodes/metrics"),
		),
		clusterRole("system:auth-delegator", nil,
			rule(v("create"), g(authenticationGroup), "tokenreviews"),
			rule(v("create"), g(authorizationGroup), "subjectaccessreviews"),
		),

		// Control-plane components.
		clusterRole("system:kube-controller-manager", nil, controllerManagerRules()...),
		clusterRole("system:kube-scheduler", nil, schedulerRules()...),
		clusterRole("system:volume-scheduler", nil,
			rule(v("get", "list", "watch", "update", "patch"), g(coreGroup), "persistentvolumes"),
			rule(read(), g(storageGroup), "storageclasses"),
			rule(v("get", "list", "watch", "update", "patch"), g(coreGroup), "persistentvolumeclaims"),
		),
		clusterRole("system:node-proxier", nil,
			rule(v("list", "watch"), g(coreGroup), "services", "endpoints"),
			rule(read(), g(coreGroup), "nodes"),
			eventsRule(),
			rule(v("list", "watch"), g(networkingGroup), "servicecidrs"),
			rule(v("list", "watch"), g(discoveryGroup), "endpointslices"),
		),
		// Upstream leaves system:node unbound: the node authorizer and
		// NodeRestriction admission decide what a kubelet may do.
		clusterRole("system:node", nil, nodeRules()...),
		clusterRole("system:kubelet-api-admin", nil,
			rule(read(), g(coreGroup), "nodes"),
			rule(v("proxy"), g(coreGroup), "nodes"),
			rule(v("*"), g(coreGroup), "nodes/proxy", "nodes/stats", "nodes/log", "nodes/metrics"),
			rule(v("*"), g(coreGroup), "nodes/configz", "nodes/healthz", "nodes/pods"),
		),

		// k1s add-ons.
		clusterRole("k1s:ingress", nil,
			rule(read(), g(networkingGroup), "ingresses", "ingressclasses"),
			rule(read(), g(coreGroup), "services", "secrets", "nodes"),
			rule(read(), g(discoveryGroup), "endpointslices"),
			rule(v("update", "patch"), g(networkingGroup), "ingresses/status"),
			eventsRule(),
		),
		clusterRole("k1s:dns", nil,
			rule(read(), g(coreGroup), "services", "namespaces", "pods"),
			rule(read(), g(discoveryGroup), "endpointslices"),
		),
		clusterRole("k1s:local-path-provisioner", nil,
			rule(v("get", "list", "watch", "create", "delete", "update"), g(coreGroup), "persistentvolumes"),
			rule(v("get", "list", "watch", "update", "patch"), g(coreGroup), "persistentvolumeclaims"),
			rule(read(), g(storageGroup), "storageclasses"),
			rule(read(), g(coreGroup), "nodes"),
			eventsRule(),
		),
	}
}

func aggregateToEditRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		// Reading these can escalate (exec into a pod, read a token).
		rule(read(), g(coreGroup), "pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets", "services/proxy"),
		rule(v("impersonate"), g(coreGroup), "serviceaccounts"),

		rule(write(), g(coreGroup), "pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"),
		rule(v("create"), g(coreGroup), "pods/eviction"),
		rule(write(), g(coreGroup), "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
			"services", "services/proxy", "persistentvolumeclaims", "configmaps", "secrets", "events"),
		rule(v("create"), g(coreGroup), "serviceaccounts/token"),

		rule(write(), g(appsGroup), "statefulsets", "statefulsets/scale",
			"daemonsets",
			"deployments", "deployments/scale", "deployments/rollback",
			"replicasets", "replicasets/scale"),
		rule(write(), g(autoscalingGroup), "horizontalpodautoscalers"),
		rule(write(), g(batchGroup), "jobs", "cronjobs"),
		rule(write(), g(extensionsGroup), "daemonsets",
			"deployments", "deployments/scale", "deployments/rollback", "ingresses",
			"replicasets", "replicasets/scale", "replicationcontrollers/scale",
			"networkpolicies"),
		rule(write(), g(policyGroup), "poddisruptionbudgets"),
		rule(write(), g(networkingGroup), "networkpolicies", "ingresses"),
		rule(readWrite(), g(coordinationGroup), "leases"),
	}
}

func aggregateToViewRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		// No secrets: reading them would let a viewer act as any service
		// account of the namespace.
		rule(read(), g(coreGroup), "pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
			"services", "services/status", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "configmaps"),
		rule(read(), g(coreGroup), "limitranges", "resourcequotas", "bindings",
			"pods/status", "resourcequotas/status", "namespaces/status", "replicationcontrollers/status", "pods/log"),
		rule(read(), g(coreGroup, eventsGroup), "events"),
		// A viewer bound in a namespace can read that namespace.
		rule(read(), g(coreGroup), "namespaces"),
		rule(read(), g(discoveryGroup), "endpointslices"),
		rule(read(), g(appsGroup), "controllerrevisions",
			"statefulsets", "statefulsets/status", "statefulsets/scale",
			"daemonsets", "daemonsets/status",
			"deployments", "deployments/status", "deployments/scale",
			"replicasets", "replicasets/status", "replicasets/scale"),
		rule(read(), g(autoscalingGroup), "horizontalpodautoscalers", "horizontalpodautoscalers/status"),
		rule(read(), g(batchGroup), "jobs", "cronjobs", "cronjobs/status", "jobs/status"),
		rule(read(), g(extensionsGroup), "daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status",
			"ingresses", "ingresses/status", "replicasets", "replicasets/scale", "replicasets/status", "replicationcontrollers/scale",
			"networkpolicies"),
		rule(read(), g(policyGroup), "poddisruptionbudgets", "poddisruptionbudgets/status"),
		rule(read(), g(networkingGroup), "ingresses", "ingresses/status", "networkpolicies"),
	}
}

// controllerManagerRules: upstream gives kube-controller-manager little
// and runs each controller under its own service account. k1s runs every
// controller under the one identity system:kube-controller-manager, so
// the role is the union of all controllers' needs: the garbage collector
// and namespace controller delete objects of every kind, custom resources
// included; the ServiceAccount controllers mint tokens; the clusterrole
// aggregation controller writes arbitrary rules into ClusterRoles, which
// takes "escalate". A hand-kept list would be only nominally narrower
// (whoever can read every Secret and create Pods anywhere is already
// cluster-admin in effect) and would break silently when a controller
// grows a need, so the role grants everything, like cluster-admin.
func controllerManagerRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		rule(v("*"), g("*"), "*"),
		urls(v("*"), "*"),
	}
}

func schedulerRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		eventsRule(),
		// Leader election.
		rule(v("create"), g(coordinationGroup), "leases"),
		named(rule(v("get", "list", "watch", "update"), g(coordinationGroup), "leases"), "kube-scheduler"),
		rule(readWrite(), g(coordinationGroup), "leasecandidates"),
		// What it schedules and onto what.
		rule(read(), g(coreGroup), "nodes"),
		rule(v("get", "list", "watch", "delete"), g(coreGroup), "pods"),
		rule(v("create"), g(coreGroup), "pods/binding", "bindings"),
		rule(v("patch", "update"), g(coreGroup), "pods/status"),
		// What spreads pods.
		rule(read(), g(coreGroup), "replicationcontrollers", "services"),
		rule(read(), g(appsGroup, extensionsGroup), "replicasets"),
		rule(read(), g(appsGroup), "statefulsets"),
		rule(read(), g(policyGroup), "poddisruptionbudgets"),
		// Volumes; binding them is system:volume-scheduler's.
		rule(read(), g(coreGroup), "persistentvolumeclaims", "persistentvolumes"),
		// Delegated authentication and authorization of its own endpoints.
		rule(v("create"), g(authenticationGroup), "tokenreviews"),
		rule(v("create"), g(authorizationGroup), "subjectaccessreviews"),
		rule(read(), g(storageGroup), "csinodes"),
		rule(read(), g(storageGroup), "volumeattachments"),
		rule(read(), g(coreGroup), "namespaces"),
		rule(read(), g(storageGroup), "csidrivers"),
		rule(read(), g(storageGroup), "csistoragecapacities"),
		rule(v("update"), g(coreGroup), "pods/finalizers"),
		// Upstream's resource.k8s.io (DRA) rules are left out: k1s does
		// not serve that group.
	}
}

func nodeRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		rule(v("create"), g(authenticationGroup), "tokenreviews"),
		rule(v("create"), g(authorizationGroup), "subjectaccessreviews", "localsubjectaccessreviews"),
		rule(read(), g(coreGroup), "services"),
		rule(v("create", "get", "list", "watch"), g(coreGroup), "nodes"),
		rule(v("update", "patch"), g(coreGroup), "nodes/status"),
		rule(v("update", "patch"), g(coreGroup), "nodes"),
		eventsRule(),
		rule(read(), g(coreGroup), "pods"),
		rule(v("create", "delete"), g(coreGroup), "pods"),
		rule(v("update", "patch"), g(coreGroup), "pods/status"),
		rule(v("create"), g(coreGroup), "pods/eviction"),
		rule(read(), g(coreGroup), "secrets", "configmaps"),
		rule(v("get"), g(coreGroup), "persistentvolumeclaims", "persistentvolumes"),
		rule(v("get"), g(coreGroup), "endpoints"),
		rule(v("create", "get", "list", "watch"), g(certificatesGroup), "certificatesigningrequests"),
		rule(v("get", "create", "update", "patch", "delete"), g(coordinationGroup), "leases"),
		rule(v("get"), g(storageGroup), "volumeattachments"),
		rule(v("create"), g(coreGroup), "serviceaccounts/token"),
		rule(v("get", "update", "patch"), g(coreGroup), "persistentvolumeclaims/status"),
		rule(read(), g(storageGroup), "csidrivers"),
		rule(v("create", "delete", "get", "patch", "update"), g(storageGroup), "csinodes"),
		rule(read(), g(nodeGroup), "runtimeclasses"),
		rule(v("get"), g(coreGroup), "serviceaccounts"),
	}
}

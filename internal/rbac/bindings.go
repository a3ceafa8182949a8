package rbac

import (
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func userSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
}

func groupSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: name}
}

func serviceAccountSubject(namespace, name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: name}
}

// clusterBinding binds the ClusterRole of the same name.
func clusterBinding(role string, subjects ...rbacv1.Subject) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		ObjectMeta: defaultMeta(role, "", nil),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   subjects,
	}
}

// DefaultClusterRoleBindings returns the default ClusterRoleBindings, each
// named as the ClusterRole it binds.
func DefaultClusterRoleBindings() []*rbacv1.ClusterRoleBinding {
	return []*rbacv1.ClusterRoleBinding{
		clusterBinding("cluster-admin", groupSubject("system:masters")),
		clusterBinding("system:basic-user", groupSubject("system:authenticated")),
		clusterBinding("system:discovery", groupSubject("system:authenticated")),
		clusterBinding("system:public-info-viewer", groupSubject("system:authenticated"), groupSubject("system:unauthenticated")),
		clusterBinding("system:service-account-issuer-discovery", groupSubject("system:serviceaccounts")),
		clusterBinding("system:monitoring", groupSubject("system:monitoring")),
		clusterBinding("system:kube-controller-manager", userSubject("system:kube-controller-manager")),
		clusterBinding("system:kube-scheduler", userSubject("system:kube-scheduler")),
		clusterBinding("system:volume-scheduler", userSubject("system:kube-scheduler")),
		clusterBinding("system:node-proxier", userSubject("system:kube-proxy")),
		clusterBinding("k1s:ingress", serviceAccountSubject("kube-system", "k1s-ingress")),
		clusterBinding("k1s:dns", serviceAccountSubject("kube-system", "k1s-dns")),
		clusterBinding("k1s:local-path-provisioner", userSubject("system:k1s-local-path-provisioner")),
	}
}

func defaultRole(namespace, name string, rules ...rbacv1.PolicyRule) *rbacv1.Role {
	return &rbacv1.Role{ObjectMeta: defaultMeta(name, namespace, nil), Rules: rules}
}

// DefaultRoles returns the default Roles, all in kube-system: reading the
// extension-apiserver-authentication ConfigMap, and the leader-election
// leases of the scheduler and the controller-manager.
func DefaultRoles() []*rbacv1.Role {
	leaderLocking := func() []rbacv1.PolicyRule {
		return []rbacv1.PolicyRule{
			rule(v("watch", "get", "list", "create", "update"), g(coordinationGroup), "leases"),
			rule(v("watch", "get", "list", "create", "update"), g(coordinationGroup), "leasecandidates"),
		}
	}
	return []*rbacv1.Role{
		defaultRole(metav1.NamespaceSystem, "extension-apiserver-authentication-reader",
			named(rule(read(), g(coreGroup), "configmaps"), "extension-apiserver-authentication")),
		defaultRole(metav1.NamespaceSystem, "system::leader-locking-kube-controller-manager", leaderLocking()...),
		defaultRole(metav1.NamespaceSystem, "system::leader-locking-kube-scheduler", leaderLocking()...),
	}
}

// DefaultRoleBindings returns the default RoleBindings, binding the
// DefaultRoles as upstream does.
func DefaultRoleBindings() []*rbacv1.RoleBinding {
	binding := func(name, roleName string, subjects ...rbacv1.Subject) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{
			ObjectMeta: defaultMeta(name, metav1.NamespaceSystem, nil),
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: roleName},
			Subjects:   subjects,
		}
	}
	return []*rbacv1.RoleBinding{
		binding("system::extension-apiserver-authentication-reader", "extension-apiserver-authentication-reader",
			userSubject("system:kube-controller-manager"), userSubject("system:kube-scheduler")),
		binding("system::leader-locking-kube-controller-manager", "system::leader-locking-kube-controller-manager",
			serviceAccountSubject(metav1.NamespaceSystem, "kube-controller-manager")),
		binding("system::leader-locking-kube-scheduler", "system::leader-locking-kube-scheduler",
			serviceAccountSubject(metav1.NamespaceSystem, "kube-scheduler")),
	}
}

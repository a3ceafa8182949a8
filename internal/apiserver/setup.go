package apiserver

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	corev1listers "k8s.io/client-go/listers/core/v1"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/k1s/k1s/internal/admission"
	"github.com/k1s/k1s/internal/admission/limitranger"
	"github.com/k1s/k1s/internal/admission/podsecurity"
	"github.com/k1s/k1s/internal/nodeauth"
	"github.com/k1s/k1s/internal/quota"
	"github.com/k1s/k1s/internal/rbac"
	"github.com/k1s/k1s/internal/storage"
)

var (
	gvrNamespaces          = corev1.SchemeGroupVersion.WithResource("namespaces")
	gvrServices            = corev1.SchemeGroupVersion.WithResource("services")
	gvrPVCs                = corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims")
	gvrPVs                 = corev1.SchemeGroupVersion.WithResource("persistentvolumes")
	gvrLimitRanges         = corev1.SchemeGroupVersion.WithResource("limitranges")
	gvrRoleBindings        = rbacv1.SchemeGroupVersion.WithResource("rolebindings")
	gvrClusterRoleBindings = rbacv1.SchemeGroupVersion.WithResource("clusterrolebindings")
)

// setupAuthorization builds the authorizers of cfg.AuthorizationModes and
// the admission plugins over local informers.
func (s *Server) setupAuthorization() error {
	modes := s.cfg.AuthorizationModes
	if len(modes) == 0 {
		modes = []string{ModeNode, ModeRBAC}
	}
	var nodeOpts *nodeauth.Options
	if s.served(gvrPods, gvrPVCs, gvrPVs, gvrNodes) {
		pods := s.informer(gvrPods, cache.Indexers{nodeauth.IndexPodsByNode: nodeauth.PodsByNode})
		nodeOpts = &nodeauth.Options{
			Pods:  pods.GetIndexer(),
			PVCs:  corev1listers.NewPersistentVolumeClaimLister(s.indexer(gvrPVCs)),
			PVs:   corev1listers.NewPersistentVolumeLister(s.indexer(gvrPVs)),
			Nodes: corev1listers.NewNodeLister(s.indexer(gvrNodes)),
		}
	}
	for _, m := range modes {
		switch m {
		case ModeAlwaysAllow:
			s.alwaysAllow = true
		case ModeNode:
			if nodeOpts == nil {
				return fmt.Errorf("apiserver: authorization mode Node needs pods, nodes, persistentvolumes and persistentvolumeclaims")
			}
			az, err := nodeauth.NewAuthorizer(*nodeOpts)
			if err != nil {
				return err
			}
			s.authorizers = append(s.authorizers, az)
		case ModeRBAC:
			if !s.served(gvrRoles, gvrRoleBindings, gvrClusterRoles, gvrClusterRoleBindings) {
				return fmt.Errorf("apiserver: authorization mode RBAC needs the rbac.authorization.k8s.io resources")
			}
			az := rbac.New(rbac.Options{
				Roles:               rbaclisters.NewRoleLister(s.indexer(gvrRoles)),
				RoleBindings:        rbaclisters.NewRoleBindingLister(s.indexer(gvrRoleBindings)),
				ClusterRoles:        rbaclisters.NewClusterRoleLister(s.indexer(gvrClusterRoles)),
				ClusterRoleBindings: rbaclisters.NewClusterRoleBindingLister(s.indexer(gvrClusterRoleBindings)),
			})
			s.authorizers = append(s.authorizers, az)
			s.rules = az
		default:
			return fmt.Errorf("apiserver: unknown authorization mode %q (want %s, %s or %s)", m, ModeNode, ModeRBAC, ModeAlwaysAllow)
		}
	}
	return s.setupAdmission(nodeOpts)
}

// setupAdmission builds the admission chain, in upstream's order:
// LimitRanger (defaults, then limits), NodeRestriction, PodSecurity, and
// ResourceQuota last (chargeQuota).
func (s *Server) setupAdmission(nodeOpts *nodeauth.Options) error {
	if s.served(gvrLimitRanges) {
		lr, err := limitranger.New(limitranger.Options{LimitRanges: corev1listers.NewLimitRangeLister(s.indexer(gvrLimitRanges))})
		if err != nil {
			return err
		}
		s.mutators = append(s.mutators, lr)
		s.validators = append(s.validators, lr)
	}
	if nodeOpts != nil {
		nr, err := nodeauth.NewAdmission(*nodeOpts)
		if err != nil {
			return err
		}
		s.validators = append(s.validators, nr)
	}
	if s.served(gvrNamespaces, gvrPods) {
		nsRes := s.resources[gvrNamespaces]
		ps, err := podsecurity.New(podsecurity.Options{
			Namespaces: corev1listers.NewNamespaceLister(s.indexer(gvrNamespaces)),
			// a pod may come right after its namespace, before the cache has it
			GetNamespace: func(ctx context.Context, name string) (*corev1.Namespace, error) {
				obj, err := nsRes.store.Get(ctx, nsRes.key("", name), storage.GetOptions{})
				if err != nil {
					return nil, toAPIError(err, nsRes.gr, name)
				}
				return obj.(*corev1.Namespace), nil
			},
			Pods: corev1listers.NewPodLister(s.indexer(gvrPods)),
		})
		if err != nil {
			return err
		}
		s.validators = append(s.validators, podSecurity{ps})
	}
	if s.served(gvrResourceQuotas) {
		s.quota = func(quotas []*corev1.ResourceQuota, a *admission.Attributes) ([]*corev1.ResourceQuota, error) {
			return quota.Admit(quotas, a.Resource.GroupResource(), a.Operation, a.Object, a.OldObject)
		}
	}
	return nil
}

// podSecurity evaluates a write once for both its refusal and its
// warnings.
type podSecurity struct{ p *podsecurity.Plugin }

func (ps podSecurity) Validate(ctx context.Context, a *admission.Attributes) error {
	d := ps.p.Decide(ctx, a)
	if d.Err == nil {
		addWarnings(ctx, d.Warnings)
	}
	return d.Err
}

package nodeauth

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/k1s/k1s/internal/authz"
)

// Options feed the authorizer and the admission plugin with the
// api-server's caches.
type Options struct {
	// Pods must have the IndexPodsByNode index (PodsByNode). Required.
	Pods cache.Indexer
	// PVCs and PVs let the authorizer follow pod -> claim -> volume.
	// Required by NewAuthorizer.
	PVCs corev1listers.PersistentVolumeClaimLister
	PVs  corev1listers.PersistentVolumeLister
	// Nodes, if set, lets the admission plugin check that a mirror
	// pod's owner reference carries the node's UID.
	Nodes corev1listers.NodeLister
}

func (o Options) validatePods() error {
	if o.Pods == nil {
		return errors.New("nodeauth: no pod indexer")
	}
	if _, ok := o.Pods.GetIndexers()[IndexPodsByNode]; !ok {
		return fmt.Errorf("nodeauth: the pod indexer lacks the %q index (nodeauth.PodsByNode)", IndexPodsByNode)
	}
	return nil
}

// Authorizer is upstream's Node authorizer: it decides for node users
// only, and has no opinion on anyone else.
type Authorizer struct {
	pods  cache.Indexer
	pvcs  corev1listers.PersistentVolumeClaimLister
	pvs   corev1listers.PersistentVolumeLister
	rules []rule
}

var _ authz.Authorizer = (*Authorizer)(nil)

// NewAuthorizer returns the Node authorizer over o's caches.
func NewAuthorizer(o Options) (*Authorizer, error) {
	if err := o.validatePods(); err != nil {
		return nil, err
	}
	if o.PVCs == nil || o.PVs == nil {
		return nil, errors.New("nodeauth: the authorizer needs persistent volume claim and volume listers")
	}
	return &Authorizer{pods: o.Pods, pvcs: o.PVCs, pvs: o.PVs, rules: kubeletRules()}, nil
}

var (
	secrets         = schema.GroupResource{Resource: "secrets"}
	configMaps      = schema.GroupResource{Resource: "configmaps"}
	claims          = schema.GroupResource{Resource: "persistentvolumeclaims"}
	volumes         = schema.GroupResource{Resource: "persistentvolumes"}
	serviceAccounts = schema.GroupResource{Resource: "serviceaccounts"}
	pods            = schema.GroupResource{Resource: "pods"}
	nodes           = schema.GroupResource{Resource: "nodes"}
	leases          = schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}
)

// Authorize decides a node's request. Objects whose access depends on
// the node's pods get Allow or NoOpinion with upstream's reason; the
// rest is matched against the static kubelet rules. Like upstream, a
// refusal is NoOpinion (with a reason), not Deny, so that RBAC may still
// grant a node more.
func (z *Authorizer) Authorize(ctx context.Context, a authz.Attributes) (authz.Decision, string, error) {
	node, isNode := NodeIdentity(a.User, a.Groups)
	if !isNode {
		return authz.NoOpinion, "", nil
	}
	if node == "" {
		return authz.NoOpinion, fmt.Sprintf("unknown node for user %q", a.User), nil
	}
	if a.ResourceRequest {
		switch (schema.GroupResource{Group: a.APIGroup, Resource: a.Resource}) {
		case secrets:
			return z.readReferenced(node, a, visitSecrets)
		case configMaps:
			return z.readReferenced(node, a, visitConfigMaps)
		case claims:
			if a.Subresource == "status" {
				return z.claimStatus(node, a)
			}
			return z.get(node, a, z.claimRelated)
		case volumes:
			return z.get(node, a, z.volumeRelated)
		case serviceAccounts:
			return z.createToken(node, a)
		case leases:
			return nodeLease(node, a)
		}
	}
	for _, r := range z.rules {
		if r.allows(a) {
			return authz.Allow, "", nil
		}
	}
	return authz.NoOpinion, "", nil
}

func noRelationship(node string) string {
	return fmt.Sprintf("no relationship found between node '%s' and this object", node)
}

// decide turns a relationship lookup into a decision.
func decide(node string, related bool, err error) (authz.Decision, string, error) {
	if err != nil {
		return authz.NoOpinion, noRelationship(node), err
	}
	if !related {
		return authz.NoOpinion, noRelationship(node), nil
	}
	return authz.Allow, "", nil
}

// readReferenced allows get, and list/watch narrowed to one object by
// name, of a secret or config map some pod on node references.
func (z *Authorizer) readReferenced(node string, a authz.Attributes, visit func(*corev1.Pod, func(string) bool) bool) (authz.Decision, string, error) {
	switch a.Verb {
	case "get", "list", "watch":
	default:
		return authz.NoOpinion, "can only read resources of this type", nil
	}
	if a.Subresource != "" {
		return authz.NoOpinion, "cannot read subresource", nil
	}
	if a.Namespace == "" {
		return authz.NoOpinion, "can only read namespaced object of this type", nil
	}
	if a.Name == "" {
		return authz.NoOpinion, "No Object name found", nil
	}
	related, err := z.anyPod(node, a.Namespace, func(p *corev1.Pod) bool { return references(p, visit, a.Name) })
	return decide(node, related, err)
}

// get allows getting one object related to node.
func (z *Authorizer) get(node string, a authz.Attributes, related func(node, namespace, name string) (bool, error)) (authz.Decision, string, error) {
	if a.Verb != "get" {
		return authz.NoOpinion, "can only get individual resources of this type", nil
	}
	if a.Subresource != "" {
		return authz.NoOpinion, "cannot get subresource", nil
	}
	if a.Name == "" {
		return authz.NoOpinion, "No Object name found", nil
	}
	ok, err := related(node, a.Namespace, a.Name)
	return decide(node, ok, err)
}

// claimStatus allows updating the status of a claim a pod on node uses
// (volume expansion); NodeRestriction keeps the write to status fields.
func (z *Authorizer) claimStatus(node string, a authz.Attributes) (authz.Decision, string, error) {
	switch a.Verb {
	case "update", "patch":
	default:
		return authz.NoOpinion, "can only get/update/patch this type", nil
	}
	if a.Name == "" {
		return authz.NoOpinion, "No Object name found", nil
	}
	ok, err := z.claimRelated(node, a.Namespace, a.Name)
	return decide(node, ok, err)
}

// createToken allows requesting a token for a service account some pod
// on node runs as; NodeRestriction checks the token is bound to such a
// pod.
func (z *Authorizer) createToken(node string, a authz.Attributes) (authz.Decision, string, error) {
	if a.Verb != "create" || a.Name == "" {
		return authz.NoOpinion, "can only create tokens for individual service accounts", nil
	}
	if a.Subresource != "token" {
		return authz.NoOpinion, "can only create token subresource of serviceaccount", nil
	}
	ok, err := z.anyPod(node, a.Namespace, func(p *corev1.Pod) bool { return serviceAccountOf(p) == a.Name })
	return decide(node, ok, err)
}

// nodeLease allows the node's own lease in kube-node-lease. Create does
// not name the object here; NodeRestriction checks the created name.
func nodeLease(node string, a authz.Attributes) (authz.Decision, string, error) {
	switch a.Verb {
	case "get", "create", "update", "patch", "delete":
	default:
		return authz.NoOpinion, "can only get, create, update, patch, or delete a node lease", nil
	}
	if a.Namespace != corev1.NamespaceNodeLease {
		return authz.NoOpinion, fmt.Sprintf("can only access leases in the %q system namespace", corev1.NamespaceNodeLease), nil
	}
	if a.Verb != "create" && a.Name != node {
		return authz.NoOpinion, "can only access node lease with the same name as the requesting node", nil
	}
	return authz.Allow, "", nil
}

// anyPod reports whether some pod bound to node (in namespace, if not
// empty) satisfies f.
func (z *Authorizer) anyPod(node, namespace string, f func(*corev1.Pod) bool) (bool, error) {
	ps, err := podsOn(z.pods, node, namespace)
	if err != nil {
		return false, err
	}
	for _, p := range ps {
		if f(p) {
			return true, nil
		}
	}
	return false, nil
}

// claimRelated reports whether a pod on node uses claim namespace/name.
func (z *Authorizer) claimRelated(node, namespace, name string) (bool, error) {
	if namespace == "" {
		return false, nil
	}
	return z.anyPod(node, namespace, func(p *corev1.Pod) bool { return references(p, visitClaims, name) })
}

// volumeRelated reports whether volume name is bound to a claim a pod on
// node uses: the claim names the volume (spec.volumeName), or the volume
// names the claim (spec.claimRef).
func (z *Authorizer) volumeRelated(node, _, name string) (bool, error) {
	var claimRef *corev1.ObjectReference
	pv, err := z.pvs.Get(name)
	switch {
	case err == nil:
		claimRef = pv.Spec.ClaimRef
	case !apierrors.IsNotFound(err):
		return false, fmt.Errorf("persistent volume %q: %w", name, err)
	}
	ps, err := podsOn(z.pods, node, "")
	if err != nil {
		return false, err
	}
	var lookupErr error
	found := false
	for _, p := range ps {
		visitClaims(p, func(claim string) bool {
			if claimRef != nil && claimRef.Namespace == p.Namespace && claimRef.Name == claim {
				found = true
				return true
			}
			pvc, err := z.pvcs.PersistentVolumeClaims(p.Namespace).Get(claim)
			if err != nil {
				if !apierrors.IsNotFound(err) {
					lookupErr = fmt.Errorf("persistent volume claim %s/%s: %w", p.Namespace, claim, err)
				}
				return false
			}
			if pvc.Spec.VolumeName == name {
				found = true
			}
			return found
		})
		if found {
			return true, nil
		}
	}
	return false, lookupErr
}

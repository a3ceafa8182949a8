package nodeauth

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/k1s/k1s/internal/admission"
)

// Admission is upstream's NodeRestriction admission plugin: it limits
// the writes of node users to their own Node, their own lease, mirror
// pods, and pods bound to them. Other users' writes pass untouched.
type Admission struct {
	pods  cache.Indexer
	nodes corev1listers.NodeLister
}

var _ admission.Validator = (*Admission)(nil)

// NewAdmission returns the NodeRestriction plugin over o's caches (it
// needs Pods; Nodes is optional).
func NewAdmission(o Options) (*Admission, error) {
	if err := o.validatePods(); err != nil {
		return nil, err
	}
	return &Admission{pods: o.Pods, nodes: o.Nodes}, nil
}

var csiNodes = schema.GroupResource{Group: "storage.k8s.io", Resource: "csinodes"}

// Validate refuses a node's write that reaches beyond the node itself.
func (r *Admission) Validate(ctx context.Context, a *admission.Attributes) error {
	node, isNode := NodeIdentity(a.User, a.Groups)
	if !isNode {
		return nil
	}
	switch a.Operation {
	case admission.Create, admission.Update, admission.Delete:
	default:
		return nil
	}
	if node == "" {
		return forbidden(a, "could not determine node from user %q", a.User)
	}
	switch a.Resource.GroupResource() {
	case pods:
		switch a.Subresource {
		case "":
			return r.pod(node, a)
		case "status":
			return podStatus(node, a)
		case "eviction":
			return r.eviction(node, a)
		}
		return forbidden(a, "unexpected pod subresource %q, only 'status' and 'eviction' are allowed", a.Subresource)
	case nodes:
		return nodeWrite(node, a)
	case claims:
		if a.Subresource != "status" {
			return forbidden(a, "may only update PVC status")
		}
		return claimStatusWrite(node, a)
	case serviceAccounts:
		return r.tokenRequest(node, a)
	case leases:
		if a.Namespace != corev1.NamespaceNodeLease {
			return forbidden(a, "can only access leases in the %q system namespace", corev1.NamespaceNodeLease)
		}
		return ownNamed(node, a, "can only access node lease with the same name as the requesting node")
	case csiNodes:
		return ownNamed(node, a, "can only access CSINode with the same name as the requesting node")
	}
	return nil
}

// forbidden is upstream's admission refusal: Forbidden on the request's
// resource and object name.
func forbidden(a *admission.Attributes, format string, args ...any) error {
	name := a.Name
	if name == "" && a.Object != nil {
		if m, err := meta.Accessor(a.Object); err == nil {
			name = m.GetName()
			if name == "" {
				name = m.GetGenerateName()
			}
		}
	}
	if name == "" {
		name = "Unknown"
	}
	return apierrors.NewForbidden(a.Resource.GroupResource(), name, fmt.Errorf(format, args...))
}

// objectName is the name of the object a write is about: the request's,
// or on create the new object's.
func objectName(a *admission.Attributes) string {
	if a.Name != "" {
		return a.Name
	}
	if n := nameOf(a.Object); n != "" {
		return n
	}
	return nameOf(a.OldObject)
}

// nameOf is obj's metadata.name ("" for nil or nameless objects).
func nameOf(obj runtime.Object) string {
	if obj == nil {
		return ""
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return ""
	}
	return m.GetName()
}

// pod allows creating mirror pods of the node and deleting pods bound to
// it.
func (r *Admission) pod(node string, a *admission.Attributes) error {
	switch a.Operation {
	case admission.Create:
		return r.mirrorPod(node, a)
	case admission.Delete:
		pod, err := r.storedPod(a, a.Name)
		if err != nil {
			return err
		}
		if pod.Spec.NodeName != node {
			return forbidden(a, "node %q can only delete pods with spec.nodeName set to itself", node)
		}
		return nil
	}
	return forbidden(a, "unexpected operation %q, node %q can only create and delete mirror pods", a.Operation, node)
}

// storedPod is the pod a request is about: OldObject when the api-server
// gave it, else the cache's copy of namespace/name.
func (r *Admission) storedPod(a *admission.Attributes, name string) (*corev1.Pod, error) {
	if p, ok := a.OldObject.(*corev1.Pod); ok && p != nil {
		return p, nil
	}
	obj, exists, err := r.pods.GetByKey(a.Namespace + "/" + name)
	if err != nil {
		return nil, forbidden(a, "%v", err)
	}
	if !exists {
		return nil, apierrors.NewNotFound(pods, name)
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, forbidden(a, "unexpected type %T", obj)
	}
	return p, nil
}

// mirrorPod allows a node to create only a mirror pod bound to itself,
// owned by its Node, that references no other API object (a pod on the
// node would give the node read access to what it references).
func (r *Admission) mirrorPod(node string, a *admission.Attributes) error {
	pod, ok := a.Object.(*corev1.Pod)
	if !ok {
		return forbidden(a, "unexpected type %T", a.Object)
	}
	if _, mirror := pod.Annotations[corev1.MirrorPodAnnotationKey]; !mirror {
		return forbidden(a, "pod does not have %q annotation, node %q can only create mirror pods", corev1.MirrorPodAnnotationKey, node)
	}
	if pod.Spec.NodeName != node {
		return forbidden(a, "node %q can only create pods with spec.nodeName set to itself", node)
	}
	if err := r.ownedByNode(node, a, pod); err != nil {
		return err
	}
	if pod.Spec.ServiceAccountName != "" {
		return forbidden(a, "node %q can not create pods that reference a service account", node)
	}
	if visitSecrets(pod, func(string) bool { return true }) {
		return forbidden(a, "node %q can not create pods that reference secrets", node)
	}
	if visitConfigMaps(pod, func(string) bool { return true }) {
		return forbidden(a, "node %q can not create pods that reference configmaps", node)
	}
	for _, v := range pod.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, src := range v.Projected.Sources {
			if src.ClusterTrustBundle != nil {
				return forbidden(a, "node %q can not create pods that reference clustertrustbundles", node)
			}
		}
	}
	if visitClaims(pod, func(string) bool { return true }) {
		return forbidden(a, "node %q can not create pods that reference persistentvolumeclaims", node)
	}
	return nil
}

// ownedByNode requires a mirror pod's single controller reference to be
// the node's Node (and its UID, when the plugin has a node lister).
func (r *Admission) ownedByNode(node string, a *admission.Attributes, pod *corev1.Pod) error {
	switch len(pod.OwnerReferences) {
	case 0:
		return forbidden(a, "node %q can only create pods with an owner reference set to itself", node)
	case 1:
	default:
		return forbidden(a, "node %q can only create pods with a single owner reference set to itself", node)
	}
	owner := pod.OwnerReferences[0]
	if owner.APIVersion != "v1" || owner.Kind != "Node" || owner.Name != node {
		return forbidden(a, "node %q can only create pods with an owner reference set to itself", node)
	}
	if owner.Controller == nil || !*owner.Controller {
		return forbidden(a, "node %q can only create pods with a controller owner reference set to itself", node)
	}
	if owner.BlockOwnerDeletion != nil && *owner.BlockOwnerDeletion {
		return forbidden(a, "node %q must not set blockOwnerDeletion on an owner reference", node)
	}
	if r.nodes == nil {
		return nil
	}
	n, err := r.nodes.Get(node)
	if apierrors.IsNotFound(err) {
		return err
	}
	if err != nil {
		return forbidden(a, "error looking up node %s to verify uid: %v", node, err)
	}
	if owner.UID != n.UID {
		return forbidden(a, "node %s UID mismatch: expected %s got %s", node, owner.UID, n.UID)
	}
	return nil
}

// podStatus allows a node to update the status of pods bound to it,
// without touching their labels or resource claim statuses.
func podStatus(node string, a *admission.Attributes) error {
	if a.Operation != admission.Update {
		return forbidden(a, "unexpected operation %q", a.Operation)
	}
	old, ok := a.OldObject.(*corev1.Pod)
	if !ok {
		return forbidden(a, "unexpected type %T", a.OldObject)
	}
	if old.Spec.NodeName != node {
		return forbidden(a, "node %q can only update pod status for pods with spec.nodeName set to itself", node)
	}
	pod, ok := a.Object.(*corev1.Pod)
	if !ok {
		return forbidden(a, "unexpected type %T", a.Object)
	}
	if !maps.Equal(old.Labels, pod.Labels) {
		return forbidden(a, "node %q cannot update labels through pod status", node)
	}
	if !equality.Semantic.DeepEqual(claimNames(old.Status.ResourceClaimStatuses), claimNames(pod.Status.ResourceClaimStatuses)) {
		return forbidden(a, "node %q cannot update resource claim statues", node)
	}
	return nil
}

// claimNames flattens resource claim statuses to what a node must not
// change: each entry's name and claim name.
func claimNames(st []corev1.PodResourceClaimStatus) []string {
	out := make([]string, 0, 2*len(st))
	for _, s := range st {
		claim := "<nil>"
		if s.ResourceClaimName != nil {
			claim = "=" + *s.ResourceClaimName
		}
		out = append(out, s.Name, claim)
	}
	return out
}

// eviction allows a node to evict pods bound to it.
func (r *Admission) eviction(node string, a *admission.Attributes) error {
	if a.Operation != admission.Create {
		return forbidden(a, "unexpected operation %s", a.Operation)
	}
	name := a.Name
	if name == "" {
		name = nameOf(a.Object)
	}
	if name == "" {
		return forbidden(a, "could not determine pod from request data")
	}
	pod, err := r.storedPod(a, name)
	if err != nil {
		return err
	}
	if pod.Spec.NodeName != node {
		return forbidden(a, "node %s can only evict pods with spec.nodeName set to itself", node)
	}
	return nil
}

// nodeWrite allows a node to write only its own Node, without setting
// node-restriction.kubernetes.io labels (those steer workloads that
// trust them to the node).
func nodeWrite(node string, a *admission.Attributes) error {
	if name := objectName(a); name != node {
		return forbidden(a, "node %q is not allowed to modify node %q", node, name)
	}
	if a.Operation == admission.Delete {
		return nil
	}
	n, ok := a.Object.(*corev1.Node)
	if !ok {
		return forbidden(a, "unexpected type %T", a.Object)
	}
	if n.Name != "" && n.Name != node {
		return forbidden(a, "node %q is not allowed to modify node %q", node, n.Name)
	}
	var oldLabels map[string]string
	if old, ok := a.OldObject.(*corev1.Node); ok && old != nil {
		oldLabels = old.Labels
	}
	if bad := restrictedLabelChanges(n.Labels, oldLabels); len(bad) > 0 {
		if a.Operation == admission.Create {
			return forbidden(a, "node %q is not allowed to set the following labels: %s", node, strings.Join(bad, ", "))
		}
		return forbidden(a, "is not allowed to modify labels: %s", strings.Join(bad, ", "))
	}
	return nil
}

// restrictedLabelChanges lists, sorted, the node-restriction labels that
// are added, removed or changed between old and labels.
func restrictedLabelChanges(labels, old map[string]string) []string {
	var bad []string
	for _, m := range []map[string]string{labels, old} {
		for k := range m {
			v, ok := labels[k]
			was, had := old[k]
			if (ok != had || v != was) && isNodeRestrictionLabel(k) && !slices.Contains(bad, k) {
				bad = append(bad, k)
			}
		}
	}
	slices.Sort(bad)
	return bad
}

// isNodeRestrictionLabel reports whether key's prefix is
// node-restriction.kubernetes.io or a subdomain of it.
func isNodeRestrictionLabel(key string) bool {
	prefix, _, found := strings.Cut(key, "/")
	if !found {
		return false
	}
	return prefix == corev1.LabelNamespaceNodeRestriction || strings.HasSuffix(prefix, "."+corev1.LabelNamespaceNodeRestriction)
}

// claimStatusWrite allows a node to change only a claim's
// status.capacity, status.conditions and the expansion bookkeeping
// (status.allocatedResources, status.allocatedResourceStatuses).
func claimStatusWrite(node string, a *admission.Attributes) error {
	if a.Operation != admission.Update {
		return forbidden(a, "unexpected operation %q", a.Operation)
	}
	old, ok := a.OldObject.(*corev1.PersistentVolumeClaim)
	if !ok {
		return forbidden(a, "unexpected type %T", a.OldObject)
	}
	pvc, ok := a.Object.(*corev1.PersistentVolumeClaim)
	if !ok {
		return forbidden(a, "unexpected type %T", a.Object)
	}
	strip := func(c *corev1.PersistentVolumeClaim) *corev1.PersistentVolumeClaim {
		c = c.DeepCopy()
		c.ResourceVersion = ""
		c.ManagedFields = nil
		c.Status.Capacity = nil
		c.Status.Conditions = nil
		c.Status.AllocatedResources = nil
		c.Status.AllocatedResourceStatuses = nil
		return c
	}
	if !equality.Semantic.DeepEqual(strip(old), strip(pvc)) {
		return forbidden(a, "node %q is not allowed to update fields other than status.capacity and status.conditions", node)
	}
	return nil
}

// tokenRequest allows a node to request only service account tokens
// bound to a pod running on it.
func (r *Admission) tokenRequest(node string, a *admission.Attributes) error {
	if a.Operation != admission.Create || a.Subresource != "token" {
		return nil
	}
	tr, ok := a.Object.(*authenticationv1.TokenRequest)
	if !ok {
		return forbidden(a, "unexpected type %T", a.Object)
	}
	ref := tr.Spec.BoundObjectRef
	if ref == nil || ref.APIVersion != "v1" || ref.Kind != "Pod" || ref.Name == "" {
		return forbidden(a, "node requested token not bound to a pod")
	}
	if ref.UID == "" {
		return forbidden(a, "node requested token with a pod binding without a uid")
	}
	obj, exists, err := r.pods.GetByKey(a.Namespace + "/" + ref.Name)
	if err != nil {
		return forbidden(a, "%v", err)
	}
	if !exists {
		return apierrors.NewNotFound(pods, ref.Name)
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return forbidden(a, "unexpected type %T", obj)
	}
	if ref.UID != pod.UID {
		return forbidden(a, "the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID)
	}
	if pod.Spec.NodeName != node {
		return forbidden(a, "node requested token bound to a pod scheduled on a different node")
	}
	return nil
}

// ownNamed allows writes only to the object named after the node. A
// create is judged by the new object's name, and by the request's too if
// it has one.
func ownNamed(node string, a *admission.Attributes, wrongName string) error {
	names := []string{a.Name}
	if a.Operation == admission.Create {
		names = []string{nameOf(a.Object)}
		if a.Name != "" {
			names = append(names, a.Name)
		}
	}
	for _, n := range names {
		if n != node {
			return forbidden(a, "%s", wrongName)
		}
	}
	return nil
}

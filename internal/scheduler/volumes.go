package scheduler

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Upstream's names for claim and volume annotations the scheduler reads or
// writes.
const (
	annSelectedNode  = "volume.kubernetes.io/selected-node"
	annBindCompleted = "pv.kubernetes.io/bind-completed"
	annBoundByCtrl   = "pv.kubernetes.io/bound-by-controller"
	// noProvisioner marks a class of statically created volumes only.
	noProvisioner = "kubernetes.io/no-provisioner"
)

// Why a pod's volumes rule a node, or every node, out, in upstream's words.
const (
	reasonVolumeNodeAffinity = "node(s) had volume node affinity conflict"
	reasonVolumeBindConflict = "node(s) didn't find available persistent volumes to bind"
	reasonVolumeNotExist     = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
	unboundImmediateClaims   = "pod has unbound immediate PersistentVolumeClaims"
	reasonReadWriteOncePod   = "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode"
)

// podVolumes is what a pod's persistent volume claims require of a node,
// resolved once per cycle from the claims, volumes and classes.
type podVolumes struct {
	// bound holds the node affinity of each PV a claim is bound to (nil:
	// any node).
	bound []*nodeSelector
	// missingPV: a claim is bound to a PV that does not exist.
	missingPV bool
	// unbound are the pod's WaitForFirstConsumer claims not bound yet.
	unbound []*unboundClaim
	// readWriteOncePod names the pod's claims with that access mode, which
	// no other pod may use.
	readWriteOncePod []string
}

// unboundClaim is a WaitForFirstConsumer claim waiting for its first pod.
type unboundClaim struct {
	claim *corev1.PersistentVolumeClaim
	// selectedNode, when set, is the node already chosen for the claim
	// (its annotation, or a decision not yet written): only that node fits.
	selectedNode string
	// candidates are the static volumes the claim may bind to, whatever
	// the node: pre-bound to it first, then smallest first.
	candidates []candidateVolume
	// canProvision: the class has a provisioner; allowedTopologies
	// restricts where it provisions (nil: anywhere).
	canProvision      bool
	allowedTopologies *nodeSelector
}

type candidateVolume struct {
	pv       *corev1.PersistentVolume
	affinity *nodeSelector // nil: any node
}

// volumeAction is what the binding step does for one unbound claim on the
// chosen node: bind it to a static volume (pv set), or ask for one to be
// provisioned there (pv nil).
type volumeAction struct {
	claim *corev1.PersistentVolumeClaim
	pv    *corev1.PersistentVolume
	node  string
}

// volumeRestrictions is upstream's VolumeRestrictions for the volumes
// k1s has: a ReadWriteOncePod claim another pod (bound or assumed) uses
// rules out every node.
type volumeRestrictions struct{}

func (volumeRestrictions) filter(cy *cycle, _ *nodeInfo) []string {
	if cy.readWriteOncePodConflict {
		return []string{reasonReadWriteOncePod}
	}
	return nil
}

// readWriteOncePodConflict reports whether a cached pod other than p uses
// one of p's ReadWriteOncePod claims.
func readWriteOncePodConflict(p *podInfo, c *nodeCache) bool {
	if p.volumes == nil || len(p.volumes.readWriteOncePod) == 0 {
		return false
	}
	for uid, cp := range c.pods {
		if uid == p.uid || cp.info.pod.Namespace != p.pod.Namespace {
			continue
		}
		for _, name := range podClaims(cp.info.pod) {
			if slices.Contains(p.volumes.readWriteOncePod, name) {
				return true
			}
		}
	}
	return false
}

// volumeBinding is upstream's VolumeBinding filter: bound volumes' node
// affinity must admit the node, and each unbound WaitForFirstConsumer
// claim must find a static volume there or be provisionable there.
type volumeBinding struct{}

func (volumeBinding) filter(cy *cycle, n *nodeInfo) []string {
	v := cy.pod.volumes
	if v == nil {
		return nil
	}
	var reasons []string
	for _, s := range v.bound {
		if !s.matches(n.node) {
			reasons = append(reasons, reasonVolumeNodeAffinity)
			break
		}
	}
	if _, ok := planVolumes(v, n.node); !ok {
		reasons = append(reasons, reasonVolumeBindConflict)
	}
	if v.missingPV {
		reasons = append(reasons, reasonVolumeNotExist)
	}
	return reasons
}

// planVolumes decides, for a node, what becomes of each unbound claim; ok
// is false when one of them cannot be satisfied there. A static volume
// serves at most one of the pod's claims.
func planVolumes(v *podVolumes, node *corev1.Node) (plan []volumeAction, ok bool) {
	if v == nil || len(v.unbound) == 0 {
		return nil, true
	}
	var chosen map[string]bool
	for _, uc := range v.unbound {
		if uc.selectedNode != "" && uc.selectedNode != node.Name {
			return nil, false
		}
		var pick *corev1.PersistentVolume
		for _, c := range uc.candidates {
			if !chosen[c.pv.Name] && c.affinity.matches(node) {
				pick = c.pv
				break
			}
		}
		switch {
		case pick != nil:
			if chosen == nil {
				chosen = map[string]bool{}
			}
			chosen[pick.Name] = true
		case !uc.canProvision || !uc.allowedTopologies.matches(node):
			return nil, false
		}
		plan = append(plan, volumeAction{claim: uc.claim, pv: pick, node: node.Name})
	}
	return plan, true
}

// claimBound reports whether the PV controller has finished binding a
// claim (upstream also requires bind-completed; a claim whose status says
// Bound counts too).
func claimBound(pvc *corev1.PersistentVolumeClaim) bool {
	if pvc.Spec.VolumeName == "" {
		return false
	}
	return metav1.HasAnnotation(pvc.ObjectMeta, annBindCompleted) || pvc.Status.Phase == corev1.ClaimBound
}

// claimClass is the claim's storage class name, from the spec or the
// beta annotation.
func claimClass(pvc *corev1.PersistentVolumeClaim) string {
	if pvc.Spec.StorageClassName != nil {
		return *pvc.Spec.StorageClassName
	}
	return pvc.Annotations[corev1.BetaStorageClassAnnotation]
}

func volumeClass(pv *corev1.PersistentVolume) string {
	if pv.Spec.StorageClassName != "" {
		return pv.Spec.StorageClassName
	}
	return pv.Annotations[corev1.BetaStorageClassAnnotation]
}

// boundToClaim reports whether a volume's claimRef names the claim.
func boundToClaim(pv *corev1.PersistentVolume, pvc *corev1.PersistentVolumeClaim) bool {
	ref := pv.Spec.ClaimRef
	return ref != nil && ref.Name == pvc.Name && ref.Namespace == pvc.Namespace && (ref.UID == "" || ref.UID == pvc.UID)
}

// matchingVolumes returns the volumes a claim may bind to, as upstream's
// FindMatchingVolume without the node: those pre-bound to it, then the
// Available ones of its class with no claimRef, its access modes and
// volume mode, at least its request and matching its selector, smallest
// first. taken says whether a volume is promised to another claim.
func matchingVolumes(pvc *corev1.PersistentVolumeClaim, pvs []*corev1.PersistentVolume, taken func(*corev1.PersistentVolume) bool) []candidateVolume {
	var prebound, free []*corev1.PersistentVolume
	selector := labels.Everything()
	if pvc.Spec.Selector != nil {
		s, err := metav1.LabelSelectorAsSelector(pvc.Spec.Selector)
		if err != nil {
			return nil
		}
		selector = s
	}
	request := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	class := claimClass(pvc)
	for _, pv := range pvs {
		if pv.DeletionTimestamp != nil || taken(pv) {
			continue
		}
		capacity := pv.Spec.Capacity[corev1.ResourceStorage]
		if capacity.Cmp(request) < 0 || volumeMode(pv.Spec.VolumeMode) != volumeMode(pvc.Spec.VolumeMode) ||
			!hasAccessModes(pv.Spec.AccessModes, pvc.Spec.AccessModes) {
			continue
		}
		if boundToClaim(pv, pvc) {
			prebound = append(prebound, pv)
			continue
		}
		if pv.Status.Phase != corev1.VolumeAvailable || pv.Spec.ClaimRef != nil ||
			volumeClass(pv) != class || !selector.Matches(labels.Set(pv.Labels)) {
			continue
		}
		free = append(free, pv)
	}
	slices.SortStableFunc(free, func(a, b *corev1.PersistentVolume) int {
		ca, cb := a.Spec.Capacity[corev1.ResourceStorage], b.Spec.Capacity[corev1.ResourceStorage]
		if c := ca.Cmp(cb); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	out := make([]candidateVolume, 0, len(prebound)+len(free))
	for _, pv := range append(prebound, free...) {
		out = append(out, candidateVolume{pv: pv, affinity: volumeAffinity(pv)})
	}
	return out
}

func volumeMode(m *corev1.PersistentVolumeMode) corev1.PersistentVolumeMode {
	if m == nil {
		return corev1.PersistentVolumeFilesystem
	}
	return *m
}

func hasAccessModes(have, want []corev1.PersistentVolumeAccessMode) bool {
	for _, m := range want {
		if !slices.Contains(have, m) {
			return false
		}
	}
	return true
}

// volumeAffinity is a volume's required node affinity; nil for any node.
func volumeAffinity(pv *corev1.PersistentVolume) *nodeSelector {
	if pv.Spec.NodeAffinity == nil {
		return nil
	}
	return compileNodeSelector(pv.Spec.NodeAffinity.Required)
}

// topologySelector compiles a class's allowedTopologies; nil (anywhere)
// when empty.
func topologySelector(terms []corev1.TopologySelectorTerm) *nodeSelector {
	if len(terms) == 0 {
		return nil
	}
	ns := &corev1.NodeSelector{}
	for _, t := range terms {
		var term corev1.NodeSelectorTerm
		for _, e := range t.MatchLabelExpressions {
			term.MatchExpressions = append(term.MatchExpressions, corev1.NodeSelectorRequirement{
				Key: e.Key, Operator: corev1.NodeSelectorOpIn, Values: e.Values,
			})
		}
		ns.NodeSelectorTerms = append(ns.NodeSelectorTerms, term)
	}
	return compileNodeSelector(ns)
}

// delayedBinding reports whether a class binds on first consumer; a
// claim without a class, or whose class is missing, binds immediately.
func delayedBinding(class *storagev1.StorageClass) bool {
	return class != nil && class.VolumeBindingMode != nil && *class.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer
}

func canProvision(class *storagev1.StorageClass) bool {
	return class != nil && class.Provisioner != "" && class.Provisioner != noProvisioner
}

// podClaims lists the claims a pod's volumes name: persistentVolumeClaim
// volumes and the <pod>-<volume> claims of generic ephemeral volumes.
func podClaims(pod *corev1.Pod) []string {
	var names []string
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			names = append(names, v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			names = append(names, pod.Name+"-"+v.Name)
		}
	}
	return names
}

// volumeSource is what resolving a pod's claims reads: the informers'
// listers in the shell, maps in tests. The scheduler's own decisions not
// yet written come in too: the node chosen for a claim, and the claim a
// volume is promised to.
type volumeSource struct {
	claim        func(namespace, name string) (*corev1.PersistentVolumeClaim, bool)
	volume       func(name string) (*corev1.PersistentVolume, bool)
	volumes      func() []*corev1.PersistentVolume
	class        func(name string) (*storagev1.StorageClass, bool)
	assumedNode  func(claimKey string) string
	assumedClaim func(pvName string) (claimKey string, ok bool)
}

// resolveVolumes works out what a pod's claims require of the node.
// unresolvable is set when no node can do (a claim missing or being
// deleted, an unbound claim binding immediately), upstream's PreFilter.
func resolveVolumes(pod *corev1.Pod, src *volumeSource) (v *podVolumes, unresolvable string) {
	names := podClaims(pod)
	if len(names) == 0 {
		return nil, ""
	}
	v = &podVolumes{}
	immediate := false
	for _, name := range names {
		pvc, ok := src.claim(pod.Namespace, name)
		if !ok {
			return nil, fmt.Sprintf("persistentvolumeclaim %q not found", name)
		}
		if pvc.DeletionTimestamp != nil {
			return nil, fmt.Sprintf("persistentvolumeclaim %q is being deleted", name)
		}
		if slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteOncePod) {
			v.readWriteOncePod = append(v.readWriteOncePod, name)
		}
		if claimBound(pvc) {
			pv, ok := src.volume(pvc.Spec.VolumeName)
			if !ok {
				v.missingPV = true
				continue
			}
			if s := volumeAffinity(pv); s != nil {
				v.bound = append(v.bound, s)
			}
			continue
		}
		class, _ := src.class(claimClass(pvc))
		if !delayedBinding(class) || pvc.Spec.VolumeName != "" {
			immediate = true
			continue
		}
		key := pvc.Namespace + "/" + pvc.Name
		uc := &unboundClaim{
			claim:             pvc,
			selectedNode:      pvc.Annotations[annSelectedNode],
			canProvision:      canProvision(class),
			allowedTopologies: topologySelector(class.AllowedTopologies),
		}
		if n := src.assumedNode(key); n != "" {
			uc.selectedNode = n
		}
		if uc.selectedNode == "" || !uc.canProvision {
			uc.candidates = matchingVolumes(pvc, src.volumes(), func(pv *corev1.PersistentVolume) bool {
				k, ok := src.assumedClaim(pv.Name)
				return ok && k != key
			})
			// A volume this scheduler promised the claim is its only one.
			for _, c := range uc.candidates {
				if k, ok := src.assumedClaim(c.pv.Name); ok && k == key {
					uc.candidates = []candidateVolume{c}
					break
				}
			}
		}
		v.unbound = append(v.unbound, uc)
	}
	if immediate {
		return nil, unboundImmediateClaims
	}
	return v, ""
}

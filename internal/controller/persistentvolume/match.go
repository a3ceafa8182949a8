package persistentvolume

import (
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// Annotations and names shared with upstream and the node's provisioner.
const (
	annSelectedNode         = "volume.kubernetes.io/selected-node"
	annStorageProvisioner   = "volume.kubernetes.io/storage-provisioner"
	annBetaStorageProvision = "volume.beta.kubernetes.io/storage-provisioner"
	annBindCompleted        = "pv.kubernetes.io/bind-completed"
	annBoundByController    = "pv.kubernetes.io/bound-by-controller"
	annProvisionedBy        = "pv.kubernetes.io/provisioned-by"
	annDefaultClass         = "storageclass.kubernetes.io/is-default-class"
	annBetaDefaultClass     = "storageclass.beta.kubernetes.io/is-default-class"

	// localPathProvisioner is the node agent's provisioner: it deletes the
	// volumes it provisioned itself.
	localPathProvisioner = "k1s.io/local-path"
	hostnameLabel        = "kubernetes.io/hostname"
)

// defaultClassName returns the name of the default StorageClass: the
// newest of those annotated as default, as upstream's admission picks it.
func defaultClassName(classes []*storagev1.StorageClass) string {
	var best *storagev1.StorageClass
	for _, c := range classes {
		if c.Annotations[annDefaultClass] != "true" && c.Annotations[annBetaDefaultClass] != "true" {
			continue
		}
		if best == nil || c.CreationTimestamp.After(best.CreationTimestamp.Time) ||
			c.CreationTimestamp.Equal(&best.CreationTimestamp) && c.Name < best.Name {
			best = c
		}
	}
	if best == nil {
		return ""
	}
	return best.Name
}

// claimClass is the class a claim asks for: its own, or the default
// class's when it names none.
func claimClass(claim *corev1.PersistentVolumeClaim, defaultClass string) string {
	if claim.Spec.StorageClassName != nil {
		return *claim.Spec.StorageClassName
	}
	return defaultClass
}

// boundToClaim reports whether a volume's claimRef names the claim.
func boundToClaim(pv *corev1.PersistentVolume, claim *corev1.PersistentVolumeClaim) bool {
	ref := pv.Spec.ClaimRef
	if ref == nil || ref.Namespace != claim.Namespace || ref.Name != claim.Name {
		return false
	}
	return ref.UID == "" || ref.UID == claim.UID
}

// matchRequest is what findVolume matches volumes against.
type matchRequest struct {
	claim *corev1.PersistentVolumeClaim
	class string // the claim's class, defaulted
	// delayed is set for WaitForFirstConsumer classes; node is then the
	// selected node's labels (nil: not selected yet, match nothing new).
	delayed bool
	node    labels.Set
}

// findVolume returns the volume the claim should be bound to: one already
// pre-bound to it by claimRef if that fits, else the smallest Available
// one that fits; nil if none does.
func findVolume(req matchRequest, volumes []*corev1.PersistentVolume) *corev1.PersistentVolume {
	claim := req.claim
	want := claim.Spec.Resources.Requests[corev1.ResourceStorage]
	var sel labels.Selector
	if claim.Spec.Selector != nil {
		s, err := metav1.LabelSelectorAsSelector(claim.Spec.Selector)
		if err != nil {
			return nil
		}
		sel = s
	}
	var best *corev1.PersistentVolume
	for _, pv := range volumes {
		size := pv.Spec.Capacity[corev1.ResourceStorage]
		if size.Cmp(want) < 0 || volumeMode(pv.Spec.VolumeMode) != volumeMode(claim.Spec.VolumeMode) || pv.DeletionTimestamp != nil {
			continue
		}
		affinityOK := req.node == nil || nodeAdmits(pv, req.node)
		if boundToClaim(pv, claim) {
			if !affinityOK {
				return nil
			}
			return pv
		}
		if req.delayed && req.node == nil {
			continue
		}
		switch {
		case pv.Spec.ClaimRef != nil,
			// A new volume is Pending until syncVolume makes it Available;
			// without a claimRef it is free either way.
			pv.Status.Phase != corev1.VolumeAvailable && pv.Status.Phase != corev1.VolumePending,
			sel != nil && !sel.Matches(labels.Set(pv.Labels)),
			pv.Spec.StorageClassName != req.class,
			!containsModes(pv.Spec.AccessModes, claim.Spec.AccessModes),
			!affinityOK:
			continue
		}
		if best == nil || smaller(pv, best) {
			best = pv
		}
	}
	return best
}

// smaller orders volumes by capacity, then name, so the choice is stable.
func smaller(a, b *corev1.PersistentVolume) bool {
	qa, qb := a.Spec.Capacity[corev1.ResourceStorage], b.Spec.Capacity[corev1.ResourceStorage]
	if c := qa.Cmp(qb); c != 0 {
		return c < 0
	}
	return a.Name < b.Name
}

// fitsPreBound reports why a volume a claim names in spec.volumeName
// cannot take it ("" when it can).
func fitsPreBound(claim *corev1.PersistentVolumeClaim, class string, pv *corev1.PersistentVolume) string {
	want := claim.Spec.Resources.Requests[corev1.ResourceStorage]
	size := pv.Spec.Capacity[corev1.ResourceStorage]
	switch {
	case size.Cmp(want) < 0:
		return "requested PV is too small"
	case pv.Spec.StorageClassName != class:
		return "storageClassName does not match"
	case volumeMode(pv.Spec.VolumeMode) != volumeMode(claim.Spec.VolumeMode):
		return "incompatible volumeMode"
	case !containsModes(pv.Spec.AccessModes, claim.Spec.AccessModes):
		return "incompatible accessMode"
	}
	return ""
}

func volumeMode(m *corev1.PersistentVolumeMode) corev1.PersistentVolumeMode {
	if m == nil {
		return corev1.PersistentVolumeFilesystem
	}
	return *m
}

func containsModes(have, want []corev1.PersistentVolumeAccessMode) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if h == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// nodeLabels are the labels a volume's node affinity is checked against:
// the node's, with kubernetes.io/hostname defaulted to its name so a node
// not (yet) in the cache still matches volumes pinned to it by name.
func nodeLabels(name string, node *corev1.Node) labels.Set {
	set := labels.Set{}
	if node != nil {
		for k, v := range node.Labels {
			set[k] = v
		}
	}
	if _, ok := set[hostnameLabel]; !ok {
		set[hostnameLabel] = name
	}
	return set
}

// nodeAdmits evaluates a volume's required node affinity (terms ORed,
// requirements ANDed) against a node's labels.
func nodeAdmits(pv *corev1.PersistentVolume, node labels.Set) bool {
	if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
		return true
	}
	for _, term := range pv.Spec.NodeAffinity.Required.NodeSelectorTerms {
		if termMatches(term, node) {
			return true
		}
	}
	return false
}

func termMatches(term corev1.NodeSelectorTerm, node labels.Set) bool {
	if len(term.MatchExpressions) == 0 && len(term.MatchFields) == 0 {
		return false
	}
	for _, r := range term.MatchExpressions {
		if !requirementMatches(r, node) {
			return false
		}
	}
	for _, r := range term.MatchFields {
		// metadata.name is the only field upstream supports; the hostname
		// label stands for it here.
		if r.Key != "metadata.name" || !requirementMatches(corev1.NodeSelectorRequirement{Key: hostnameLabel, Operator: r.Operator, Values: r.Values}, node) {
			return false
		}
	}
	return true
}

func requirementMatches(r corev1.NodeSelectorRequirement, set labels.Set) bool {
	ops := map[corev1.NodeSelectorOperator]selection.Operator{
		corev1.NodeSelectorOpIn: selection.In, corev1.NodeSelectorOpNotIn: selection.NotIn,
		corev1.NodeSelectorOpExists: selection.Exists, corev1.NodeSelectorOpDoesNotExist: selection.DoesNotExist,
		corev1.NodeSelectorOpGt: selection.GreaterThan, corev1.NodeSelectorOpLt: selection.LessThan,
	}
	op, ok := ops[r.Operator]
	if !ok {
		return false
	}
	req, err := labels.NewRequirement(r.Key, op, r.Values)
	if err != nil {
		return false
	}
	return req.Matches(set)
}

package localpath

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ProvisionerName is the name claims and classes use for this provisioner.
const ProvisionerName = "k1s.io/local-path"

const (
	annStorageProvisioner     = "volume.kubernetes.io/storage-provisioner"
	annBetaStorageProvisioner = "volume.beta.kubernetes.io/storage-provisioner"
	annBetaStorageClass       = "volume.beta.kubernetes.io/storage-class"
	annSelectedNode           = "volume.kubernetes.io/selected-node"
	annProvisionedBy          = "pv.kubernetes.io/provisioned-by"

	// classNodeName is the class parameter naming the node that
	// provisions the claims of an Immediate class.
	classNodeName = "nodeName"

	msgNeedsWaitForFirstConsumer = "local-path volumes need volumeBindingMode WaitForFirstConsumer"
)

// verdict is what this node does with a claim.
type verdict int

const (
	skip      verdict = iota // not ours, not yet, or already done
	provision                // make the directory and the PV
	refuse                   // ours but impossible: tell the user with an event
)

// volumeName is the PV provisioned for a claim.
func volumeName(claim *corev1.PersistentVolumeClaim) string {
	return "pvc-" + string(claim.UID)
}

// claimClassName is the claim's class, from the spec or the beta annotation.
func claimClassName(claim *corev1.PersistentVolumeClaim) string {
	if claim.Spec.StorageClassName != nil {
		return *claim.Spec.StorageClassName
	}
	return claim.Annotations[annBetaStorageClass]
}

// decideClaim returns what node does with claim. class is the claim's
// StorageClass (nil if unknown yet); volumeExists tells whether the PV
// pvc-<claim uid> exists. The string explains a skip (for debug logs) or
// is the message of a refusal.
func decideClaim(claim *corev1.PersistentVolumeClaim, class *storagev1.StorageClass, node string, volumeExists bool) (verdict, string) {
	switch {
	case claim.Spec.VolumeName != "":
		return skip, "bound"
	case claim.DeletionTimestamp != nil:
		return skip, "being deleted"
	case claim.Annotations[annStorageProvisioner] != ProvisionerName && claim.Annotations[annBetaStorageProvisioner] != ProvisionerName:
		return skip, "another provisioner"
	case volumeExists:
		return skip, "already provisioned"
	case class == nil:
		return skip, "storage class not known yet"
	case class.Provisioner != ProvisionerName:
		return skip, "class of another provisioner"
	}
	if selected, ok := claim.Annotations[annSelectedNode]; ok {
		if selected != node {
			return skip, "selected another node"
		}
	} else {
		mode := class.VolumeBindingMode
		if mode != nil && *mode == storagev1.VolumeBindingWaitForFirstConsumer {
			return skip, "waiting for the scheduler to select a node"
		}
		switch owner := class.Parameters[classNodeName]; owner {
		case node:
		case "":
			return refuse, msgNeedsWaitForFirstConsumer
		default:
			return skip, "class names another node"
		}
	}
	switch {
	case claim.Spec.Selector != nil:
		return refuse, "claim Selector is not supported by local-path volumes"
	case claim.Spec.DataSource != nil || claim.Spec.DataSourceRef != nil:
		return refuse, "data sources are not supported by local-path volumes"
	case claim.Spec.VolumeMode != nil && *claim.Spec.VolumeMode == corev1.PersistentVolumeBlock:
		return refuse, "local-path volumes support only volumeMode Filesystem"
	}
	if _, ok := claim.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
		return refuse, "claim requests no storage size"
	}
	return provision, ""
}

// buildVolume returns the PV for claim of class, on node, in the directory
// path.
func buildVolume(claim *corev1.PersistentVolumeClaim, class *storagev1.StorageClass, node, path string) *corev1.PersistentVolume {
	policy := corev1.PersistentVolumeReclaimDelete
	if class.ReclaimPolicy != nil {
		policy = *class.ReclaimPolicy
	}
	mode := corev1.PersistentVolumeFilesystem
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        volumeName(claim),
			Annotations: map[string]string{annProvisionedBy: ProvisionerName},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity: corev1.ResourceList{
				corev1.ResourceStorage: claim.Spec.Resources.Requests[corev1.ResourceStorage].DeepCopy(),
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				Local: &corev1.LocalVolumeSource{Path: path},
			},
			AccessModes: slices.Clone(claim.Spec.AccessModes),
			ClaimRef: &corev1.ObjectReference{
				Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: claim.Namespace, Name: claim.Name, UID: claim.UID,
			},
			PersistentVolumeReclaimPolicy: policy,
			StorageClassName:              class.Name,
			VolumeMode:                    &mode,
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node},
				}}}},
			}},
		},
	}
}

// release is what this node does with a PV.
type release int

const (
	keep         release = iota // not ours, not released, or retained
	deleteVolume                // remove the directory, then the PV
)

// decideVolume returns whether node deletes pv.
func decideVolume(pv *corev1.PersistentVolume, node string) release {
	if pv.Annotations[annProvisionedBy] != ProvisionerName || !onNode(pv, node) ||
		pv.DeletionTimestamp != nil || pv.Status.Phase != corev1.VolumeReleased ||
		pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		return keep
	}
	return deleteVolume
}

// onNode tells whether pv's required node affinity names node by hostname.
func onNode(pv *corev1.PersistentVolume, node string) bool {
	na := pv.Spec.NodeAffinity
	if na == nil || na.Required == nil {
		return false
	}
	for _, term := range na.Required.NodeSelectorTerms {
		for _, req := range term.MatchExpressions {
			if req.Key == corev1.LabelHostname && req.Operator == corev1.NodeSelectorOpIn && slices.Contains(req.Values, node) {
				return true
			}
		}
	}
	return false
}

// volumePath returns the directory of pv.
func volumePath(pv *corev1.PersistentVolume) (string, error) {
	if pv.Spec.Local == nil || pv.Spec.Local.Path == "" {
		return "", fmt.Errorf("persistentvolume %s has no local path", pv.Name)
	}
	return pv.Spec.Local.Path, nil
}

// inside tells whether path lies strictly inside dir, lexically. Both
// must be absolute and clean for a true answer.
func inside(dir, path string) bool {
	if !filepath.IsAbs(dir) || !filepath.IsAbs(path) || filepath.Clean(path) != path {
		return false
	}
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../")
}

package persistentvolume

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	kerrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// syncClaim brings one claim towards Bound (or Lost).
func (c *Controller) syncClaim(ctx context.Context, k string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(k)
	if err != nil {
		return nil
	}
	claim, err := c.claims.PersistentVolumeClaims(ns).Get(name)
	if err != nil {
		return ignoreNotFound(err)
	}
	if claim.Spec.VolumeName == "" {
		return c.syncUnboundClaim(ctx, claim)
	}
	pv, err := c.volumes.Get(claim.Spec.VolumeName)
	if kerrors.IsNotFound(err) {
		if claim.Status.Phase == corev1.ClaimBound || claim.Status.Phase == corev1.ClaimLost {
			return c.claimLost(ctx, claim, "Bound claim has lost its PersistentVolume. Data on the volume is lost!")
		}
		return nil // pre-bound to a volume that does not exist yet
	}
	if err != nil {
		return err
	}
	switch {
	case pv.Spec.ClaimRef == nil:
		// The user pre-bound the claim to this volume.
		class, err := c.defaultClass()
		if err != nil {
			return err
		}
		if why := fitsPreBound(claim, claimClass(claim, class), pv); why != "" {
			c.recorder.Event(claim, corev1.EventTypeWarning, "VolumeMismatch", "Cannot bind to requested volume \""+pv.Name+"\": "+why)
			return nil
		}
		return c.bind(ctx, claim, pv)
	case boundToClaim(pv, claim):
		return c.bind(ctx, claim, pv)
	case claim.Status.Phase == corev1.ClaimBound || claim.Status.Phase == corev1.ClaimLost:
		return c.claimLost(ctx, claim, "Two claims are bound to the same volume, this one is bound incorrectly")
	default:
		return nil // pre-bound to a volume that is someone else's; wait
	}
}

// defaultClass returns the default StorageClass's name, "" if none.
func (c *Controller) defaultClass() (string, error) {
	classes, err := c.classes.List(labels.Everything())
	if err != nil {
		return "", err
	}
	return defaultClassName(classes), nil
}

// syncUnboundClaim finds a volume for a claim, or asks for one.
func (c *Controller) syncUnboundClaim(ctx context.Context, claim *corev1.PersistentVolumeClaim) error {
	def, err := c.defaultClass()
	if err != nil {
		return err
	}
	className := claimClass(claim, def)
	var class *storagev1.StorageClass
	if className != "" {
		class, err = c.classes.Get(className)
		if err != nil && !kerrors.IsNotFound(err) {
			return err
		}
	}
	req := matchRequest{claim: claim, class: className}
	selected := claim.Annotations[annSelectedNode]
	if class != nil && class.VolumeBindingMode != nil && *class.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer {
		req.delayed = true
		if selected != "" {
			node, err := c.nodes.Get(selected)
			if err != nil && !kerrors.IsNotFound(err) {
				return err
			}
			req.node = nodeLabels(selected, node)
		}
	}
	volumes, err := c.volumes.List(labels.Everything())
	if err != nil {
		return err
	}
	if pv := findVolume(req, volumes); pv != nil {
		return c.bind(ctx, claim, pv)
	}
	switch {
	case req.delayed && selected == "":
		c.recorder.Event(claim, corev1.EventTypeNormal, "WaitForFirstConsumer", "waiting for first consumer to be created before binding")
		return nil
	case className != "" && class == nil:
		c.recorder.Event(claim, corev1.EventTypeWarning, "ProvisioningFailed", fmt.Sprintf("storageclass.storage.k8s.io %q not found", className))
		return nil
	case class != nil && class.Provisioner != "" && class.Provisioner != "kubernetes.io/no-provisioner":
		return c.requestProvisioning(ctx, claim, class.Provisioner)
	default:
		c.recorder.Event(claim, corev1.EventTypeNormal, "FailedBinding", "no persistent volumes available for this claim and no storage class is set")
		return c.setClaimPhase(ctx, claim, corev1.ClaimPending)
	}
}

// requestProvisioning annotates a claim for its class's provisioner.
func (c *Controller) requestProvisioning(ctx context.Context, claim *corev1.PersistentVolumeClaim, provisioner string) error {
	if claim.Annotations[annStorageProvisioner] != provisioner || claim.Annotations[annBetaStorageProvision] != provisioner {
		claim = claim.DeepCopy()
		if claim.Annotations == nil {
			claim.Annotations = map[string]string{}
		}
		claim.Annotations[annStorageProvisioner] = provisioner
		claim.Annotations[annBetaStorageProvision] = provisioner
		if _, err := c.client.CoreV1().PersistentVolumeClaims(claim.Namespace).Update(ctx, claim, metav1.UpdateOptions{}); err != nil {
			return ignoreNotFound(fmt.Errorf("annotating claim %s/%s for provisioning: %w", claim.Namespace, claim.Name, err))
		}
	}
	c.recorder.Event(claim, corev1.EventTypeNormal, "ExternalProvisioning",
		fmt.Sprintf("Waiting for a volume to be created either by the external provisioner '%s' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.", provisioner))
	return nil
}

// bind binds claim and volume both ways, one idempotent step at a time:
// volume claimRef, volume phase, claim volumeName, claim phase.
func (c *Controller) bind(ctx context.Context, claim *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume) error {
	if ref := pv.Spec.ClaimRef; ref == nil || ref.UID != claim.UID || ref.Namespace != claim.Namespace || ref.Name != claim.Name {
		pv = pv.DeepCopy()
		if ref == nil {
			metav1.SetMetaDataAnnotation(&pv.ObjectMeta, annBoundByController, "yes")
		}
		pv.Spec.ClaimRef = &corev1.ObjectReference{
			Kind: "PersistentVolumeClaim", APIVersion: "v1",
			Namespace: claim.Namespace, Name: claim.Name, UID: claim.UID, ResourceVersion: claim.ResourceVersion,
		}
		updated, err := c.client.CoreV1().PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{})
		if err != nil {
			return ignoreNotFound(fmt.Errorf("binding volume %s to claim %s/%s: %w", pv.Name, claim.Namespace, claim.Name, err))
		}
		pv = updated
	}
	if err := c.setVolumePhase(ctx, pv, corev1.VolumeBound, ""); err != nil {
		return err
	}
	if claim.Spec.VolumeName != pv.Name || claim.Annotations[annBindCompleted] != "yes" {
		claim = claim.DeepCopy()
		if claim.Spec.VolumeName == "" {
			metav1.SetMetaDataAnnotation(&claim.ObjectMeta, annBoundByController, "yes")
		}
		claim.Spec.VolumeName = pv.Name
		metav1.SetMetaDataAnnotation(&claim.ObjectMeta, annBindCompleted, "yes")
		updated, err := c.client.CoreV1().PersistentVolumeClaims(claim.Namespace).Update(ctx, claim, metav1.UpdateOptions{})
		if err != nil {
			return ignoreNotFound(fmt.Errorf("binding claim %s/%s to volume %s: %w", claim.Namespace, claim.Name, pv.Name, err))
		}
		claim = updated
	}
	status := claim.Status.DeepCopy()
	status.Phase = corev1.ClaimBound
	status.AccessModes = pv.Spec.AccessModes
	status.Capacity = pv.Spec.Capacity
	if equality.Semantic.DeepEqual(*status, claim.Status) {
		return nil
	}
	claim = claim.DeepCopy()
	claim.Status = *status
	if _, err := c.client.CoreV1().PersistentVolumeClaims(claim.Namespace).UpdateStatus(ctx, claim, metav1.UpdateOptions{}); err != nil {
		return ignoreNotFound(fmt.Errorf("marking claim %s/%s bound: %w", claim.Namespace, claim.Name, err))
	}
	c.log.Info("bound claim", "claim", claim.Namespace+"/"+claim.Name, "volume", pv.Name)
	return nil
}

// claimLost marks a bound claim Lost, with a Warning event on the change.
func (c *Controller) claimLost(ctx context.Context, claim *corev1.PersistentVolumeClaim, why string) error {
	if claim.Status.Phase == corev1.ClaimLost {
		return nil
	}
	if err := c.setClaimPhase(ctx, claim, corev1.ClaimLost); err != nil {
		return err
	}
	c.recorder.Event(claim, corev1.EventTypeWarning, "ClaimLost", why)
	return nil
}

func (c *Controller) setClaimPhase(ctx context.Context, claim *corev1.PersistentVolumeClaim, phase corev1.PersistentVolumeClaimPhase) error {
	if claim.Status.Phase == phase {
		return nil
	}
	claim = claim.DeepCopy()
	claim.Status.Phase = phase
	if _, err := c.client.CoreV1().PersistentVolumeClaims(claim.Namespace).UpdateStatus(ctx, claim, metav1.UpdateOptions{}); err != nil {
		return ignoreNotFound(fmt.Errorf("setting claim %s/%s phase %s: %w", claim.Namespace, claim.Name, phase, err))
	}
	return nil
}

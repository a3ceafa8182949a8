package persistentvolume

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// volumeAction is what syncVolume does about a volume whose claim is gone.
type volumeAction struct {
	phase  corev1.PersistentVolumePhase
	reason string // event reason, Warning, when set
	msg    string
}

// reclaim decides what happens to a volume whose claim is gone: it is
// Released first, then the reclaim policy applies. ok is false when the
// volume is left as it is.
func reclaim(pv *corev1.PersistentVolume) (volumeAction, bool) {
	switch pv.Status.Phase {
	case corev1.VolumeFailed:
		return volumeAction{}, false
	case corev1.VolumeReleased:
	default:
		return volumeAction{phase: corev1.VolumeReleased}, true
	}
	switch pv.Spec.PersistentVolumeReclaimPolicy {
	case corev1.PersistentVolumeReclaimDelete:
		if pv.Annotations[annProvisionedBy] == localPathProvisioner {
			return volumeAction{}, false // the node's provisioner deletes it
		}
		return volumeAction{phase: corev1.VolumeFailed, reason: "VolumeFailedDelete",
			msg: fmt.Sprintf("error getting deleter volume plugin for volume %q: no deletable volume plugin matched", pv.Name)}, true
	case corev1.PersistentVolumeReclaimRecycle:
		return volumeAction{phase: corev1.VolumeFailed, reason: "VolumeFailedRecycle", msg: "recycling is not supported"}, true
	default: // Retain
		return volumeAction{}, false
	}
}

// syncVolume keeps a volume's phase in line with its claim.
func (c *Controller) syncVolume(ctx context.Context, name string) error {
	pv, err := c.volumes.Get(name)
	if err != nil {
		return ignoreNotFound(err)
	}
	ref := pv.Spec.ClaimRef
	if ref == nil || ref.UID == "" {
		// Unbound, or pre-bound by the user to a claim that syncClaim binds.
		return c.setVolumePhase(ctx, pv, corev1.VolumeAvailable, "")
	}
	claim, err := c.claims.PersistentVolumeClaims(ref.Namespace).Get(ref.Name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if claim == nil || claim.UID != ref.UID {
		// The cache may lag behind a claim just created: ask the api-server
		// before releasing the volume.
		claim, err = c.client.CoreV1().PersistentVolumeClaims(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			claim = nil
		case err != nil:
			return fmt.Errorf("getting claim %s/%s of volume %s: %w", ref.Namespace, ref.Name, pv.Name, err)
		}
	}
	if claim == nil || claim.UID != ref.UID {
		act, ok := reclaim(pv)
		if !ok {
			return nil
		}
		if err := c.setVolumePhase(ctx, pv, act.phase, act.msg); err != nil {
			return err
		}
		if act.reason != "" {
			c.recorder.Event(pv, corev1.EventTypeWarning, act.reason, act.msg)
		} else {
			c.log.Info("volume released", "volume", pv.Name, "claim", ref.Namespace+"/"+ref.Name)
			c.queue.Add(key{volume: true, name: pv.Name}) // apply the reclaim policy
		}
		return nil
	}
	switch claim.Spec.VolumeName {
	case "":
		// Binding in progress: syncClaim finishes it.
		return nil
	case pv.Name:
		return c.setVolumePhase(ctx, pv, corev1.VolumeBound, "")
	default:
		// The claim went to another volume after we reserved this one.
		if pv.Annotations[annBoundByController] != "yes" {
			return nil
		}
		pv = pv.DeepCopy()
		pv.Spec.ClaimRef = nil
		delete(pv.Annotations, annBoundByController)
		if _, err := c.client.CoreV1().PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{}); err != nil {
			return ignoreNotFound(fmt.Errorf("unbinding volume %s: %w", pv.Name, err))
		}
		return nil // the update queues the volume again, to make it Available
	}
}

func (c *Controller) setVolumePhase(ctx context.Context, pv *corev1.PersistentVolume, phase corev1.PersistentVolumePhase, msg string) error {
	if pv.Status.Phase == phase && pv.Status.Message == msg {
		return nil
	}
	pv = pv.DeepCopy()
	pv.Status.Phase = phase
	pv.Status.Message = msg
	if _, err := c.client.CoreV1().PersistentVolumes().UpdateStatus(ctx, pv, metav1.UpdateOptions{}); err != nil {
		return ignoreNotFound(fmt.Errorf("setting volume %s phase %s: %w", pv.Name, phase, err))
	}
	return nil
}

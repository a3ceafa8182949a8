package persistentvolume_test

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/json"

	"github.com/k1s/k1s/internal/testcluster"
)

// One api-server for all; each case has its own namespace and volume names.
func TestController(t *testing.T) {
	client := startController(t)
	t.Run("static binding picks the smallest fitting volume", func(t *testing.T) {
		e := newEnv(t, client, "static")
		e.createPV("static-10g", "10Gi", "")
		e.createPV("static-2g", "2Gi", "")
		e.createPV("static-500m", "500Mi", "")
		e.createPV("static-gold", "1Gi", "gold")
		e.createClaim("data", "1Gi")
		claim, pv := e.waitBound("data", "static-2g")
		if claim.Annotations["pv.kubernetes.io/bind-completed"] != "yes" || claim.Annotations["pv.kubernetes.io/bound-by-controller"] != "yes" {
			t.Errorf("claim annotations = %v, want bind-completed and bound-by-controller", claim.Annotations)
		}
		if pv.Annotations["pv.kubernetes.io/bound-by-controller"] != "yes" {
			t.Errorf("volume annotations = %v, want bound-by-controller", pv.Annotations)
		}
		got := claim.Status.Capacity[corev1.ResourceStorage]
		if got.String() != "2Gi" || len(claim.Status.AccessModes) != 1 || claim.Status.AccessModes[0] != corev1.ReadWriteOnce {
			t.Errorf("claim status capacity %s modes %v, want 2Gi [RWO]", got.String(), claim.Status.AccessModes)
		}
		for _, name := range []string{"static-10g", "static-500m", "static-gold"} {
			e.waitVolumePhase(name, corev1.VolumeAvailable)
		}
	})

	t.Run("pre-bound both ways", func(t *testing.T) {
		e := newEnv(t, client, "prebound")
		e.createPV("prebound-small", "1Gi", "")
		e.createPV("prebound-named", "5Gi", "")
		e.createPV("prebound-ref", "8Gi", "", claimRef("prebound", "by-ref", ""))
		e.createClaim("by-name", "1Gi", volumeName("prebound-named"))
		e.createClaim("by-ref", "1Gi")
		claim, pv := e.waitBound("by-name", "prebound-named")
		if _, ok := claim.Annotations["pv.kubernetes.io/bound-by-controller"]; ok {
			t.Errorf("claim pre-bound by the user has bound-by-controller: %v", claim.Annotations)
		}
		if pv.Annotations["pv.kubernetes.io/bound-by-controller"] != "yes" {
			t.Errorf("volume annotations = %v, want bound-by-controller", pv.Annotations)
		}
		claim, pv = e.waitBound("by-ref", "prebound-ref")
		if claim.Annotations["pv.kubernetes.io/bound-by-controller"] != "yes" {
			t.Errorf("claim annotations = %v, want bound-by-controller", claim.Annotations)
		}
		if _, ok := pv.Annotations["pv.kubernetes.io/bound-by-controller"]; ok {
			t.Errorf("volume pre-bound by the user has bound-by-controller: %v", pv.Annotations)
		}
		e.waitVolumePhase("prebound-small", corev1.VolumeAvailable)
	})

	t.Run("label selector", func(t *testing.T) {
		e := newEnv(t, client, "selector")
		e.createPV("selector-slow", "1Gi", "gp", labelled(map[string]string{"tier": "slow"}))
		e.createPV("selector-fast", "3Gi", "gp", labelled(map[string]string{"tier": "fast"}))
		e.createClaim("fast", "1Gi", class("gp"), selector(map[string]string{"tier": "fast"}))
		e.waitBound("fast", "selector-fast")
	})

	t.Run("WaitForFirstConsumer waits for the node and honours affinity", func(t *testing.T) {
		e := newEnv(t, client, "wffc")
		e.createClass("wffc-local", "kubernetes.io/no-provisioner", true, false)
		e.createPV("wffc-n1", "1Gi", "wffc-local", onHost("n1"))
		e.createPV("wffc-n2", "2Gi", "wffc-local", onHost("n2"))
		e.createClaim("data", "1Gi", class("wffc-local"))
		e.waitEvent("wffc", "data", "WaitForFirstConsumer")
		if c := e.getClaim("data"); c.Spec.VolumeName != "" {
			t.Fatalf("claim bound to %s before a node was selected", c.Spec.VolumeName)
		}
		e.selectNode("data", "n2")
		e.waitBound("data", "wffc-n2")
	})

	t.Run("provisioning", func(t *testing.T) {
		e := newEnv(t, client, "provision")
		e.createClass("local-path", "k1s.io/local-path", true, true)
		// The api-server's admission or, failing that (its list may lag
		// the class just made), this controller counts the claim as of
		// class local-path; 100Gi keeps it clear of the class-less
		// volumes of other cases meanwhile.
		claim := e.createClaim("data", "100Gi", noClass())
		e.waitEvent("provision", "data", "WaitForFirstConsumer")
		if c := e.getClaim("data"); c.Annotations["volume.kubernetes.io/storage-provisioner"] != "" {
			t.Fatalf("claim annotated for provisioning before a node was selected: %v", c.Annotations)
		}
		e.selectNode("data", "n1")
		testcluster.Eventually(t, timeout, func() error {
			c := e.getClaim("data")
			if c.Annotations["volume.kubernetes.io/storage-provisioner"] != "k1s.io/local-path" ||
				c.Annotations["volume.beta.kubernetes.io/storage-provisioner"] != "k1s.io/local-path" {
				return fmt.Errorf("claim annotations %v, want storage-provisioner k1s.io/local-path", c.Annotations)
			}
			return nil
		})
		msg := e.waitEvent("provision", "data", "ExternalProvisioning")
		if want := "Waiting for a volume to be created either by the external provisioner 'k1s.io/local-path' or manually by the system administrator"; !strings.HasPrefix(msg, want) {
			t.Errorf("ExternalProvisioning message %q, want prefix %q", msg, want)
		}
		// What the node's provisioner creates.
		name := "pvc-" + string(claim.UID)
		e.createPV(name, "100Gi", "local-path", onHost("n1"), claimRef("provision", "data", string(claim.UID)),
			reclaimPolicy(corev1.PersistentVolumeReclaimDelete), annotated("pv.kubernetes.io/provisioned-by", "k1s.io/local-path"))
		e.waitBound("data", name)

		// Deleted claims: ours is left to the provisioner; another
		// Delete volume fails. The controller works one key at a time,
		// in order, so once the second volume failed the first one's
		// reclaim has been decided too.
		e.deleteClaim("data")
		e.waitVolumePhase(name, corev1.VolumeReleased)
		e.createPV("provision-foreign", "1Gi", "foreign", reclaimPolicy(corev1.PersistentVolumeReclaimDelete))
		e.createClaim("foreign", "1Gi", class("foreign"))
		e.waitBound("foreign", "provision-foreign")
		e.deleteClaim("foreign")
		pv := e.waitVolumePhase("provision-foreign", corev1.VolumeFailed)
		if !strings.Contains(pv.Status.Message, "no deletable volume plugin matched") {
			t.Errorf("failed volume message %q", pv.Status.Message)
		}
		e.waitEvent("default", "provision-foreign", "VolumeFailedDelete")
		e.waitVolumePhase(name, corev1.VolumeReleased)
	})

	t.Run("released volume with Retain stays Released", func(t *testing.T) {
		e := newEnv(t, client, "retain")
		e.createClass("retain", "kubernetes.io/no-provisioner", false, false)
		e.createPV("retain-pv", "1Gi", "retain")
		e.createClaim("data", "1Gi", class("retain"))
		e.waitBound("data", "retain-pv")
		e.deleteClaim("data")
		pv := e.waitVolumePhase("retain-pv", corev1.VolumeReleased)
		if pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.Name != "data" {
			t.Errorf("released volume lost its claimRef: %v", pv.Spec.ClaimRef)
		}
		// A new claim of the same name does not get the old data.
		e.createClaim("data", "1Gi", class("retain"))
		e.waitEvent("retain", "data", "FailedBinding")
		if c := e.getClaim("data"); c.Spec.VolumeName != "" {
			t.Errorf("new claim bound to released volume %s", c.Spec.VolumeName)
		}
	})

	t.Run("two claims, one volume", func(t *testing.T) {
		e := newEnv(t, client, "race")
		e.createPV("race-pv", "1Gi", "race")
		e.createClaim("a", "1Gi", class("race"))
		e.createClaim("b", "1Gi", class("race"))
		pv := e.waitVolumePhase("race-pv", corev1.VolumeBound)
		winner, loser := pv.Spec.ClaimRef.Name, "a"
		if winner == "a" {
			loser = "b"
		}
		e.waitBound(winner, "race-pv")
		e.waitEvent("race", loser, "ProvisioningFailed") // class "race" does not exist
		if c := e.getClaim(loser); c.Spec.VolumeName != "" {
			t.Errorf("claim %s also bound to %s", loser, c.Spec.VolumeName)
		}
	})

	t.Run("claim lost with its volume", func(t *testing.T) {
		e := newEnv(t, client, "lost")
		e.createPV("lost-pv", "1Gi", "lost")
		e.createClaim("data", "1Gi", class("lost"))
		e.waitBound("data", "lost-pv")
		if err := e.client.CoreV1().PersistentVolumes().Delete(e.ctx, "lost-pv", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		testcluster.Eventually(t, timeout, func() error {
			if c := e.getClaim("data"); c.Status.Phase != corev1.ClaimLost {
				return fmt.Errorf("claim phase %q, want Lost", c.Status.Phase)
			}
			return nil
		})
		e.waitEvent("lost", "data", "ClaimLost")
	})

	t.Run("missing class", func(t *testing.T) {
		e := newEnv(t, client, "missing")
		e.createClaim("data", "1Gi", class("nope"))
		msg := e.waitEvent("missing", "data", "ProvisioningFailed")
		if want := `storageclass.storage.k8s.io "nope" not found`; msg != want {
			t.Errorf("ProvisioningFailed message %q, want %q", msg, want)
		}
		if c := e.getClaim("data"); c.Status.Phase != corev1.ClaimPending {
			t.Errorf("claim phase %q, want Pending", c.Status.Phase)
		}
	})
}

// selectNode does what the scheduler does for a WaitForFirstConsumer claim.
func (e *env) selectNode(claim, node string) {
	e.t.Helper()
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{"volume.kubernetes.io/selected-node": node}}})
	if _, err := e.client.CoreV1().PersistentVolumeClaims(e.ns).Patch(e.ctx, claim, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

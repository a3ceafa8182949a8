package localpath

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testClass(mode storagev1.VolumeBindingMode, params map[string]string) *storagev1.StorageClass {
	return &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: "local-path"},
		Provisioner:       ProvisionerName,
		VolumeBindingMode: &mode,
		Parameters:        params,
	}
}

func testClaim(annotations map[string]string, mutate ...func(*corev1.PersistentVolumeClaim)) *corev1.PersistentVolumeClaim {
	class := "local-path"
	c := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "data", UID: "u1", Annotations: annotations},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: &class,
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: resource.MustParse("1Gi"),
			}},
		},
	}
	for _, m := range mutate {
		m(c)
	}
	return c
}

func TestDecideClaim(t *testing.T) {
	wffc := testClass(storagev1.VolumeBindingWaitForFirstConsumer, nil)
	immediate := testClass(storagev1.VolumeBindingImmediate, nil)
	ours := map[string]string{annStorageProvisioner: ProvisionerName, annSelectedNode: "n1"}
	oursBeta := map[string]string{annBetaStorageProvisioner: ProvisionerName, annSelectedNode: "n1"}
	unselected := map[string]string{annStorageProvisioner: ProvisionerName}
	other := testClass(storagev1.VolumeBindingWaitForFirstConsumer, nil)
	other.Provisioner = "example.com/nfs"
	tests := []struct {
		name   string
		claim  *corev1.PersistentVolumeClaim
		class  *storagev1.StorageClass
		exists bool
		want   verdict
		msg    string
	}{
		{name: "selected this node", claim: testClaim(ours), class: wffc, want: provision},
		{name: "beta provisioner annotation", claim: testClaim(oursBeta), class: wffc, want: provision},
		{name: "selected another node", claim: testClaim(map[string]string{annStorageProvisioner: ProvisionerName, annSelectedNode: "n2"}), class: wffc, want: skip},
		{name: "bound", claim: testClaim(ours, func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeName = "pv" }), class: wffc, want: skip},
		{name: "being deleted", claim: testClaim(ours, func(c *corev1.PersistentVolumeClaim) { c.DeletionTimestamp = &metav1.Time{} }), class: wffc, want: skip},
		{name: "another provisioner", claim: testClaim(map[string]string{annStorageProvisioner: "example.com/nfs", annSelectedNode: "n1"}), class: wffc, want: skip},
		{name: "no provisioner annotation", claim: testClaim(map[string]string{annSelectedNode: "n1"}), class: wffc, want: skip},
		{name: "PV exists", claim: testClaim(ours), class: wffc, exists: true, want: skip},
		{name: "class unknown", claim: testClaim(ours), want: skip},
		{name: "class of another provisioner", claim: testClaim(ours), class: other, want: skip},
		{name: "waiting for first consumer", claim: testClaim(unselected), class: wffc, want: skip},
		{name: "immediate without nodeName", claim: testClaim(unselected), class: immediate, want: refuse, msg: msgNeedsWaitForFirstConsumer},
		{name: "immediate, nodeName this node", claim: testClaim(unselected),
			class: testClass(storagev1.VolumeBindingImmediate, map[string]string{"nodeName": "n1"}), want: provision},
		{name: "immediate, nodeName another node", claim: testClaim(unselected),
			class: testClass(storagev1.VolumeBindingImmediate, map[string]string{"nodeName": "n2"}), want: skip},
		{name: "immediate but selected", claim: testClaim(ours), class: immediate, want: provision},
		{name: "selector", claim: testClaim(ours, func(c *corev1.PersistentVolumeClaim) { c.Spec.Selector = &metav1.LabelSelector{} }),
			class: wffc, want: refuse, msg: "claim Selector is not supported by local-path volumes"},
		{name: "block", claim: testClaim(ours, func(c *corev1.PersistentVolumeClaim) {
			m := corev1.PersistentVolumeBlock
			c.Spec.VolumeMode = &m
		}), class: wffc, want: refuse, msg: "local-path volumes support only volumeMode Filesystem"},
		{name: "no size", claim: testClaim(ours, func(c *corev1.PersistentVolumeClaim) { c.Spec.Resources.Requests = nil }),
			class: wffc, want: refuse, msg: "claim requests no storage size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, msg := decideClaim(tt.claim, tt.class, "n1", tt.exists)
			if got != tt.want {
				t.Errorf("verdict = %v (%s), want %v", got, msg, tt.want)
			}
			if tt.want == refuse && msg != tt.msg {
				t.Errorf("message = %q, want %q", msg, tt.msg)
			}
		})
	}
}

func TestBuildVolume(t *testing.T) {
	retain := corev1.PersistentVolumeReclaimRetain
	retainClass := testClass(storagev1.VolumeBindingWaitForFirstConsumer, nil)
	retainClass.ReclaimPolicy = &retain
	rwop := func(c *corev1.PersistentVolumeClaim) {
		c.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod}
	}
	tests := []struct {
		name       string
		claim      *corev1.PersistentVolumeClaim
		class      *storagev1.StorageClass
		wantPolicy corev1.PersistentVolumeReclaimPolicy
		wantModes  []corev1.PersistentVolumeAccessMode
	}{
		{name: "default policy", claim: testClaim(nil), class: testClass(storagev1.VolumeBindingWaitForFirstConsumer, nil),
			wantPolicy: corev1.PersistentVolumeReclaimDelete, wantModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}},
		{name: "class retains", claim: testClaim(nil, rwop), class: retainClass,
			wantPolicy: corev1.PersistentVolumeReclaimRetain, wantModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pv := buildVolume(tt.claim, tt.class, "n1", "/data/storage/pvc-u1")
			if pv.Name != "pvc-u1" {
				t.Errorf("name = %q, want pvc-u1", pv.Name)
			}
			if got := pv.Annotations[annProvisionedBy]; got != ProvisionerName {
				t.Errorf("provisioned-by = %q", got)
			}
			if pv.Spec.Local == nil || pv.Spec.Local.Path != "/data/storage/pvc-u1" {
				t.Errorf("local = %+v", pv.Spec.Local)
			}
			if got := pv.Spec.Capacity[corev1.ResourceStorage]; got.String() != "1Gi" {
				t.Errorf("capacity = %s, want 1Gi", got.String())
			}
			if pv.Spec.PersistentVolumeReclaimPolicy != tt.wantPolicy {
				t.Errorf("reclaim policy = %s, want %s", pv.Spec.PersistentVolumeReclaimPolicy, tt.wantPolicy)
			}
			if !reflect.DeepEqual(pv.Spec.AccessModes, tt.wantModes) {
				t.Errorf("access modes = %v, want %v", pv.Spec.AccessModes, tt.wantModes)
			}
			if pv.Spec.StorageClassName != "local-path" {
				t.Errorf("class = %q", pv.Spec.StorageClassName)
			}
			if pv.Spec.VolumeMode == nil || *pv.Spec.VolumeMode != corev1.PersistentVolumeFilesystem {
				t.Errorf("volume mode = %v", pv.Spec.VolumeMode)
			}
			wantRef := corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: "ns", Name: "data", UID: "u1"}
			if pv.Spec.ClaimRef == nil || *pv.Spec.ClaimRef != wantRef {
				t.Errorf("claimRef = %+v, want %+v", pv.Spec.ClaimRef, wantRef)
			}
			if !onNode(pv, "n1") || onNode(pv, "n2") {
				t.Errorf("node affinity = %+v, want hostname In [n1]", pv.Spec.NodeAffinity)
			}
		})
	}
}

func TestDecideVolume(t *testing.T) {
	class := testClass(storagev1.VolumeBindingWaitForFirstConsumer, nil)
	released := func(mutate ...func(*corev1.PersistentVolume)) *corev1.PersistentVolume {
		pv := buildVolume(testClaim(nil), class, "n1", "/data/storage/pvc-u1")
		pv.Status.Phase = corev1.VolumeReleased
		for _, m := range mutate {
			m(pv)
		}
		return pv
	}
	tests := []struct {
		name string
		pv   *corev1.PersistentVolume
		want release
	}{
		{name: "released, delete", pv: released(), want: deleteVolume},
		{name: "bound", pv: released(func(pv *corev1.PersistentVolume) { pv.Status.Phase = corev1.VolumeBound }), want: keep},
		{name: "retain", pv: released(func(pv *corev1.PersistentVolume) {
			pv.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
		}), want: keep},
		{name: "another provisioner", pv: released(func(pv *corev1.PersistentVolume) { pv.Annotations = nil }), want: keep},
		{name: "another node", pv: buildVolume(testClaim(nil), class, "n2", "/x"), want: keep},
		{name: "no node affinity", pv: released(func(pv *corev1.PersistentVolume) { pv.Spec.NodeAffinity = nil }), want: keep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decideVolume(tt.pv, "n1"); got != tt.want {
				t.Errorf("decideVolume = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestInside(t *testing.T) {
	tests := []struct {
		dir, path string
		want      bool
	}{
		{"/d/storage", "/d/storage/pvc-1", true},
		{"/d/storage", "/d/storage/a/b", true},
		{"/d/storage", "/d/storage", false},
		{"/d/storage", "/d/storage/", false},
		{"/d/storage", "/d/storage/../etc", false},
		{"/d/storage", "/d/storage2/pvc-1", false},
		{"/d/storage", "/etc", false},
		{"/d/storage", "relative/pvc-1", false},
		{"/d/storage", "/d/storage/..x", true},
	}
	for _, tt := range tests {
		if got := inside(tt.dir, tt.path); got != tt.want {
			t.Errorf("inside(%q, %q) = %v, want %v", tt.dir, tt.path, got, tt.want)
		}
	}
}

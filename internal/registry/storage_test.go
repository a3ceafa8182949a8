package registry

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func storageTestClass(r *Resource, mutate func(*storagev1.StorageClass)) *storagev1.StorageClass {
	sc := &storagev1.StorageClass{
		ObjectMeta:  metav1.ObjectMeta{Name: "local-path"},
		Provisioner: "rancher.io/local-path",
		Parameters:  map[string]string{"nodePath": "/var/lib/k1s/storage"},
	}
	r.Default(sc)
	if mutate != nil {
		mutate(sc)
	}
	return sc
}

func TestStorageClass(t *testing.T) {
	r := groupTestResource(t, "storage.k8s.io", "storageclasses")
	if r.Namespaced {
		t.Errorf("storageclasses are cluster-scoped")
	}
	sc := storageTestClass(r, nil)
	if *sc.ReclaimPolicy != corev1.PersistentVolumeReclaimDelete || *sc.VolumeBindingMode != storagev1.VolumeBindingImmediate {
		t.Errorf("defaults: reclaimPolicy %s, volumeBindingMode %s", *sc.ReclaimPolicy, *sc.VolumeBindingMode)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*storagev1.StorageClass)
		want   []string
	}{
		{name: "valid"},
		{name: "no provisioner", mutate: func(sc *storagev1.StorageClass) { sc.Provisioner = "" },
			want: []string{"provisioner: Required value"}},
		{name: "bad provisioner", mutate: func(sc *storagev1.StorageClass) { sc.Provisioner = "local path" },
			want: []string{"provisioner: Invalid value"}},
		{name: "empty parameter key", mutate: func(sc *storagev1.StorageClass) { sc.Parameters[""] = "x" },
			want: []string{"parameters: Invalid value"}},
		{name: "bad reclaimPolicy", mutate: func(sc *storagev1.StorageClass) { sc.ReclaimPolicy = new(corev1.PersistentVolumeReclaimRecycle) },
			want: []string{"reclaimPolicy: Unsupported value"}},
		{name: "bad volumeBindingMode", mutate: func(sc *storagev1.StorageClass) { sc.VolumeBindingMode = new(storagev1.VolumeBindingMode("Later")) },
			want: []string{"volumeBindingMode: Unsupported value"}},
		{name: "topology", mutate: func(sc *storagev1.StorageClass) {
			sc.AllowedTopologies = []corev1.TopologySelectorTerm{{MatchLabelExpressions: []corev1.TopologySelectorLabelRequirement{
				{Key: "topology.kubernetes.io/zone", Values: []string{"a", "b"}},
			}}}
		}},
		{name: "bad topology", mutate: func(sc *storagev1.StorageClass) {
			sc.AllowedTopologies = []corev1.TopologySelectorTerm{{MatchLabelExpressions: []corev1.TopologySelectorLabelRequirement{
				{Key: "zone"}, {Key: "zone", Values: []string{"a", "a"}},
			}}}
		}, want: []string{
			"allowedTopologies[0].matchLabelExpressions[0].values: Required value",
			"allowedTopologies[0].matchLabelExpressions[1].key: Duplicate value",
			"allowedTopologies[0].matchLabelExpressions[1].values[1]: Duplicate value",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { groupTestCheckErrs(t, r.Validate(storageTestClass(r, tc.mutate)), tc.want) })
	}

	old := storageTestClass(r, nil)
	for _, tc := range []struct {
		name   string
		mutate func(*storagev1.StorageClass)
		want   []string
	}{
		{name: "allowVolumeExpansion", mutate: func(sc *storagev1.StorageClass) { sc.AllowVolumeExpansion = new(true) }},
		{name: "mountOptions", mutate: func(sc *storagev1.StorageClass) { sc.MountOptions = []string{"noatime"} }},
		{name: "parameters", mutate: func(sc *storagev1.StorageClass) { sc.Parameters["nodePath"] = "/data" },
			want: []string{"parameters: Forbidden"}},
		{name: "provisioner", mutate: func(sc *storagev1.StorageClass) { sc.Provisioner = "example.com/other" },
			want: []string{"provisioner: Forbidden"}},
		{name: "reclaimPolicy", mutate: func(sc *storagev1.StorageClass) { sc.ReclaimPolicy = new(corev1.PersistentVolumeReclaimRetain) },
			want: []string{"reclaimPolicy: Forbidden"}},
		{name: "volumeBindingMode", mutate: func(sc *storagev1.StorageClass) {
			sc.VolumeBindingMode = new(storagev1.VolumeBindingWaitForFirstConsumer)
		}, want: []string{"volumeBindingMode: Invalid value"}},
	} {
		t.Run("update "+tc.name, func(t *testing.T) {
			groupTestCheckErrs(t, r.ValidateUpdate(storageTestClass(r, tc.mutate), old), tc.want)
		})
	}
	groupTestCheckTable(t, r.Table, old, "Provisioner,ReclaimPolicy,VolumeBindingMode,AllowVolumeExpansion,Age",
		[]any{"rancher.io/local-path", "Delete", "Immediate", false, "<unknown>"})
}

func TestCSIDriver(t *testing.T) {
	r := groupTestResource(t, "storage.k8s.io", "csidrivers")
	d := &storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: "hostpath.csi.k8s.io"}}
	r.Default(d)
	s := d.Spec
	if !*s.AttachRequired || *s.PodInfoOnMount || *s.StorageCapacity || *s.RequiresRepublish ||
		*s.FSGroupPolicy != storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy ||
		len(s.VolumeLifecycleModes) != 1 || s.VolumeLifecycleModes[0] != storagev1.VolumeLifecyclePersistent {
		t.Errorf("defaulted spec = %+v", s)
	}
	groupTestCheckErrs(t, r.Validate(d), nil)
	bad := d.DeepCopy()
	bad.Name = "Host Path"
	bad.Spec.VolumeLifecycleModes = []storagev1.VolumeLifecycleMode{"Forever"}
	groupTestCheckErrs(t, r.Validate(bad), []string{"metadata.name: Invalid value", "spec.volumeLifecycleModes[0]: Unsupported value"})
	upd := d.DeepCopy()
	upd.Spec.AttachRequired = new(false)
	upd.Spec.PodInfoOnMount = new(true)
	groupTestCheckErrs(t, r.ValidateUpdate(upd, d), []string{"spec.attachRequired: Invalid value"})
}

func TestVolumeAttachment(t *testing.T) {
	r := groupTestResource(t, "storage.k8s.io", "volumeattachments")
	va := &storagev1.VolumeAttachment{Spec: storagev1.VolumeAttachmentSpec{
		Attacher: "hostpath.csi.k8s.io", NodeName: "node-1",
		Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: new("pv-1")},
	}}
	groupTestCheckErrs(t, r.Validate(va), nil)
	groupTestCheckErrs(t, r.Validate(&storagev1.VolumeAttachment{}),
		[]string{"spec.attacher: Required value", "spec.nodeName: Required value", "spec.source: Required value"})
	upd := va.DeepCopy()
	upd.Spec.NodeName = "node-2"
	groupTestCheckErrs(t, r.ValidateUpdate(upd, va), []string{"spec: Invalid value"})
}

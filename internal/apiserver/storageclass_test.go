package apiserver_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestClaimGetsTheDefaultStorageClass(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	c := ts.client()
	claim := func(name string, class *string) *corev1.PersistentVolumeClaim {
		t.Helper()
		pvc, err := c.CoreV1().PersistentVolumeClaims("default").Create(ctx, &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PersistentVolumeClaimSpec{
				StorageClassName: class,
				AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return pvc
	}
	if got := claim("before", nil).Spec.StorageClassName; got != nil {
		t.Errorf("without a default class: storageClassName = %q, want none", *got)
	}
	for _, name := range []string{"plain", "local-path"} {
		sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: "k1s.io/local-path"}
		if name == "local-path" {
			sc.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
		}
		if _, err := c.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// A consistent read: the class created just before counts at once.
	if got := claim("after", nil).Spec.StorageClassName; got == nil || *got != "local-path" {
		t.Errorf("storageClassName = %v, want the default local-path", got)
	}
	if got := claim("explicit", ptr.To("plain")).Spec.StorageClassName; got == nil || *got != "plain" {
		t.Errorf("an explicit class was changed to %v", got)
	}
	if got := claim("no-class", ptr.To("")).Spec.StorageClassName; got == nil || *got != "" {
		t.Errorf(`storageClassName "" was changed to %v`, got)
	}
}

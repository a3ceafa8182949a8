package apiserver

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/k1s/k1s/internal/storage"
)

// defaultClassAnnotation marks the StorageClass claims without one get.
const defaultClassAnnotation = "storageclass.kubernetes.io/is-default-class"

// admitClaimStorageClass is upstream's DefaultStorageClass admission: a
// new claim that names no class gets the default one (the newest, when
// several are marked), so that its class is visible and fixed from the
// start. A claim with storageClassName "" asks for no class and keeps it.
func (s *Server) admitClaimStorageClass(ctx context.Context, pvc *corev1.PersistentVolumeClaim) {
	if pvc.Spec.StorageClassName != nil {
		return
	}
	res := s.resources[schema.GroupVersionResource{Group: "storage.k8s.io", Version: "v1", Resource: "storageclasses"}]
	if res == nil {
		return
	}
	// A consistent read: a default class created a moment ago counts.
	list, err := res.store.List(ctx, res.prefix, storage.ListOptions{Recursive: true})
	if err != nil {
		s.log.Warn("listing storage classes for a new claim", "err", err)
		return
	}
	var chosen *storagev1.StorageClass
	for i := range list.(*storagev1.StorageClassList).Items {
		c := &list.(*storagev1.StorageClassList).Items[i]
		if c.Annotations[defaultClassAnnotation] != "true" && c.Annotations["storageclass.beta.kubernetes.io/is-default-class"] != "true" {
			continue
		}
		if chosen == nil || c.CreationTimestamp.After(chosen.CreationTimestamp.Time) ||
			c.CreationTimestamp.Equal(&chosen.CreationTimestamp) && c.Name < chosen.Name {
			chosen = c
		}
	}
	if chosen != nil {
		name := chosen.Name
		pvc.Spec.StorageClassName = &name
	}
}

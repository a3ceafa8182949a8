package storagetest

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/k1s/k1s/internal/scheme"
	"github.com/k1s/k1s/internal/storage"
)

// Codec returns the JSON codec for core/v1 objects the suite's stores use.
func Codec() runtime.Codec {
	return scheme.New().Codecs.LegacyCodec(corev1.SchemeGroupVersion)
}

// NewPod and NewPodList are the NewFunc and NewListFunc of the stores under test.
func NewPod() runtime.Object     { return &corev1.Pod{} }
func NewPodList() runtime.Object { return &corev1.PodList{} }

// PodAttrs returns a Pod's labels and its selectable fields
// metadata.name, metadata.namespace, spec.nodeName and status.phase.
func PodAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil, fmt.Errorf("not a pod: %T", obj)
	}
	return labels.Set(pod.Labels), fields.Set{
		"metadata.name":      pod.Name,
		"metadata.namespace": pod.Namespace,
		"spec.nodeName":      pod.Spec.NodeName,
		"status.phase":       string(pod.Status.Phase),
	}, nil
}

// podPredicate builds a Predicate from selector strings ("" selects all).
func podPredicate(t *testing.T, label, field string) storage.Predicate {
	t.Helper()
	ls, err := labels.Parse(label)
	if err != nil {
		t.Fatalf("label selector %q: %v", label, err)
	}
	fs, err := fields.ParseSelector(field)
	if err != nil {
		t.Fatalf("field selector %q: %v", field, err)
	}
	return storage.Predicate{Label: ls, Field: fs, GetAttrs: PodAttrs}
}

// pod is the description of a test pod.
type pod struct {
	ns, name string
	labels   map[string]string
	node     string
	phase    corev1.PodPhase
}

func (p pod) object() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: p.ns,
			Name:      p.name,
			UID:       uidOf(p.ns, p.name),
			Labels:    p.labels,
		},
		Spec: corev1.PodSpec{
			NodeName:   p.node,
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
		},
		Status: corev1.PodStatus{Phase: p.phase},
	}
}

func uidOf(ns, name string) types.UID { return types.UID("uid-" + ns + "-" + name) }

package apiserver_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestServerSideApply(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	cms := ts.client().CoreV1().ConfigMaps("default")
	apply := func(manager string, force bool, body string) (*corev1.ConfigMap, error) {
		return cms.Patch(ctx, "ssa", types.ApplyYAMLPatchType, []byte(body), metav1.PatchOptions{FieldManager: manager, Force: &force})
	}
	// Apply creates.
	cm, err := apply("alice", false, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: '1'\n")
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["a"] != "1" || len(cm.ManagedFields) != 1 || cm.ManagedFields[0].Manager != "alice" {
		t.Fatalf("after first apply: data=%v managedFields=%+v", cm.Data, cm.ManagedFields)
	}
	// Another manager adds a field.
	cm, err = apply("bob", false, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  b: '2'\n")
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["a"] != "1" || cm.Data["b"] != "2" {
		t.Errorf("after bob: %v", cm.Data)
	}
	// Changing a field another manager owns conflicts, unless forced.
	if _, err := apply("bob", false, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: 'x'\n  b: '2'\n"); !apierrors.IsConflict(err) {
		t.Errorf("conflicting apply: got %v, want Conflict", err)
	}
	cm, err = apply("bob", true, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: 'x'\n  b: '2'\n")
	if err != nil || cm.Data["a"] != "x" {
		t.Fatalf("forced apply: %v %v", err, cm)
	}
	// A field dropped from alice's config (she no longer owns a) is left; one
	// dropped by its only owner is removed.
	cm, err = apply("bob", false, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: 'x'\n")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cm.Data["b"]; ok {
		t.Errorf("field b dropped by its only manager is still there: %v", cm.Data)
	}
	if _, err := cms.Patch(ctx, "ssa", types.ApplyYAMLPatchType, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\n"), metav1.PatchOptions{}); !apierrors.IsBadRequest(err) {
		t.Errorf("apply without fieldManager: got %v, want BadRequest", err)
	}
}

package claim

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

var kind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

func owner(deleting bool) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "rs", Namespace: "ns", UID: "owner"}}
	if deleting {
		now := metav1.Now()
		rs.DeletionTimestamp = &now
	}
	return rs
}

func pod(name, ns, app string, controller types.UID, deleting bool) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-" + name), Labels: map[string]string{"app": app}}}
	if controller != "" {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "x", UID: controller, Controller: new(true)}}
	}
	if deleting {
		now := metav1.Now()
		p.DeletionTimestamp = &now
	}
	return p
}

func TestDecide(t *testing.T) {
	sel := labels.SelectorFromSet(labels.Set{"app": "web"})
	tests := []struct {
		name          string
		ownerDeleting bool
		obj           *corev1.Pod
		want          Action
	}{
		{"ours and matching", false, pod("a", "ns", "web", "owner", false), Keep},
		{"ours and matching, owner deleting", true, pod("a", "ns", "web", "owner", false), Keep},
		{"ours, not matching", false, pod("a", "ns", "db", "owner", false), Release},
		{"ours, not matching, owner deleting", true, pod("a", "ns", "db", "owner", false), Ignore},
		{"someone else's", false, pod("a", "ns", "web", "other", false), Ignore},
		{"orphan matching", false, pod("a", "ns", "web", "", false), Adopt},
		{"orphan matching, owner deleting", true, pod("a", "ns", "web", "", false), Ignore},
		{"orphan being deleted", false, pod("a", "ns", "web", "", true), Ignore},
		{"orphan not matching", false, pod("a", "ns", "db", "", false), Ignore},
		{"orphan in another namespace", false, pod("a", "other", "web", "", false), Ignore},
	}
	for _, tt := range tests {
		if got := Decide(owner(tt.ownerDeleting), sel, tt.obj); got != tt.want {
			t.Errorf("%s: Decide = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPatches(t *testing.T) {
	var adopt map[string]any
	if err := json.Unmarshal(AdoptPatch(owner(false), kind, "uid-a"), &adopt); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"metadata": map[string]any{
		"uid": "uid-a",
		"ownerReferences": []any{map[string]any{
			"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "owner",
			"controller": true, "blockOwnerDeletion": true,
		}},
	}}
	if !reflect.DeepEqual(adopt, want) {
		t.Errorf("AdoptPatch = %v, want %v", adopt, want)
	}
	got := string(ReleasePatch("owner", "uid-a"))
	if want := `{"metadata":{"uid":"uid-a","ownerReferences":[{"$patch":"delete","uid":"owner"}]}}`; got != want {
		t.Errorf("ReleasePatch = %s, want %s", got, want)
	}
}

// fakePatcher records patches and fails those for names in fail.
type fakePatcher struct {
	patched []string
	fail    map[string]error
}

func (f *fakePatcher) patch(_ context.Context, name string, _ []byte) error {
	f.patched = append(f.patched, name)
	return f.fail[name]
}

func TestClaim(t *testing.T) {
	sel := labels.SelectorFromSet(labels.Set{"app": "web"})
	notFound := apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "gone")
	objs := []*corev1.Pod{
		pod("keep", "ns", "web", "owner", false),
		pod("adopt", "ns", "web", "", false),
		pod("gone", "ns", "web", "", false),
		pod("release", "ns", "db", "owner", false),
		pod("fails", "ns", "web", "", false),
		pod("other", "ns", "web", "other", false),
	}
	f := &fakePatcher{fail: map[string]error{"gone": notFound, "fails": errors.New("boom")}}
	rechecks := 0
	c := &Claimer{Owner: owner(false), Kind: kind, Selector: sel, Patch: f.patch,
		Recheck: func(context.Context) error { rechecks++; return nil }}
	claimed, err := Claim(context.Background(), c, objs)
	var names []string
	for _, p := range claimed {
		names = append(names, p.Name)
	}
	if !reflect.DeepEqual(names, []string{"keep", "adopt"}) {
		t.Errorf("claimed %v, want [keep adopt]", names)
	}
	if err == nil || errors.Is(err, notFound) {
		t.Errorf("error %v, want only the failed adoption", err)
	}
	if !reflect.DeepEqual(f.patched, []string{"adopt", "gone", "release", "fails"}) {
		t.Errorf("patched %v", f.patched)
	}
	if rechecks != 1 {
		t.Errorf("owner rechecked %d times, want once", rechecks)
	}
}

func TestClaimRecheckFails(t *testing.T) {
	sel := labels.SelectorFromSet(labels.Set{"app": "web"})
	f := &fakePatcher{}
	gone := errors.New("owner is being deleted")
	c := &Claimer{Owner: owner(false), Kind: kind, Selector: sel, Patch: f.patch,
		Recheck: func(context.Context) error { return gone }}
	claimed, err := Claim(context.Background(), c, []*corev1.Pod{pod("a", "ns", "web", "", false), pod("k", "ns", "web", "owner", false)})
	if len(claimed) != 1 || claimed[0].Name != "k" || !errors.Is(err, gone) || len(f.patched) != 0 {
		t.Errorf("claimed %d, err %v, patched %v; want only the owned pod, the recheck error, no patch", len(claimed), err, f.patched)
	}
}

func TestRecheckOwner(t *testing.T) {
	fresh := owner(false)
	ok := RecheckOwner(func(context.Context) (metav1.Object, error) { return fresh, nil }, "owner")
	if err := ok(context.Background()); err != nil {
		t.Errorf("alive owner: %v", err)
	}
	replaced := RecheckOwner(func(context.Context) (metav1.Object, error) { return fresh, nil }, "older")
	if err := replaced(context.Background()); err == nil {
		t.Error("replaced owner: no error")
	}
	deleting := RecheckOwner(func(context.Context) (metav1.Object, error) { return owner(true), nil }, "owner")
	if err := deleting(context.Background()); err == nil {
		t.Error("deleting owner: no error")
	}
}

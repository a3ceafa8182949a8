package garbagecollector

import (
	"context"
	"errors"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery/fake"
	clienttesting "k8s.io/client-go/testing"
)

func TestDiscoverResources(t *testing.T) {
	all := []string{"list", "watch", "delete", "get"}
	d := &fake.FakeDiscovery{Fake: &clienttesting.Fake{Resources: []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "pods", Kind: "Pod", Namespaced: true, Verbs: all},
			{Name: "pods/status", Kind: "Pod", Namespaced: true, Verbs: all},
			{Name: "nodes", Kind: "Node", Verbs: all},
			{Name: "events", Kind: "Event", Namespaced: true, Verbs: all},
			{Name: "bindings", Kind: "Binding", Namespaced: true, Verbs: []string{"create"}},
		}},
		// The first version listed is the preferred one.
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{{Name: "replicasets", Kind: "ReplicaSet", Namespaced: true, Verbs: all}}},
		{GroupVersion: "apps/v1beta2", APIResources: []metav1.APIResource{{Name: "replicasets", Kind: "ReplicaSet", Namespaced: true, Verbs: all}}},
	}}}
	res, err := discoverResources(context.Background(), d, []schema.GroupResource{{Resource: "events"}})
	if err != nil {
		t.Fatal(err)
	}
	var watched []string
	for gvr := range res.watched {
		watched = append(watched, gvr.String())
	}
	slices.Sort(watched)
	want := []string{"/v1, Resource=nodes", "/v1, Resource=pods", "apps/v1, Resource=replicasets"}
	if !slices.Equal(watched, want) {
		t.Errorf("watched %v, want %v", watched, want)
	}

	tests := []struct {
		apiVersion, kind string
		want             string
		namespaced       bool
	}{
		{"v1", "Pod", "/v1, Resource=pods", true},
		{"v1", "Node", "/v1, Resource=nodes", false},
		{"apps/v1beta2", "ReplicaSet", "apps/v1beta2, Resource=replicasets", true},
		{"apps/v1beta1", "ReplicaSet", "apps/v1, Resource=replicasets", true}, // not served: the preferred version
	}
	for _, tt := range tests {
		info, err := res.lookup(tt.apiVersion, tt.kind)
		if err != nil {
			t.Errorf("%s %s: %v", tt.apiVersion, tt.kind, err)
			continue
		}
		if info.gvr.String() != tt.want || info.namespaced != tt.namespaced {
			t.Errorf("%s %s: got %s namespaced=%v, want %s namespaced=%v", tt.apiVersion, tt.kind, info.gvr, info.namespaced, tt.want, tt.namespaced)
		}
	}
	var unknown *errUnknownKind
	if _, err := res.lookup("example.com/v1", "Widget"); !errors.As(err, &unknown) {
		t.Errorf("unknown kind: got %v", err)
	}
}

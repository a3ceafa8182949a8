package openapi

import (
	"reflect"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/applyconfigurations"
	smdschema "sigs.k8s.io/structured-merge-diff/v6/schema"

	"github.com/k1s/k1s/internal/scheme"
)

// TestListAndMapTypesMatchClientGo compares the list and map types of every
// definition reachable from the k1s scheme with the structured-merge-diff
// schema client-go generates from the +listType/+mapType/+structType
// markers of k8s.io/api, which reflection cannot see. A failure after a
// k8s.io/api upgrade means listtypes.go needs the new exceptions.
func TestListAndMapTypesMatchClientGo(t *testing.T) {
	s := scheme.New()
	converter := applyconfigurations.NewTypeConverter(s.Scheme)
	typed, err := converter.ObjectToTyped(&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod"}})
	if err != nil {
		t.Fatal(err)
	}
	smd := typed.Schema()

	defs := newDefinitions(func(reflect.Type) []schema.GroupVersionKind { return nil })
	for gvk, typ := range s.AllKnownTypes() {
		if gvk.Version == runtime.APIVersionInternal {
			continue
		}
		if _, err := defs.define(typ); err != nil {
			t.Fatal(err)
		}
	}
	compared := 0
	for name, def := range defs.schemas {
		td, ok := smd.FindNamedType(name)
		if !ok || td.Map == nil {
			continue // options, lists, reviews: types without apply configurations
		}
		wantAtomic := td.Map.ElementRelationship == smdschema.Atomic
		if gotAtomic := def["x-kubernetes-map-type"] == "atomic"; gotAtomic != wantAtomic {
			t.Errorf("%s: atomic struct = %v, want %v", name, gotAtomic, wantAtomic)
		}
		props, _ := def["properties"].(object)
		for _, f := range td.Map.Fields {
			p, ok := props[f.Name].(object)
			if !ok {
				t.Errorf("%s: no field %s", name, f.Name)
				continue
			}
			if f.Type.NamedType != nil {
				continue // a struct of its own, compared as a definition
			}
			if l := f.Type.Inlined.List; l != nil {
				compared++
				want := listType{kind: "atomic"}
				if l.ElementRelationship == smdschema.Associative {
					want = listType{kind: "set"}
					if len(l.Keys) > 0 {
						want = listType{kind: "map", keys: l.Keys}
					}
				}
				got := listType{kind: p["x-kubernetes-list-type"].(string)}
				if keys, ok := p["x-kubernetes-list-map-keys"].([]any); ok {
					for _, k := range keys {
						got.keys = append(got.keys, k.(string))
					}
				}
				if got.kind != want.kind || !slices.Equal(got.keys, want.keys) {
					t.Errorf("%s.%s: list type %v, want %v", name, f.Name, got, want)
				}
			}
			if m := f.Type.Inlined.Map; m != nil {
				wantAtomic := m.ElementRelationship == smdschema.Atomic
				if gotAtomic := p["x-kubernetes-map-type"] == "atomic"; gotAtomic != wantAtomic {
					t.Errorf("%s.%s: atomic map = %v, want %v", name, f.Name, gotAtomic, wantAtomic)
				}
			}
		}
	}
	if compared < 100 {
		t.Errorf("compared only %d list fields", compared)
	}
}

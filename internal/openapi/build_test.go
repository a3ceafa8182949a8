package openapi

import (
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/openapi3"
	"k8s.io/client-go/rest"

	"github.com/k1s/k1s/internal/registry"
	"github.com/k1s/k1s/internal/scheme"
)

// schemeResources makes a resource of every kind in the k1s scheme that has
// a list kind: more than the api-server serves.
func schemeResources(s *scheme.Scheme) []*registry.Resource {
	var out []*registry.Resource
	for gvk, typ := range s.AllKnownTypes() {
		if gvk.Version == runtime.APIVersionInternal || gvk.Group == "meta.k8s.io" || strings.HasSuffix(gvk.Kind, "List") {
			continue
		}
		listType, ok := s.AllKnownTypes()[gvk.GroupVersion().WithKind(gvk.Kind+"List")]
		if !ok {
			continue
		}
		typ, listType := typ, listType
		out = append(out, &registry.Resource{
			Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind,
			Plural: strings.ToLower(gvk.Kind) + "s", Namespaced: true,
			New:     func() runtime.Object { return reflect.New(typ).Interface().(runtime.Object) },
			NewList: func() runtime.Object { return reflect.New(listType).Interface().(runtime.Object) },
			Status:  &registry.StatusSubresource{},
		})
	}
	return out
}

// TestBuildTime reports (does not assert) how long generating every JSON
// document takes, and the protobuf conversion of /openapi/v2.
func TestBuildTime(t *testing.T) {
	s := scheme.New()
	resources := schemeResources(s)
	srv, err := New(resources, s)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := srv.Build(); err != nil {
		t.Fatal(err)
	}
	v3 := time.Since(start)
	size := 0
	for _, d := range srv.v3.byPath {
		size += len(d.data)
	}
	start = time.Now()
	v2, err := srv.v2Document()
	if err != nil {
		t.Fatal(err)
	}
	v2Time := time.Since(start)
	start = time.Now()
	if _, err := srv.proto("v2", v2.data, v2Proto); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d resources, %d group-versions: schemas and v3 documents (%d KiB) built in %v; "+
		"v2 document (%d KiB) in %v, its protobuf form in %v",
		len(resources), len(srv.v3.byPath), size/1024, v3, len(v2.data)/1024, v2Time, time.Since(start))
}

// TestDeterministic checks that building twice gives the same bytes: the
// hashes in the v3 root are cached by clients as immutable URLs.
func TestDeterministic(t *testing.T) {
	s := scheme.New()
	var roots [2]string
	for i := range roots {
		srv, err := New(schemeResources(s), s)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Build(); err != nil {
			t.Fatal(err)
		}
		v2, err := srv.v2Document()
		if err != nil {
			t.Fatal(err)
		}
		roots[i] = string(srv.v3.root.data) + v2.hash
	}
	if roots[0] != roots[1] {
		t.Error("two builds of the same resources differ")
	}
}

// TestRegistry builds the documents of the resources k1s serves and checks
// that kubectl would send fieldValidation to every one of them.
func TestRegistry(t *testing.T) {
	s := scheme.New()
	resources := registry.All(registry.Options{})
	srv, err := New(resources, s)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := srv.Build(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d resources: schemas and v3 documents built in %v", len(resources), time.Since(start))
	ts := httptest.NewServer(srv)
	defer ts.Close()
	root := openapi3.NewRoot(discovery.NewDiscoveryClientForConfigOrDie(&rest.Config{Host: ts.URL}).OpenAPIV3())
	for _, r := range resources {
		doc, err := root.GVSpec(r.GroupVersion())
		if err != nil {
			t.Fatalf("GVSpec(%s): %v", r.GroupVersion(), err)
		}
		if !supportsQueryParamV3(doc, r.GroupVersionKind(), "fieldValidation") {
			t.Errorf("%s: PATCH does not declare fieldValidation", r.GroupVersionKind())
		}
	}
}

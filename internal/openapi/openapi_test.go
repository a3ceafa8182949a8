package openapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/openapi3"
	"k8s.io/client-go/rest"
	"k8s.io/kube-openapi/pkg/spec3"
	kproto "k8s.io/kube-openapi/pkg/util/proto"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/k1s/k1s/internal/registry"
	"github.com/k1s/k1s/internal/scheme"
)

// testResources are a few resources of both scopes, in the core and a named
// group, with and without subresources.
func testResources() []*registry.Resource {
	return []*registry.Resource{
		{Group: "apps", Version: "v1", Kind: "Deployment", Plural: "deployments", Namespaced: true,
			New:     func() runtime.Object { return &appsv1.Deployment{} },
			NewList: func() runtime.Object { return &appsv1.DeploymentList{} },
			Status:  &registry.StatusSubresource{}, Scale: &registry.ScaleSubresource{}},
		{Group: "apps", Version: "v1", Kind: "ReplicaSet", Plural: "replicasets", Namespaced: true,
			New:     func() runtime.Object { return &appsv1.ReplicaSet{} },
			NewList: func() runtime.Object { return &appsv1.ReplicaSetList{} },
			Status:  &registry.StatusSubresource{}, Scale: &registry.ScaleSubresource{}},
		{Group: "", Version: "v1", Kind: "Pod", Plural: "pods", Namespaced: true,
			New:     func() runtime.Object { return &corev1.Pod{} },
			NewList: func() runtime.Object { return &corev1.PodList{} },
			Status:  &registry.StatusSubresource{}},
		{Group: "", Version: "v1", Kind: "Namespace", Plural: "namespaces",
			New:     func() runtime.Object { return &corev1.Namespace{} },
			NewList: func() runtime.Object { return &corev1.NamespaceList{} },
			Status:  &registry.StatusSubresource{}},
		{Group: "", Version: "v1", Kind: "Service", Plural: "services", Namespaced: true,
			New:     func() runtime.Object { return &corev1.Service{} },
			NewList: func() runtime.Object { return &corev1.ServiceList{} }},
	}
}

func newTestServer(t *testing.T, resources []*registry.Resource) (*Server, *httptest.Server) {
	t.Helper()
	srv, err := New(resources, scheme.New())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return srv, ts
}

func get(t *testing.T, url, accept string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// v3Doc fetches and decodes one group-version document as plain JSON.
func v3Doc(t *testing.T, ts *httptest.Server, key string) map[string]any {
	t.Helper()
	resp := get(t, ts.URL+"/openapi/v3/"+key, "application/json")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", key, resp.Status)
	}
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// at walks a decoded JSON document along keys.
func at(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func TestV3Schemas(t *testing.T) {
	_, ts := newTestServer(t, testResources())
	apps := v3Doc(t, ts, "apis/apps/v1")
	schemas := at(apps, "components", "schemas")
	def := func(name string) any { return at(schemas, name) }

	deployment := def("io.k8s.api.apps.v1.Deployment")
	if deployment == nil {
		t.Fatal("no Deployment in apps/v1")
	}
	wantGVK := []any{map[string]any{"group": "apps", "version": "v1", "kind": "Deployment"}}
	if got := at(deployment, "x-kubernetes-group-version-kind"); !reflect.DeepEqual(got, wantGVK) {
		t.Errorf("Deployment gvk = %v, want %v", got, wantGVK)
	}
	spec := at(deployment, "properties", "spec")
	if got := at(spec, "description"); got == nil || !strings.Contains(got.(string), "desired behavior") {
		t.Errorf("Deployment.spec description = %v", got)
	}
	if got, want := at(spec, "allOf"), []any{map[string]any{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Deployment.spec allOf = %v, want %v", got, want)
	}
	strategy := at(def("io.k8s.api.apps.v1.DeploymentSpec"), "properties", "strategy")
	if got := at(strategy, "description"); got == nil || !strings.Contains(got.(string), "replace existing pods") {
		t.Errorf("DeploymentSpec.strategy description = %v", got)
	}
	if got := at(def("io.k8s.api.apps.v1.DeploymentSpec"), "required"); !reflect.DeepEqual(got, []any{"selector", "template"}) {
		t.Errorf("DeploymentSpec required = %v", got)
	}
	if got := at(deployment, "properties", "apiVersion", "description"); got == nil {
		t.Error("inlined TypeMeta lost its description")
	}

	containers := at(def("io.k8s.api.core.v1.PodSpec"), "properties", "containers")
	for k, want := range map[string]any{
		"x-kubernetes-patch-merge-key": "name",
		"x-kubernetes-patch-strategy":  "merge",
		"x-kubernetes-list-type":       "map",
		"x-kubernetes-list-map-keys":   []any{"name"},
		"type":                         "array",
	} {
		if got := at(containers, k); !reflect.DeepEqual(got, want) {
			t.Errorf("PodSpec.containers %s = %v, want %v", k, got, want)
		}
	}
	if got, want := at(containers, "items"), map[string]any{"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}; !reflect.DeepEqual(got, want) {
		t.Errorf("PodSpec.containers items = %v, want %v", got, want)
	}
	if got := at(def("io.k8s.api.core.v1.Container"), "properties", "ports", "x-kubernetes-list-map-keys"); !reflect.DeepEqual(got, []any{"containerPort", "protocol"}) {
		t.Errorf("Container.ports keys = %v", got)
	}
	if got := at(def("io.k8s.api.core.v1.PodSpec"), "properties", "tolerations", "x-kubernetes-list-type"); got != "atomic" {
		t.Errorf("PodSpec.tolerations list type = %v", got)
	}
	if got := at(def("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), "properties", "finalizers", "x-kubernetes-list-type"); got != "set" {
		t.Errorf("ObjectMeta.finalizers list type = %v", got)
	}
	if got := at(def("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"), "x-kubernetes-map-type"); got != "atomic" {
		t.Errorf("LabelSelector map type = %v", got)
	}
	if got := at(def("io.k8s.api.core.v1.ResourceRequirements"), "properties", "limits", "additionalProperties"); !reflect.DeepEqual(got,
		map[string]any{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity"}) {
		t.Errorf("ResourceRequirements.limits values = %v", got)
	}

	for _, tc := range []struct {
		name string
		want map[string]any
	}{
		{"io.k8s.apimachinery.pkg.api.resource.Quantity", map[string]any{"type": nil, "x-kubernetes-int-or-string": true, "format": "quantity"}},
		{"io.k8s.apimachinery.pkg.util.intstr.IntOrString", map[string]any{"type": nil, "x-kubernetes-int-or-string": true, "format": "int-or-string"}},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.Time", map[string]any{"type": "string", "format": "date-time"}},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1", map[string]any{"type": "object"}},
	} {
		for k, want := range tc.want {
			if got := at(def(tc.name), k); got != want {
				t.Errorf("%s %s = %v, want %v", tc.name, k, got, want)
			}
		}
	}
	if got, want := at(def("io.k8s.apimachinery.pkg.util.intstr.IntOrString"), "oneOf"), []any{
		map[string]any{"type": "integer"}, map[string]any{"type": "string"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("IntOrString oneOf = %v, want %v", got, want)
	}
	for _, tc := range []struct {
		def, field string
		want       map[string]any
	}{
		{"io.k8s.api.apps.v1.DeploymentSpec", "replicas", map[string]any{"type": "integer", "format": "int32"}},
		{"io.k8s.api.core.v1.PodSpec", "activeDeadlineSeconds", map[string]any{"type": "integer", "format": "int64"}},
		{"io.k8s.api.core.v1.PodSpec", "hostNetwork", map[string]any{"type": "boolean"}},
		{"io.k8s.api.core.v1.PodSpec", "nodeSelector", map[string]any{"type": "object", "x-kubernetes-map-type": "atomic"}},
		{"io.k8s.api.core.v1.SecretVolumeSource", "defaultMode", map[string]any{"type": "integer", "format": "int32"}},
	} {
		for k, want := range tc.want {
			if got := at(def(tc.def), "properties", tc.field, k); got != want {
				t.Errorf("%s.%s %s = %v, want %v", tc.def, tc.field, k, got, want)
			}
		}
	}

	// The apps/v1 document carries what it refers to, and only that.
	for _, name := range []string{
		"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "io.k8s.api.core.v1.PodSpec",
		"io.k8s.api.autoscaling.v1.Scale", "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
		"io.k8s.apimachinery.pkg.apis.meta.v1.Status", "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
	} {
		if def(name) == nil {
			t.Errorf("apps/v1 lacks %s", name)
		}
	}
	for _, name := range []string{"io.k8s.api.core.v1.Service", "io.k8s.api.core.v1.Namespace"} {
		if def(name) != nil {
			t.Errorf("apps/v1 carries unrelated %s", name)
		}
	}
	core := v3Doc(t, ts, "api/v1")
	if at(core, "components", "schemas", "io.k8s.api.apps.v1.Deployment") != nil {
		t.Error("core/v1 carries Deployment")
	}
}

func TestV3Paths(t *testing.T) {
	_, ts := newTestServer(t, testResources())
	apps := v3Doc(t, ts, "apis/apps/v1")
	core := v3Doc(t, ts, "api/v1")
	for _, tc := range []struct {
		doc    map[string]any
		path   string
		method string
		action string
		kind   string
	}{
		{apps, "/apis/apps/v1/namespaces/{namespace}/deployments", "get", "list", "Deployment"},
		{apps, "/apis/apps/v1/namespaces/{namespace}/deployments", "post", "post", "Deployment"},
		{apps, "/apis/apps/v1/namespaces/{namespace}/deployments", "delete", "deletecollection", "Deployment"},
		{apps, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "get", "get", "Deployment"},
		{apps, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "put", "put", "Deployment"},
		{apps, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "patch", "patch", "Deployment"},
		{apps, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "delete", "delete", "Deployment"},
		{apps, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status", "patch", "patch", "Deployment"},
		{apps, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", "put", "put", "Scale"},
		{apps, "/apis/apps/v1/deployments", "get", "list", "Deployment"},
		{core, "/api/v1/namespaces/{namespace}/pods/{name}", "patch", "patch", "Pod"},
		{core, "/api/v1/pods", "get", "list", "Pod"},
		{core, "/api/v1/namespaces", "post", "post", "Namespace"},
		{core, "/api/v1/namespaces/{name}/status", "get", "get", "Namespace"},
	} {
		op := at(tc.doc, "paths", tc.path, tc.method)
		if op == nil {
			t.Errorf("no %s %s", tc.method, tc.path)
			continue
		}
		if got := at(op, "x-kubernetes-action"); got != tc.action {
			t.Errorf("%s %s action = %v, want %s", tc.method, tc.path, got, tc.action)
		}
		if got := at(op, "x-kubernetes-group-version-kind", "kind"); got != tc.kind {
			t.Errorf("%s %s kind = %v, want %s", tc.method, tc.path, got, tc.kind)
		}
	}
	for _, absent := range []string{"/api/v1/namespaces/{namespace}/services/{name}/status", "/api/v1/namespaces/{namespace}/pods/{name}/scale"} {
		if at(core, "paths", absent) != nil {
			t.Errorf("path %s should not exist", absent)
		}
	}
	patch := at(apps, "paths", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "patch")
	for _, mt := range []string{"application/json-patch+json", "application/merge-patch+json",
		"application/strategic-merge-patch+json", "application/apply-patch+yaml"} {
		if at(patch, "requestBody", "content", mt, "schema", "$ref") != "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch" {
			t.Errorf("PATCH does not consume %s", mt)
		}
	}
}

// TestClientGoParsesV3 loads the documents the way kubectl explain and
// kubectl apply do: through client-go's openapi3 root over HTTP.
func TestClientGoParsesV3(t *testing.T) {
	resources := testResources()
	_, ts := newTestServer(t, resources)
	dc := discovery.NewDiscoveryClientForConfigOrDie(&rest.Config{Host: ts.URL})
	root := openapi3.NewRoot(dc.OpenAPIV3())
	gvs, err := root.GroupVersions()
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(gvs, func(a, b schema.GroupVersion) int { return strings.Compare(a.String(), b.String()) })
	if want := []schema.GroupVersion{{Group: "apps", Version: "v1"}, {Version: "v1"}}; !reflect.DeepEqual(gvs, want) {
		t.Errorf("group versions = %v, want %v", gvs, want)
	}
	for _, r := range resources {
		doc, err := root.GVSpec(r.GroupVersion())
		if err != nil {
			t.Fatalf("GVSpec(%s): %v", r.GroupVersion(), err)
		}
		// What cli-runtime's QueryParamVerifierV3 checks before kubectl
		// sends fieldValidation instead of validating on the client.
		if !supportsQueryParamV3(doc, r.GroupVersionKind(), "fieldValidation") {
			t.Errorf("%s: PATCH does not declare fieldValidation", r.GroupVersionKind())
		}
		if supportsQueryParamV3(doc, r.GroupVersionKind(), "noSuchParam") {
			t.Errorf("%s: PATCH declares noSuchParam", r.GroupVersionKind())
		}
		// What kubectl apply checks before it builds a strategic merge patch
		// from the v3 schema.
		if !supportsStrategicMergeV3(doc, r.GroupVersionKind()) {
			t.Errorf("%s: PATCH does not accept strategic merge patches", r.GroupVersionKind())
		}
		if _, err := root.GVSpecAsMap(r.GroupVersion()); err != nil {
			t.Errorf("GVSpecAsMap(%s): %v", r.GroupVersion(), err)
		}
	}
	if _, err := root.GVSpec(schema.GroupVersion{Group: "batch", Version: "v1"}); err == nil {
		t.Error("GVSpec(batch/v1) succeeded for a group that is not served")
	}
}

// supportsQueryParamV3 is cli-runtime's check: every PATCH operation of the
// kind (the verifier stops at the first it meets, in map order) lists the
// parameter itself.
func supportsQueryParamV3(doc *spec3.OpenAPI, gvk schema.GroupVersionKind, name string) bool {
	found := false
	for _, p := range doc.Paths.Paths {
		op := p.Patch
		if op == nil || !hasGVK(op.Extensions, gvk) {
			continue
		}
		has := false
		for _, param := range op.Parameters {
			if param.Name == name {
				has = true
			}
		}
		if !has {
			return false
		}
		found = true
	}
	return found
}

// supportsStrategicMergeV3 is kubectl apply's gvkSupportsPatchOpenAPIV3, for
// every PATCH of the kind.
func supportsStrategicMergeV3(doc *spec3.OpenAPI, gvk schema.GroupVersionKind) bool {
	found := false
	for _, p := range doc.Paths.Paths {
		op := p.Patch
		if op == nil || !hasGVK(op.Extensions, gvk) {
			continue
		}
		if op.RequestBody == nil || op.RequestBody.Content["application/strategic-merge-patch+json"] == nil {
			return false
		}
		found = true
	}
	return found
}

func hasGVK(ext spec.Extensions, gvk schema.GroupVersionKind) bool {
	var m map[string]string
	if err := ext.GetObject("x-kubernetes-group-version-kind", &m); err != nil {
		return false
	}
	return m["group"] == gvk.Group && m["version"] == gvk.Version && m["kind"] == gvk.Kind
}

// TestStrategicMergePatch computes kubectl apply's three-way patch with the
// patch metadata of our v3 and v2 schemas and with that of the Go structs
// (kubectl's last resort): they must agree.
func TestStrategicMergePatch(t *testing.T) {
	_, ts := newTestServer(t, testResources())
	dc := discovery.NewDiscoveryClientForConfigOrDie(&rest.Config{Host: ts.URL})
	doc, err := openapi3.NewRoot(dc.OpenAPIV3()).GVSpec(schema.GroupVersion{Group: "apps", Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	v2, err := dc.OpenAPISchema()
	if err != nil {
		t.Fatal(err)
	}
	models, err := kproto.NewOpenAPIData(v2)
	if err != nil {
		t.Fatal(err)
	}

	original := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"a":"1"},"finalizers":["x"]},
		"spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
		"spec":{"containers":[{"name":"a","image":"nginx:1","env":[{"name":"X","value":"1"}],"ports":[{"containerPort":80}]},
		{"name":"b","image":"busybox"}],"tolerations":[{"key":"k","operator":"Exists"}]}}}}`
	modified := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"b":"2"},"finalizers":["x","y"]},
		"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
		"spec":{"containers":[{"name":"a","image":"nginx:2","env":[{"name":"Y","value":"2"}],"ports":[{"containerPort":8080}],
		"resources":{"limits":{"cpu":"1"}}}],"tolerations":[{"key":"j","operator":"Exists"}]}}}}`
	current := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"a":"1","c":"3"},"finalizers":["x","z"]},
		"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
		"spec":{"containers":[{"name":"a","image":"nginx:1","env":[{"name":"X","value":"1"}],"ports":[{"containerPort":80}],
		"terminationMessagePath":"/dev/termination-log"},{"name":"b","image":"busybox"},{"name":"c","image":"sidecar"}],
		"tolerations":[{"key":"k","operator":"Exists"}]}}}}`

	fromStruct, err := strategicpatch.NewPatchMetaFromStruct(&appsv1.Deployment{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := strategicpatch.CreateThreeWayMergePatch([]byte(original), []byte(modified), []byte(current), fromStruct, true)
	if err != nil {
		t.Fatal(err)
	}
	var deployment *spec.Schema
	for _, s := range doc.Components.Schemas {
		var gvks []map[string]string
		if s.Extensions.GetObject("x-kubernetes-group-version-kind", &gvks) == nil && len(gvks) == 1 && gvks[0]["kind"] == "Deployment" {
			deployment = s
		}
	}
	if deployment == nil {
		t.Fatal("no schema carries Deployment's gvk")
	}
	for name, meta := range map[string]strategicpatch.LookupPatchMeta{
		"v3": strategicpatch.PatchMetaFromOpenAPIV3{Schema: deployment, SchemaList: doc.Components.Schemas},
		"v2": strategicpatch.NewPatchMetaFromOpenAPI(models.LookupModel("io.k8s.api.apps.v1.Deployment")),
	} {
		got, err := strategicpatch.CreateThreeWayMergePatch([]byte(original), []byte(modified), []byte(current), meta, true)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !jsonEqual(t, got, want) {
			t.Errorf("%s patch:\n%s\nwant (from the Go structs):\n%s", name, got, want)
		}
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

// TestClientGoParsesV2 reads /openapi/v2 the way client-go's
// discovery.OpenAPISchema does (protobuf) and feeds it to the parsers kubectl
// uses for client-side validation and patch metadata.
func TestClientGoParsesV2(t *testing.T) {
	resources := testResources()
	_, ts := newTestServer(t, resources)
	dc := discovery.NewDiscoveryClientForConfigOrDie(&rest.Config{Host: ts.URL})
	doc, err := dc.OpenAPISchema()
	if err != nil {
		t.Fatal(err)
	}
	models, err := kproto.NewOpenAPIData(doc)
	if err != nil {
		t.Fatal(err)
	}
	kind, ok := models.LookupModel("io.k8s.api.apps.v1.Deployment").(*kproto.Kind)
	if !ok {
		t.Fatalf("Deployment model is %T", models.LookupModel("io.k8s.api.apps.v1.Deployment"))
	}
	if _, ok := kind.Fields["spec"].(*kproto.Ref); !ok {
		t.Errorf("Deployment.spec is %T, want a reference", kind.Fields["spec"])
	}
	if kind.Fields["spec"].GetDescription() == "" {
		t.Error("Deployment.spec has no description")
	}
	podSpec := models.LookupModel("io.k8s.api.core.v1.PodSpec").(*kproto.Kind)
	if got := podSpec.Fields["containers"].GetExtensions()["x-kubernetes-patch-merge-key"]; got != "name" {
		t.Errorf("PodSpec.containers merge key = %v", got)
	}

	// What cli-runtime's v2 QueryParamVerifier (the fallback of the v3 one)
	// and kubectl's GetConsumes look at.
	for _, r := range resources {
		gvk := r.GroupVersionKind()
		var patch *openapi_v2.Operation
		for _, p := range doc.GetPaths().GetPath() {
			if op := p.GetValue().GetPatch(); op != nil && v2HasGVK(t, op.GetVendorExtension(), gvk) {
				patch = op
				break
			}
		}
		if patch == nil {
			t.Errorf("%s: no PATCH operation", gvk)
			continue
		}
		hasParam := false
		for _, param := range patch.GetParameters() {
			if param.GetParameter().GetNonBodyParameter().GetQueryParameterSubSchema().GetName() == "fieldValidation" {
				hasParam = true
			}
		}
		if !hasParam {
			t.Errorf("%s: PATCH lacks fieldValidation", gvk)
		}
		if !slices.Contains(patch.GetConsumes(), "application/strategic-merge-patch+json") {
			t.Errorf("%s: PATCH consumes %v", gvk, patch.GetConsumes())
		}
	}

	// The JSON form is the same document.
	resp := get(t, ts.URL+"/openapi/v2", "application/json")
	var j map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&j); err != nil {
		t.Fatal(err)
	}
	if got := at(j, "definitions", "io.k8s.api.apps.v1.Deployment", "properties", "spec", "$ref"); got != "#/definitions/io.k8s.api.apps.v1.DeploymentSpec" {
		t.Errorf("v2 Deployment.spec $ref = %v", got)
	}
	quantity := at(j, "definitions", "io.k8s.apimachinery.pkg.api.resource.Quantity")
	if at(quantity, "type") != "string" || at(quantity, "x-kubernetes-int-or-string") != true {
		t.Errorf("v2 Quantity = %v", quantity)
	}
	if len(j["paths"].(map[string]any)) != len(doc.GetPaths().GetPath()) {
		t.Error("JSON and protobuf disagree on the paths")
	}
}

func v2HasGVK(t *testing.T, exts []*openapi_v2.NamedAny, gvk schema.GroupVersionKind) bool {
	for _, ext := range exts {
		if ext.GetName() != "x-kubernetes-group-version-kind" {
			continue
		}
		// The extension value is kept as YAML; JSON is YAML.
		var m map[string]string
		if err := yamlUnmarshal(ext.GetValue().GetYaml(), &m); err != nil {
			t.Fatalf("gvk extension %q: %v", ext.GetValue().GetYaml(), err)
		}
		return m["group"] == gvk.Group && m["version"] == gvk.Version && m["kind"] == gvk.Kind
	}
	return false
}

func TestV2ProtobufRoundTrip(t *testing.T) {
	_, ts := newTestServer(t, testResources())
	resp := get(t, ts.URL+"/openapi/v2", mediaV2ProtoAsked)
	if ct := resp.Header.Get("Content-Type"); ct != mediaV2Proto {
		t.Fatalf("Content-Type = %q", ct)
	}
	data := readAll(t, resp)
	doc := &openapi_v2.Document{}
	if err := proto.Unmarshal(data, doc); err != nil {
		t.Fatal(err)
	}
	again, err := proto.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	back := &openapi_v2.Document{}
	if err := proto.Unmarshal(again, back); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(doc, back) {
		t.Error("protobuf document does not survive a round trip")
	}
	if doc.GetSwagger() != "2.0" || len(doc.GetDefinitions().GetAdditionalProperties()) == 0 {
		t.Errorf("swagger %q with %d definitions", doc.GetSwagger(), len(doc.GetDefinitions().GetAdditionalProperties()))
	}
}

func TestV3Protobuf(t *testing.T) {
	_, ts := newTestServer(t, testResources())
	resp := get(t, ts.URL+"/openapi/v3/apis/apps/v1", mediaV3ProtoAsked)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s", resp.Status)
	}
	if len(readAll(t, resp)) == 0 {
		t.Error("empty protobuf document")
	}
}

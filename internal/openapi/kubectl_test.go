package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/k1s/k1s/internal/registry"
	"github.com/k1s/k1s/internal/scheme"
)

// fakeAPIServer is just enough of an api-server for kubectl apply and
// explain: discovery, the OpenAPI documents under test, and an in-memory
// store for one resource that records the requests it gets.
type fakeAPIServer struct {
	openapi   http.Handler
	resources []*registry.Resource

	mu       sync.Mutex
	objects  map[string][]byte // by URL path
	requests []recorded
}

type recorded struct {
	method, path, query, contentType string
	body                             []byte
}

func (f *fakeAPIServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if strings.HasPrefix(p, "/openapi/") {
		f.record(r, nil)
		f.openapi.ServeHTTP(w, r)
		return
	}
	switch {
	case p == "/api":
		writeJSON(w, http.StatusOK, metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"}})
		return
	case p == "/apis":
		list := metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
		seen := map[string]bool{}
		for _, res := range f.resources {
			if res.Group == "" || seen[res.Group] {
				continue
			}
			seen[res.Group] = true
			v := metav1.GroupVersionForDiscovery{GroupVersion: res.GroupVersion().String(), Version: res.Version}
			list.Groups = append(list.Groups, metav1.APIGroup{Name: res.Group, Versions: []metav1.GroupVersionForDiscovery{v}, PreferredVersion: v})
		}
		writeJSON(w, http.StatusOK, list)
		return
	}
	for _, gv := range []schema.GroupVersion{{Version: "v1"}, {Group: "apps", Version: "v1"}} {
		if p != groupPrefix(gv) {
			continue
		}
		list := metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
		for _, res := range f.resources {
			if res.GroupVersion() != gv {
				continue
			}
			verbs := metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name: res.Plural, Namespaced: res.Namespaced, Kind: res.Kind, Verbs: verbs})
			if res.Status != nil {
				list.APIResources = append(list.APIResources, metav1.APIResource{
					Name: res.Plural + "/status", Namespaced: res.Namespaced, Kind: res.Kind, Verbs: metav1.Verbs{"get", "patch", "update"}})
			}
		}
		writeJSON(w, http.StatusOK, list)
		return
	}

	body, _ := io.ReadAll(r.Body)
	f.record(r, body)
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		if obj, ok := f.objects[p]; ok {
			w.Header().Set("Content-Type", "application/json")
			w.Write(obj)
			return
		}
		writeJSON(w, http.StatusNotFound, metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status: metav1.StatusFailure, Reason: metav1.StatusReasonNotFound, Code: http.StatusNotFound, Message: "not found"})
	case http.MethodPost:
		var obj map[string]any
		if err := json.Unmarshal(body, &obj); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		name := obj["metadata"].(map[string]any)["name"].(string)
		f.objects[p+"/"+name] = body
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write(body)
	case http.MethodPatch:
		// The patch itself is what the test looks at; answer with the
		// stored object.
		w.Header().Set("Content-Type", "application/json")
		w.Write(f.objects[p])
	default:
		http.Error(w, "unexpected", http.StatusMethodNotAllowed)
	}
}

func (f *fakeAPIServer) record(r *http.Request, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, recorded{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery,
		contentType: r.Header.Get("Content-Type"), body: body})
}

// takeRequests returns and forgets the recorded requests.
func (f *fakeAPIServer) takeRequests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.requests
	f.requests = nil
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// TestKubectl runs the real kubectl against the documents: apply (create
// and strategic-merge patch, with server-side field validation), explain on
// v3 and on v2. It is skipped where kubectl is not installed.
func TestKubectl(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not in PATH")
	}
	resources := testResources()
	srv, err := New(resources, scheme.New())
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeAPIServer{openapi: srv, resources: resources, objects: map[string][]byte{}}
	ts := httptest.NewServer(fake)
	defer ts.Close()

	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	config := "apiVersion: v1\nkind: Config\ncurrent-context: k1s\n" +
		"clusters: [{name: k1s, cluster: {server: " + ts.URL + "}}]\n" +
		"users: [{name: k1s, user: {}}]\n" +
		"contexts: [{name: k1s, context: {cluster: k1s, user: k1s, namespace: default}}]\n"
	if err := os.WriteFile(kubeconfig, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, stdin string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", kubeconfig, "--cache-dir", filepath.Join(dir, "cache")}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir)
		cmd.Stdin = strings.NewReader(stdin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
		if stderr.Len() > 0 {
			t.Errorf("kubectl %s wrote to stderr: %s", strings.Join(args, " "), stderr.String())
		}
		return stdout.String()
	}
	deployment := func(image string) string {
		return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: ` + image + `
        env: [{name: A, value: "1"}]
      - name: sidecar
        image: busybox
`
	}
	collection := "/apis/apps/v1/namespaces/default/deployments"

	t.Run("apply creates with server-side validation", func(t *testing.T) {
		fake.takeRequests()
		out := run(t, deployment("nginx:1"), "apply", "-f", "-")
		if !strings.Contains(out, "deployment.apps/web created") {
			t.Errorf("output %q", out)
		}
		var post *recorded
		for _, r := range fake.takeRequests() {
			if r.path == "/openapi/v2" {
				t.Error("kubectl fell back to OpenAPI v2, so it validated on the client")
			}
			if r.method == http.MethodPost && r.path == collection {
				post = &r
			}
		}
		if post == nil {
			t.Fatal("no POST")
		}
		if !strings.Contains(post.query, "fieldValidation=Strict") {
			t.Errorf("POST query %q lacks fieldValidation=Strict", post.query)
		}
	})

	t.Run("apply patches with a strategic merge patch from v3", func(t *testing.T) {
		// The stored object is what apply created; its last-applied
		// annotation is where the three-way patch starts from.
		out := run(t, deployment("nginx:2"), "apply", "-f", "-")
		if !strings.Contains(out, "deployment.apps/web configured") {
			t.Errorf("output %q", out)
		}
		var patch *recorded
		for _, r := range fake.takeRequests() {
			if r.path == "/openapi/v2" {
				t.Error("kubectl fell back to OpenAPI v2 for the patch")
			}
			if r.method == http.MethodPatch {
				patch = &r
			}
		}
		if patch == nil {
			t.Fatal("no PATCH")
		}
		if patch.contentType != "application/strategic-merge-patch+json" {
			t.Errorf("patch type %q", patch.contentType)
		}
		if !strings.Contains(string(patch.body), `"$setElementOrder/containers":[{"name":"web"},{"name":"sidecar"}]`) {
			t.Errorf("patch is not keyed by container name: %s", patch.body)
		}
	})

	t.Run("explain a field", func(t *testing.T) {
		out := run(t, "", "explain", "deployment.spec.strategy")
		for _, want := range []string{"GROUP:      apps", "KIND:       Deployment", "FIELD: strategy <DeploymentStrategy>",
			"The deployment strategy to use to replace existing pods with new ones.", "rollingUpdate\t<RollingUpdateDeployment>"} {
			if !strings.Contains(out, want) {
				t.Errorf("explain output lacks %q:\n%s", want, out)
			}
		}
		out = run(t, "", "explain", "deployment.spec.strategy.rollingUpdate.maxSurge")
		if !strings.Contains(out, "FIELD: maxSurge <IntOrString>") {
			t.Errorf("explain maxSurge:\n%s", out)
		}
		out = run(t, "", "explain", "pods.spec.containers.resources.limits")
		if !strings.Contains(out, "FIELD: limits <map[string]Quantity>") {
			t.Errorf("explain limits:\n%s", out)
		}
	})

	t.Run("explain recursively", func(t *testing.T) {
		out := run(t, "", "explain", "pods", "--recursive")
		for _, want := range []string{"KIND:       Pod", "VERSION:    v1", "containers\t<[]Container> -required-",
			"      containerPort\t<integer> -required-", "creationTimestamp\t<string>", "status\t<PodStatus>"} {
			if !strings.Contains(out, want) {
				t.Errorf("explain --recursive lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("explain from v2", func(t *testing.T) {
		out := run(t, "", "explain", "deployment.spec.strategy", "--output=plaintext-openapiv2")
		if !strings.Contains(out, "replace existing pods") {
			t.Errorf("explain v2 output:\n%s", out)
		}
	})

	t.Run("create a pod with the documents' own shapes", func(t *testing.T) {
		pod := map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p"},
			"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "i",
				"resources": map[string]any{"limits": map[string]any{"cpu": 1, "memory": "1Gi"}}}}}}
		data, err := yaml.Marshal(pod)
		if err != nil {
			t.Fatal(err)
		}
		run(t, string(data), "apply", "-f", "-")
	})
}

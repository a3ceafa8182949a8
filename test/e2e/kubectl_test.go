package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestApplyGetDescribeDelete(t *testing.T) {
	out := mustKubectl(t, "", "apply", "-f", "testdata/app.yaml")
	wantContains(t, "apply", out,
		"namespace/demo created", "configmap/app-config created", "secret/app-secret created",
		"deployment.apps/web created", "service/web created", "ingress.networking.k8s.io/web created",
		"statefulset.apps/db created")

	// A second apply is a no-op, computed with strategic merge patches.
	out = mustKubectl(t, "", "apply", "-f", "testdata/app.yaml")
	wantContains(t, "re-apply", out, "deployment.apps/web unchanged", "service/web unchanged")

	out = mustKubectl(t, "", "get", "deploy", "web", "-n", "demo")
	wantContains(t, "get deploy", out, "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "web")

	out = mustKubectl(t, "", "get", "deploy", "web", "-n", "demo", "-o", "wide")
	wantContains(t, "get deploy wide", out, "CONTAINERS", "IMAGES", "SELECTOR", "k1s.local/my-app:v1", "app=web")

	out = mustKubectl(t, "", "get", "svc", "-n", "demo")
	wantContains(t, "get svc", out, "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "ClusterIP", "10.43.", "80/TCP", "None")

	out = mustKubectl(t, "", "get", "deploy", "web", "-n", "demo", "-o", "json")
	var d struct {
		APIVersion, Kind string
		Metadata         struct {
			Generation int64
			UID        string
		}
		Spec struct {
			Strategy struct {
				RollingUpdate struct{ MaxSurge any }
			}
			Template struct {
				Spec struct {
					RestartPolicy, DNSPolicy, SchedulerName string
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("get -o json: %v\n%s", err, out)
	}
	if d.APIVersion != "apps/v1" || d.Kind != "Deployment" || d.Metadata.Generation != 1 || d.Metadata.UID == "" {
		t.Errorf("get -o json: apiVersion=%q kind=%q generation=%d uid=%q", d.APIVersion, d.Kind, d.Metadata.Generation, d.Metadata.UID)
	}
	if s := d.Spec.Template.Spec; s.RestartPolicy != "Always" || s.DNSPolicy != "ClusterFirst" || s.SchedulerName != "default-scheduler" {
		t.Errorf("pod template defaults not applied: %+v", s)
	}

	out = mustKubectl(t, "", "get", "cm", "app-config", "-n", "demo", "-o", "yaml")
	wantContains(t, "get -o yaml", out, "apiVersion: v1", "kind: ConfigMap", "DB_URL: db-service", "resourceVersion:")

	out = mustKubectl(t, "", "get", "deploy,svc,sts", "-n", "demo", "-o", "name")
	wantContains(t, "get -o name", out, "deployment.apps/web", "service/web", "service/db", "statefulset.apps/db")

	out = mustKubectl(t, "", "get", "all", "-n", "demo")
	wantContains(t, "get all", out, "deployment.apps/web", "service/web", "statefulset.apps/db")

	out = mustKubectl(t, "", "describe", "deployment", "web", "-n", "demo")
	wantContains(t, "describe", out, "Name:", "web", "Namespace:", "demo", "Replicas:", "StrategyType:", "RollingUpdate", "k1s.local/my-app:v1")

	out = mustKubectl(t, "", "get", "secret", "app-secret", "-n", "demo", "-o", "jsonpath={.data.password}")
	if out != "czNjcmV0" {
		t.Errorf("secret stringData not folded into data: %q", out)
	}

	out = mustKubectl(t, "", "delete", "-f", "testdata/app.yaml")
	wantContains(t, "delete", out, `deployment.apps "web" deleted`, `service "web" deleted`)
}

func TestLabelAnnotateScalePatch(t *testing.T) {
	mustKubectl(t, "", "create", "namespace", "patching")
	mustKubectl(t, "", "create", "deployment", "nginx", "--image=nginx:1.27", "-n", "patching")

	mustKubectl(t, "", "label", "deploy", "nginx", "tier=frontend", "-n", "patching")
	mustKubectl(t, "", "annotate", "deploy", "nginx", "owner=team-a", "-n", "patching")
	out := mustKubectl(t, "", "get", "deploy", "-l", "tier=frontend", "-n", "patching", "-o", "name")
	if strings.TrimSpace(out) != "deployment.apps/nginx" {
		t.Errorf("label selector: got %q", out)
	}
	out = mustKubectl(t, "", "get", "deploy", "nginx", "-n", "patching", "-o", "jsonpath={.metadata.annotations.owner}")
	if out != "team-a" {
		t.Errorf("annotation: got %q", out)
	}
	mustKubectl(t, "", "label", "deploy", "nginx", "tier-", "-n", "patching")

	out = mustKubectl(t, "", "scale", "deploy", "nginx", "--replicas=3", "-n", "patching")
	wantContains(t, "scale", out, "deployment.apps/nginx scaled")
	got := mustKubectl(t, "", "get", "deploy", "nginx", "-n", "patching", "-o", "jsonpath={.spec.replicas} {.metadata.generation}")
	if got != "3 2" {
		t.Errorf("after scale: replicas generation = %q, want \"3 2\"", got)
	}

	mustKubectl(t, "", "patch", "deploy", "nginx", "-n", "patching", "--type=strategic",
		"-p", `{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.28"}]}}}}`)
	mustKubectl(t, "", "patch", "deploy", "nginx", "-n", "patching", "--type=merge", "-p", `{"spec":{"minReadySeconds":5}}`)
	mustKubectl(t, "", "patch", "deploy", "nginx", "-n", "patching", "--type=json",
		"-p", `[{"op":"replace","path":"/spec/replicas","value":1}]`)
	got = mustKubectl(t, "", "get", "deploy", "nginx", "-n", "patching",
		"-o", "jsonpath={.spec.template.spec.containers[0].image} {.spec.minReadySeconds} {.spec.replicas}")
	if got != "nginx:1.28 5 1" {
		t.Errorf("after patches: %q", got)
	}

	// Status changes through the main resource are ignored.
	mustKubectl(t, "", "patch", "deploy", "nginx", "-n", "patching", "--type=merge", "-p", `{"status":{"replicas":7}}`)
	got = mustKubectl(t, "", "get", "deploy", "nginx", "-n", "patching", "-o", "jsonpath={.status.replicas}")
	if got == "7" {
		t.Errorf("status changed through the main resource")
	}
	mustKubectl(t, "", "delete", "namespace", "patching", "--wait=false")
}

func TestEdit(t *testing.T) {
	mustKubectl(t, "", "create", "configmap", "editme", "--from-literal=color=blue")
	editor := filepath.Join(t.TempDir(), "editor.sh")
	if err := os.WriteFile(editor, []byte("#!/bin/sh\nsed -i 's/color: blue/color: green/' \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := kubectlEnv(t, []string{"KUBE_EDITOR=" + editor}, "", "edit", "configmap", "editme")
	if err != nil {
		t.Fatalf("edit: %v\n%s%s", err, out, errOut)
	}
	wantContains(t, "edit", out, "configmap/editme edited")
	got := mustKubectl(t, "", "get", "cm", "editme", "-o", "jsonpath={.data.color}")
	if got != "green" {
		t.Errorf("after edit: %q", got)
	}
	mustKubectl(t, "", "delete", "cm", "editme")
}

func TestWatch(t *testing.T) {
	mustKubectl(t, "", "create", "namespace", "watching")
	mustKubectl(t, "", "create", "configmap", "sentinel", "-n", "watching")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", "--kubeconfig", kubeconfig, "get", "configmaps", "-n", "watching", "-w", "--output-watch-events")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// Wait until the watch is established (it lists the sentinel first),
	// so that the changes below happen while it watches.
	waitFor := time.After(20 * time.Second)
	for seen := false; !seen; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("watch ended before it started")
			}
			seen = strings.Contains(l, "sentinel")
		case <-waitFor:
			t.Fatal("watch never listed the sentinel")
		}
	}
	want := map[string]bool{"ADDED": false, "MODIFIED": false, "DELETED": false}
	mustKubectl(t, "", "create", "configmap", "w1", "-n", "watching", "--from-literal=a=b")
	mustKubectl(t, "", "label", "configmap", "w1", "-n", "watching", "x=y")
	mustKubectl(t, "", "delete", "configmap", "w1", "-n", "watching")
	deadline := time.After(20 * time.Second)
	for !(want["ADDED"] && want["MODIFIED"] && want["DELETED"]) {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("watch ended early; seen %v", want)
			}
			for ev := range want {
				if strings.HasPrefix(l, ev) && strings.Contains(l, "w1") {
					want[ev] = true
				}
			}
		case <-deadline:
			t.Fatalf("watch events seen: %v", want)
		}
	}
}

func TestExplainAndAPIResources(t *testing.T) {
	out := mustKubectl(t, "", "explain", "deployment.spec.strategy")
	wantContains(t, "explain", out, "KIND:", "Deployment", "FIELD:", "strategy", "rollingUpdate", "type")

	out = mustKubectl(t, "", "api-resources")
	wantContains(t, "api-resources", out, "pods", "po", "deployments", "deploy", "apps/v1", "statefulsets", "sts",
		"ingresses", "ing", "networking.k8s.io/v1", "leases", "coordination.k8s.io/v1", "endpointslices")

	out = mustKubectl(t, "", "version", "-o", "json")
	wantContains(t, "version", out, `"gitVersion": "v1.37.0+k1s`)
}

func TestBadInput(t *testing.T) {
	cases := []struct {
		name  string
		stdin string
		args  []string
		want  []string
	}{{
		name:  "malformed yaml",
		stdin: "apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n",
		args:  []string{"apply", "-f", "-"},
		want:  []string{"error"},
	}, {
		name:  "unknown kind",
		stdin: "apiVersion: v1\nkind: Bogus\nmetadata:\n  name: x\n",
		args:  []string{"apply", "-f", "-"},
		want:  []string{`no matches for kind "Bogus"`},
	}, {
		name: "unknown resource",
		args: []string{"get", "bogusthings"},
		want: []string{`the server doesn't have a resource type "bogusthings"`},
	}, {
		name:  "invalid object lists every field",
		stdin: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: Bad_Name\nspec:\n  containers:\n  - name: c\n    image: \"\"\n    ports:\n    - containerPort: 70000\n",
		args:  []string{"create", "-f", "-"},
		want:  []string{"is invalid", "metadata.name", "spec.containers[0].image", "spec.containers[0].ports[0].containerPort"},
	}, {
		name:  "unknown field under strict validation",
		stdin: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: strict\ndata:\n  a: b\nbogusField: 1\n",
		args:  []string{"apply", "-f", "-"},
		want:  []string{`unknown field "bogusField"`},
	}, {
		name:  "not found",
		stdin: "",
		args:  []string{"get", "deploy", "does-not-exist"},
		want:  []string{`deployments.apps "does-not-exist" not found`},
	}, {
		name: "missing namespace",
		args: []string{"create", "configmap", "x", "-n", "no-such-namespace"},
		want: []string{`namespaces "no-such-namespace" not found`},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errOut := failKubectl(t, tc.stdin, tc.args...)
			wantContains(t, tc.name, errOut, tc.want...)
		})
	}
}

func TestConflictAndImmutable(t *testing.T) {
	mustKubectl(t, "", "create", "deployment", "immut", "--image=busybox")
	stale := mustKubectl(t, "", "get", "deploy", "immut", "-o", "yaml")
	mustKubectl(t, "", "label", "deploy", "immut", "bump=1")
	errOut := failKubectl(t, stale, "replace", "-f", "-")
	wantContains(t, "stale replace", errOut, "Operation cannot be fulfilled", "the object has been modified")

	big := filepath.Join(t.TempDir(), "big.txt")
	if err := os.WriteFile(big, []byte(strings.Repeat("x", 4<<20)), 0o644); err != nil {
		t.Fatal(err)
	}
	errOut = failKubectl(t, "", "create", "configmap", "big", "--from-file="+big)
	wantContains(t, "too large", errOut, "Request entity too large")

	errOut = failKubectl(t, "", "patch", "deploy", "immut", "--type=merge", "-p", `{"spec":{"selector":{"matchLabels":{"app":"other"}}}}`)
	wantContains(t, "selector change", errOut, "spec.selector", "field is immutable")
	mustKubectl(t, "", "delete", "deploy", "immut")
}

func TestServerSideApplyWithKubectl(t *testing.T) {
	manifest := func(image string) string {
		return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ssa
  namespace: default
spec:
  selector:
    matchLabels: {app: ssa}
  template:
    metadata:
      labels: {app: ssa}
    spec:
      containers:
      - name: c
        image: ` + image + "\n"
	}
	out := mustKubectl(t, manifest("busybox:1"), "apply", "--server-side", "-f", "-")
	wantContains(t, "server-side apply", out, "deployment.apps/ssa serverside-applied")
	mustKubectl(t, manifest("busybox:2"), "apply", "--server-side", "-f", "-")
	got := mustKubectl(t, "", "get", "deploy", "ssa", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.metadata.managedFields[0].manager}")
	if got != "busybox:2 kubectl" {
		t.Errorf("after server-side apply: %q", got)
	}
	// Another manager changing the image conflicts.
	errOut := failKubectl(t, manifest("busybox:3"), "apply", "--server-side", "--field-manager=other", "-f", "-")
	wantContains(t, "conflict", errOut, "conflict", "spec.template.spec.containers")
	mustKubectl(t, "", "delete", "deploy", "ssa")
}

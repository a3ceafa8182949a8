package controllermanager_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/k1s/k1s/internal/controllermanager"
)

// kubectlFor returns a function running the real kubectl against cfg, or
// skips the test if kubectl is not installed.
func kubectlFor(t *testing.T, cfg *rest.Config) func(args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed")
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["test"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test", Namespace: "default"}
	kc.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", path}, args...)...).CombinedOutput()
		if err != nil {
			return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
		}
		return string(out), nil
	}
}

const rolloutManifest = `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: "nginx:1"}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: c, image: "agent:1"}]}
`

// TestKubectlRollout runs kubectl rollout history and undo, which read
// the ControllerRevisions of StatefulSets and DaemonSets.
func TestKubectlRollout(t *testing.T) {
	cfg := startAPIServer(t)
	kubectl := kubectlFor(t, cfg)
	startManager(t, cfg, controllermanager.Options{})
	manifest := filepath.Join(t.TempDir(), "rollout.yaml")
	if err := os.WriteFile(manifest, []byte(rolloutManifest), 0o600); err != nil {
		t.Fatal(err)
	}
	// The api-server serves no OpenAPI for kubectl to validate against.
	if _, err := kubectl("apply", "--validate=false", "-f", manifest); err != nil {
		t.Fatal(err)
	}
	revisions := func(kind, want string) {
		t.Helper()
		eventually(t, 20*time.Second, func() error {
			out, err := kubectl("rollout", "history", kind)
			if err != nil {
				return err
			}
			var got []string
			for _, line := range strings.Split(out, "\n")[2:] {
				if f := strings.Fields(line); len(f) > 0 {
					got = append(got, f[0])
				}
			}
			if strings.Join(got, ",") != want {
				return fmt.Errorf("%s revisions %v, want %s:\n%s", kind, got, want, out)
			}
			return nil
		})
	}
	revisions("statefulset/web", "1")
	revisions("daemonset/agent", "1")
	for _, args := range [][]string{{"statefulset/web", "c=nginx:2"}, {"daemonset/agent", "c=agent:2"}} {
		if _, err := kubectl(append([]string{"set", "image"}, args...)...); err != nil {
			t.Fatal(err)
		}
	}
	revisions("statefulset/web", "1,2")
	revisions("daemonset/agent", "1,2")
	out, err := kubectl("rollout", "history", "statefulset/web", "--revision=1")
	if err != nil || !strings.Contains(out, "nginx:1") {
		t.Errorf("history of revision 1: %v\n%s", err, out)
	}

	for _, kind := range []string{"statefulset/web", "daemonset/agent"} {
		if out, err := kubectl("rollout", "undo", kind); err != nil || !strings.Contains(out, "rolled back") {
			t.Fatalf("undo %s: %v\n%s", kind, err, out)
		}
	}
	revisions("statefulset/web", "2,3")
	revisions("daemonset/agent", "2,3")
	out, err = kubectl("get", "statefulset/web", "daemonset/agent", "-o", "jsonpath={.items[*].spec.template.spec.containers[0].image}")
	if err != nil || out != "nginx:1 agent:1" {
		t.Errorf("images after undo: %q, %v; want nginx:1 agent:1", out, err)
	}
	// kubectl recognises the revision the template already matches.
	out, err = kubectl("rollout", "undo", "daemonset/agent", "--to-revision=3")
	if err != nil || !strings.Contains(out, "already matches revision 3") {
		t.Errorf("undo to the current revision: %v\n%s", err, out)
	}
}

package e2e

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// TestCreateToken: `kubectl create token` issues a service account token
// (TokenRequest) with the audience and duration asked for, and the token
// authenticates at the api-server; other audiences' tokens do not.
func TestCreateToken(t *testing.T) {
	// The controller-manager creates the namespace's default account.
	var token string
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, errOut, err := kubectl(t, "", "create", "token", "default", "--duration=20m")
		if err == nil {
			token = strings.TrimSpace(out)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kubectl create token: %v: %s", err, errOut)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if strings.Count(token, ".") != 2 {
		t.Fatalf("token %q is not a JWT", token)
	}
	// The token authenticates; RBAC gives the account nothing by default.
	if _, errOut, err := kubectlWithToken(t, token, "get", "namespaces", "-o", "name"); err == nil ||
		!strings.Contains(errOut, `User "system:serviceaccount:default:default" cannot list resource "namespaces" in API group "" at the cluster scope`) {
		t.Errorf("using the token: %v: %s, want Forbidden", err, errOut)
	}
	// kubectl auth whoami (SelfSubjectReview) names the service account.
	if out, errOut, err := kubectlWithToken(t, token, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); err != nil || out != "system:serviceaccount:default:default" {
		t.Errorf("kubectl auth whoami with the token: %q %v %s", out, err, errOut)
	}
	if out, errOut, err := kubectl(t, "", "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); err != nil || out != "system:admin" {
		t.Errorf("kubectl auth whoami as the admin: %q %v %s", out, err, errOut)
	}
	other, errOut, err := kubectl(t, "", "create", "token", "default", "--audience", "vault")
	if err != nil {
		t.Fatalf("kubectl create token --audience: %v: %s", err, errOut)
	}
	_, errOut, err = kubectlWithToken(t, strings.TrimSpace(other), "get", "namespaces")
	if err == nil || !strings.Contains(errOut, "Unauthorized") {
		t.Errorf("a token for another audience: %v: %s", err, errOut)
	}
	_, errOut, err = kubectl(t, "", "create", "token", "default", "--duration=1m")
	if err == nil || !strings.Contains(errOut, "10 minutes") {
		t.Errorf("a 1 minute token: %v %s, want a refusal naming the 10 minute minimum", err, errOut)
	}
}

// kubectlWithToken runs kubectl with a kubeconfig that has the cluster's
// address and CA and only the bearer token as credentials.
func kubectlWithToken(t *testing.T, token string, args ...string) (string, string, error) {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, ai := range cfg.AuthInfos {
		*ai = clientcmdapi.AuthInfo{Token: token}
	}
	path := filepath.Join(t.TempDir(), "token.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("kubectl", append([]string{"--kubeconfig", path}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	return stdout.String(), stderr.String(), err
}

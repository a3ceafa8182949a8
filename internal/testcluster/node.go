package testcluster

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Kubectl runs the real kubectl against kubeconfig with stdin, for at
// most 90 seconds, and returns its stdout and stderr.
func Kubectl(ctx context.Context, kubeconfig, stdin string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// MustKubectl is Kubectl that fails the test when kubectl fails, with
// both outputs; it returns stdout.
func MustKubectl(t testing.TB, kubeconfig, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := Kubectl(context.Background(), kubeconfig, stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

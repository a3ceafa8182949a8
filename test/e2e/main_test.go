package e2e

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/k1s/k1s/internal/server"
)

// kubeconfig is the admin kubeconfig of the cluster every test shares.
var kubeconfig string

func TestMain(m *testing.M) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		fmt.Println("e2e: kubectl not found on PATH; the end-to-end tests need the real kubectl")
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "k1s-e2e-")
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Options{
			DataDir: dir, HTTPSPort: 0, DisableAgent: true,
			Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
			OnReady: func(k string) { ready <- k },
		})
	}()
	select {
	case kubeconfig = <-ready:
	case err := <-done:
		fmt.Println("e2e: server failed:", err)
		os.Exit(1)
	case <-time.After(60 * time.Second):
		fmt.Println("e2e: server not ready after 60s")
		os.Exit(1)
	}
	code := m.Run()
	cancel()
	<-done
	os.RemoveAll(dir)
	os.Exit(code)
}

// kubectl runs kubectl with the cluster's kubeconfig and returns its
// stdout, stderr and error.
func kubectl(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	return kubectlEnv(t, nil, stdin, args...)
}

func kubectlEnv(t *testing.T, env []string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// mustKubectl runs kubectl and fails the test if it fails.
func mustKubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := kubectl(t, stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// failKubectl runs kubectl, expects it to fail, and returns its stderr.
func failKubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := kubectl(t, stdin, args...)
	if err == nil {
		t.Fatalf("kubectl %s succeeded, want failure\nstdout: %s", strings.Join(args, " "), out)
	}
	return errOut
}

// eventually polls f until it returns nil or the deadline passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s: output does not contain %q:\n%s", what, w, got)
		}
	}
}

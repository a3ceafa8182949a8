package demo

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPickFailoverNode(t *testing.T) {
	nodes := []string{"k1s-1", "k1s-2", "k1s-3", "k1s-4"}
	tests := []struct {
		name    string
		nodes   []string
		appPods map[string]int
		dbNode  string
		want    string
	}{
		{name: "the node with an app pod", appPods: map[string]int{"k1s-1": 1, "k1s-3": 1}, dbNode: "k1s-2", want: "k1s-3"},
		{name: "the most app pods", appPods: map[string]int{"k1s-2": 1, "k1s-3": 2}, dbNode: "k1s-4", want: "k1s-3"},
		{name: "ties go to the earlier node", appPods: map[string]int{"k1s-3": 1, "k1s-4": 1}, dbNode: "k1s-1", want: "k1s-3"},
		{name: "never the first node", appPods: map[string]int{"k1s-1": 2}, dbNode: "k1s-2", want: ""},
		{name: "never the database's node", appPods: map[string]int{"k1s-1": 1, "k1s-2": 1}, dbNode: "k1s-2", want: ""},
		{name: "app pods with the database", appPods: map[string]int{"k1s-2": 2, "k1s-3": 0}, dbNode: "k1s-2", want: ""},
		{name: "a node without app pods does not qualify", appPods: map[string]int{}, dbNode: "k1s-1", want: ""},
		{name: "no nodes", nodes: []string{}, appPods: map[string]int{"x": 1}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := nodes
			if tt.nodes != nil {
				ns = tt.nodes
			}
			got, why := pickFailoverNode(ns, tt.appPods, tt.dbNode)
			if got != tt.want {
				t.Errorf("picked %q, want %q", got, tt.want)
			}
			if (got == "") != (why != "") {
				t.Errorf("picked %q, reason %q: want a reason exactly when none is picked", got, why)
			}
		})
	}
}

func TestDeploymentSettled(t *testing.T) {
	dep := func(gen, observed int64, replicas, updated, available int32) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Generation: gen},
			Status: appsv1.DeploymentStatus{ObservedGeneration: observed, Replicas: replicas,
				UpdatedReplicas: updated, AvailableReplicas: available},
		}
	}
	tests := []struct {
		name string
		d    *appsv1.Deployment
		want bool
	}{
		{"settled", dep(2, 2, 2, 2, 2), true},
		{"spec not seen yet", dep(3, 2, 2, 2, 2), false},
		{"an old pod still counted", dep(2, 2, 3, 2, 2), false},
		{"rolling", dep(2, 2, 2, 1, 2), false},
		{"one unavailable", dep(2, 2, 2, 2, 1), false},
	}
	for _, tt := range tests {
		if got := deploymentSettled(tt.d, 2); got != tt.want {
			t.Errorf("%s: deploymentSettled = %t, want %t", tt.name, got, tt.want)
		}
	}
}

func TestPodReady(t *testing.T) {
	now := metav1.Now()
	ready := []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	tests := []struct {
		name string
		pod  corev1.Pod
		want bool
	}{
		{"ready", corev1.Pod{Status: corev1.PodStatus{Conditions: ready}}, true},
		{"not ready", corev1.Pod{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}}}, false},
		{"no condition", corev1.Pod{}, false},
		{"being deleted", corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now}, Status: corev1.PodStatus{Conditions: ready}}, false},
	}
	for _, tt := range tests {
		if got := podReady(&tt.pod); got != tt.want {
			t.Errorf("%s: podReady = %t, want %t", tt.name, got, tt.want)
		}
	}
}

func TestNextGreeting(t *testing.T) {
	for current, want := range map[string]string{
		"hello":          "hello from k1s",
		"hi":             "hello from k1s",
		"hello from k1s": "hello",
	} {
		if got := nextGreeting(current); got != want {
			t.Errorf("nextGreeting(%q) = %q, want %q", current, got, want)
		}
	}
}

func TestImagesChanged(t *testing.T) {
	before := map[string]string{"k1s.local/my-app:latest": "sha256:aa"}
	tests := []struct {
		after map[string]string
		want  string
	}{
		{map[string]string{"k1s.local/my-app:latest": "sha256:aa"}, ""},
		{map[string]string{}, ""},
		{map[string]string{"other:1": "sha256:cc"}, ""},
		{map[string]string{"k1s.local/my-app:latest": "sha256:bb"}, "k1s.local/my-app:latest sha256:aa → sha256:bb"},
	}
	for _, tt := range tests {
		if got := imagesChanged(before, tt.after); got != tt.want {
			t.Errorf("imagesChanged(%v) = %q, want %q", tt.after, got, tt.want)
		}
	}
}

func TestPollReportsLastSeen(t *testing.T) {
	calls := 0
	err := poll(context.Background(), 1200*time.Millisecond, "the thing", func(context.Context) (bool, string, error) {
		calls++
		if calls == 1 {
			return false, "", errors.New("connection refused")
		}
		return false, "2 of 3 ready", nil
	})
	if err == nil || !strings.Contains(err.Error(), "the thing: not after 1.2s; last seen: 2 of 3 ready") {
		t.Errorf("err = %v", err)
	}
	calls = 0
	err = poll(context.Background(), time.Minute, "the thing", func(context.Context) (bool, string, error) {
		calls++
		return calls == 2, "", nil
	})
	if err != nil || calls != 2 {
		t.Errorf("poll = %v after %d calls, want nil after 2", err, calls)
	}
}

func TestStopProcess(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep command:", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// Our child stays a zombie until waited for: processGone counts that
	// as gone, as it must for an agent whose parent is elsewhere.
	killed, err := stopProcess(context.Background(), cmd.Process.Pid, 10*time.Second)
	if err != nil || killed {
		t.Fatalf("stopProcess = killed %t, %v; want a clean exit on SIGTERM", killed, err)
	}
	if !processGone(cmd.Process.Pid) {
		t.Error("processGone = false after the exit")
	}
	cmd.Wait()
	if _, err := stopProcess(context.Background(), cmd.Process.Pid, time.Second); err == nil {
		t.Error("stopping a process that is gone: no error")
	}
}

func TestReadPID(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		content string
		want    int
		wantErr bool
	}{
		{"1234\n", 1234, false},
		{"1", 0, true},
		{"abc", 0, true},
		{"", 0, true},
	}
	for i, tt := range tests {
		p := filepath.Join(dir, strings.Repeat("p", i+1))
		if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readPID(p)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("readPID(%q) = %d, %v; want %d, error %t", tt.content, got, err, tt.want, tt.wantErr)
		}
	}
	if _, err := readPID(filepath.Join(dir, "missing")); err == nil {
		t.Error("readPID of a missing file: no error")
	}
}

func TestKubeconfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kubeconfig.yaml")
	content := "apiVersion: v1\nkind: Config\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	got, cleanup, err := kubeconfigFile(path)
	if err != nil || got != path {
		t.Fatalf("kubeconfigFile(path) = %q, %v; want the path", got, err)
	}
	cleanup()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("cleanup removed the cluster's own kubeconfig: %v", err)
	}

	got, cleanup, err = kubeconfigFile(content)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(got)
	if err != nil || string(b) != content {
		t.Errorf("inline kubeconfig written as %q, %v", b, err)
	}
	cleanup()
	if _, err := os.Stat(got); !os.IsNotExist(err) {
		t.Errorf("the temporary kubeconfig is still there: %v", err)
	}

	if _, _, err := kubeconfigFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing kubeconfig: no error")
	}
	if _, _, err := kubeconfigFile(""); err == nil {
		t.Error("no kubeconfig: no error")
	}
}

func TestRunRefusesWithoutCluster(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no data dir", Options{}, "data dir is required"},
		{"no cluster", Options{DataDir: t.TempDir(), K1sBinary: "k1s"}, "run k1s up"},
	}
	for _, tt := range tests {
		err := Run(context.Background(), tt.o)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Run = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestShortDigest(t *testing.T) {
	for in, want := range map[string]string{
		"sha256:0123456789abcdef0123":                  "sha256:0123456789ab",
		"k1s.local/my-app@sha256:0123456789abcdef0123": "sha256:0123456789ab",
		"sha256:0123": "sha256:0123",
	} {
		if got := shortDigest(in); got != want {
			t.Errorf("shortDigest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMoveTarget(t *testing.T) {
	tests := []struct {
		nodes  []string
		dbNode string
		want   string
	}{
		{[]string{"k1s-1", "k1s-2", "k1s-3"}, "k1s-2", "k1s-3"},
		{[]string{"k1s-1", "k1s-2", "k1s-3"}, "k1s-1", "k1s-2"},
		{[]string{"k1s-1", "k1s-2"}, "k1s-2", ""},
		{[]string{"k1s-1"}, "k1s-1", ""},
		{nil, "", ""},
	}
	for _, tt := range tests {
		if got := moveTarget(tt.nodes, tt.dbNode); got != tt.want {
			t.Errorf("moveTarget(%v, %q) = %q, want %q", tt.nodes, tt.dbNode, got, tt.want)
		}
	}
}

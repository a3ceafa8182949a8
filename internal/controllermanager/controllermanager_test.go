package controllermanager_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/k1s/k1s/internal/controllermanager"
)

// recorder is a slog handler that remembers every message, so a test can
// wait for something to have been logged.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Message)
	return nil
}

func (r *recorder) logged(substr string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.ContainsFunc(r.msgs, func(m string) bool { return strings.Contains(m, substr) })
}

// runningManager is a controller-manager started by the test.
type runningManager struct {
	log    *recorder
	cancel context.CancelFunc
	done   chan error
}

func startManager(t *testing.T, cfg *rest.Config, o controllermanager.Options) *runningManager {
	t.Helper()
	m := &runningManager{log: &recorder{}, done: make(chan error, 1)}
	o.Kubeconfig = cfg
	o.Logger = slog.New(m.log)
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() { m.done <- controllermanager.Run(ctx, o) }()
	t.Cleanup(func() { m.stop(t) })
	return m
}

// stop cancels the manager and waits for Run to return.
func (m *runningManager) stop(t *testing.T) {
	t.Helper()
	if m.cancel == nil {
		return
	}
	m.cancel()
	m.cancel = nil
	select {
	case err := <-m.done:
		if err != nil {
			t.Errorf("controller-manager Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("controller-manager did not stop within 30s")
	}
}

func leaseHolder(ctx context.Context, client kubernetes.Interface) (string, error) {
	lease, err := client.CoordinationV1().Leases("kube-system").Get(ctx, "kube-controller-manager", metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if lease.Spec.HolderIdentity == nil {
		return "", nil
	}
	return *lease.Spec.HolderIdentity, nil
}

func holderIs(client kubernetes.Interface, want string) func() error {
	return func() error {
		got, err := leaseHolder(context.Background(), client)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("lease holder %q, want %q", got, want)
		}
		return nil
	}
}

// deleteNamespace creates and deletes a namespace with content and waits
// until it is gone, which needs a running namespace controller.
func deleteNamespace(t *testing.T, client kubernetes.Interface, name string) {
	t.Helper()
	ctx := context.Background()
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().ConfigMaps(name).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		_, err := client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("namespace %s still exists", name)
	})
}

func TestRunWithoutLeaderElection(t *testing.T) {
	cfg := startAPIServer(t)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	startManager(t, cfg, controllermanager.Options{})
	deleteNamespace(t, client, "gone")
	_, err = client.CoordinationV1().Leases("kube-system").Get(context.Background(), "kube-controller-manager", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("lease without leader election: got %v, want NotFound", err)
	}
}

func TestLeaderElection(t *testing.T) {
	cfg := startAPIServer(t)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := startManager(t, cfg, controllermanager.Options{LeaderElect: true, Identity: "a"})
	eventually(t, 30*time.Second, holderIs(client, "a"))
	deleteNamespace(t, client, "under-a")

	b := startManager(t, cfg, controllermanager.Options{LeaderElect: true, Identity: "b"})
	eventually(t, 30*time.Second, func() error {
		if !b.log.logged("Failed to acquire lease") {
			return fmt.Errorf("b has not tried the lease yet")
		}
		return nil
	})
	if err := holderIs(client, "a")(); err != nil {
		t.Errorf("after b campaigned: %v", err)
	}
	if b.log.logged("leading") {
		t.Errorf("b started its controllers while a holds the lease")
	}

	a.stop(t)
	got, err := leaseHolder(context.Background(), client)
	if err != nil {
		t.Fatal(err)
	}
	if got == "a" {
		t.Errorf("a did not release the lease when it stopped")
	}
	eventually(t, 30*time.Second, holderIs(client, "b"))
	eventually(t, 30*time.Second, func() error {
		if !b.log.logged("leading") {
			return fmt.Errorf("b holds the lease but has not started its controllers")
		}
		return nil
	})
	deleteNamespace(t, client, "under-b")
}

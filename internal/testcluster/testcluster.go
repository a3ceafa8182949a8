// Package testcluster starts an in-process control plane for tests: an
// embedded etcd in a temporary directory and an api-server on a loopback
// port, stopped when the test ends. It is imported only by tests.
package testcluster

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"

	"github.com/k1s/k1s/internal/apiserver"
	"github.com/k1s/k1s/internal/etcd"
	"github.com/k1s/k1s/internal/pki"
	"github.com/k1s/k1s/internal/registry"
	"github.com/k1s/k1s/internal/scheme"
	"github.com/k1s/k1s/internal/version"
)

// Logger logs warnings, or everything with K1S_TEST_DEBUG set.
func Logger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("K1S_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// StartAPIServer runs an embedded etcd and an api-server on loopback for
// the test and returns an admin rest.Config for it.
func StartAPIServer(t testing.TB) *rest.Config {
	t.Helper()
	member := etcd.New(etcd.Config{DataDir: t.TempDir()})
	ectx, ecancel := context.WithCancel(context.Background())
	edone := make(chan error, 1)
	go func() { edone <- member.Run(ectx) }()
	t.Cleanup(func() { ecancel(); <-edone })
	select {
	case <-member.Ready():
	case err := <-edone:
		t.Fatalf("etcd: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("etcd not ready after 30s")
	}

	bundle, err := pki.Ensure(t.TempDir(), pki.Options{NodeIPs: []net.IP{net.ParseIP("127.0.0.1")}, ServiceIP: net.ParseIP("10.43.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var api *apiserver.Server
	resources := registry.All(registry.Options{
		ServiceCIDR: netip.MustParsePrefix("10.43.0.0/16"),
		ListServices: func(ctx context.Context) ([]corev1.Service, error) {
			return api.ListServices(ctx)
		},
	})
	api, err = apiserver.New(apiserver.Config{
		Etcd: member.Client(), Resources: resources, Scheme: scheme.New(), Listener: ln,
		TLS: bundle.ServingTLSConfig(), Version: version.Info(), Logger: Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("api-server Run: %v", err)
		}
	})
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := api.WaitReady(wctx); err != nil {
		t.Fatalf("api-server not ready: %v", err)
	}
	return &rest.Config{
		Host: "https://" + ln.Addr().String(),
		TLSClientConfig: rest.TLSClientConfig{
			CAData: bundle.CACertPEM, CertData: bundle.AdminCertPEM, KeyData: bundle.AdminKeyPEM,
		},
		QPS: -1,
	}
}

// Eventually polls f until it returns nil or the timeout passes.
func Eventually(t testing.TB, timeout time.Duration, f func() error) {
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
		time.Sleep(20 * time.Millisecond)
	}
}

package apiserver_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/k1s/k1s/internal/apiserver"
	"github.com/k1s/k1s/internal/etcd"
	"github.com/k1s/k1s/internal/openapi"
	"github.com/k1s/k1s/internal/pki"
	"github.com/k1s/k1s/internal/registry"
	"github.com/k1s/k1s/internal/scheme"
	"github.com/k1s/k1s/internal/version"
)

// testEtcd starts an embedded etcd member in a temp dir for the test.
func testEtcd(t testing.TB) *clientv3.Client {
	t.Helper()
	m := etcd.New(etcd.Config{DataDir: t.TempDir()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-m.Ready():
	case err := <-done:
		t.Fatalf("etcd: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("etcd not ready after 30s")
	}
	return m.Client()
}

// testServer is an api-server running in-process on a loopback port.
type testServer struct {
	t      testing.TB
	etcd   *clientv3.Client
	bundle *pki.Bundle
	addr   string
	cancel context.CancelFunc
	done   chan error
	// lists counts list requests (GET collection without watch) served.
	lists atomic.Int64
	// configure, if set, adjusts the api-server's Config before start.
	configure func(*testServer, *apiserver.Config)
}

func startServer(t testing.TB) *testServer {
	t.Helper()
	return startServerWith(t, nil)
}

// startServerWith starts a test api-server whose Config configure adjusts.
func startServerWith(t testing.TB, configure func(*testServer, *apiserver.Config)) *testServer {
	t.Helper()
	bundle, err := pki.Ensure(t.TempDir(), pki.Options{NodeIPs: []net.IP{net.ParseIP("127.0.0.1")}, ServiceIP: net.ParseIP("10.43.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, etcd: testEtcd(t), bundle: bundle, addr: "127.0.0.1:0", configure: configure}
	ts.start()
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) start() {
	t := ts.t
	t.Helper()
	ln, err := net.Listen("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	sch := scheme.New()
	var api *apiserver.Server
	resources := registry.All(registry.Options{
		ServiceCIDR: netip.MustParsePrefix("10.43.0.0/16"),
		ListServices: func(ctx context.Context) ([]corev1.Service, error) {
			return api.ListServices(ctx)
		},
	})
	oa, err := openapi.New(resources, sch)
	if err != nil {
		t.Fatal(err)
	}
	level := slog.LevelWarn
	if os.Getenv("K1S_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	cfg := apiserver.Config{
		Etcd: ts.etcd, Resources: resources, Scheme: sch, OpenAPI: oa, Listener: ln,
		TLS: ts.bundle.ServingTLSConfig(), Version: version.Info(),
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	}
	if ts.configure != nil {
		ts.configure(ts, &cfg)
	}
	api, err = apiserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts.cancel = cancel
	ts.done = make(chan error, 1)
	go func() { ts.done <- api.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := api.WaitReady(wctx); err != nil {
		t.Fatalf("api-server not ready: %v", err)
	}
}

func (ts *testServer) stop() {
	if ts.cancel == nil {
		return
	}
	ts.cancel()
	if err := <-ts.done; err != nil && !errors.Is(err, context.Canceled) {
		ts.t.Errorf("api-server Run: %v", err)
	}
	ts.cancel = nil
}

// restart stops the api-server and starts a new one on the same address
// and etcd.
func (ts *testServer) restart() {
	ts.stop()
	ts.start()
}

// config returns an admin rest.Config.
func (ts *testServer) config() *rest.Config {
	cfg := &rest.Config{
		Host: "https://" + ts.addr,
		TLSClientConfig: rest.TLSClientConfig{
			CAData: ts.bundle.CACertPEM, CertData: ts.bundle.AdminCertPEM, KeyData: ts.bundle.AdminKeyPEM,
		},
		QPS: -1,
	}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method == http.MethodGet && r.URL.Query().Get("watch") == "" && isCollection(r.URL.Path) {
				ts.lists.Add(1)
			}
			return rt.RoundTrip(r)
		})
	})
	return cfg
}

func (ts *testServer) client() kubernetes.Interface {
	c, err := kubernetes.NewForConfig(ts.config())
	if err != nil {
		ts.t.Fatal(err)
	}
	return c
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// isCollection reports whether a resource path names a collection
// (/api/v1/configmaps, /apis/apps/v1/namespaces/x/deployments).
func isCollection(path string) bool {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return false
	}
	if len(parts) >= 2 && parts[0] == "namespaces" && len(parts) != 2 {
		parts = parts[2:]
	}
	return len(parts) == 1
}

// eventually polls f until it returns nil or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, f func() error) {
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

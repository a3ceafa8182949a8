package etcd

import (
	"context"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// start runs a Server on dataDir until the returned stop is called; stop
// waits for Run and reports its error. It also reports how long Run took to
// become ready.
func start(t *testing.T, cfg Config) (srv *Server, startup time.Duration, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	srv = New(cfg)
	errc := make(chan error, 1)
	begin := time.Now()
	go func() { errc <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-errc:
		cancel()
		t.Fatalf("Run before ready: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("etcd not ready after 10s")
	}
	startup = time.Since(begin)
	stopped := false
	stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Run did not return 10s after cancel")
		}
	}
	t.Cleanup(stop)
	return srv, startup, stop
}

func put(t *testing.T, cli *clientv3.Client, key, val string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, key, val); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func get(t *testing.T, cli *clientv3.Client, key string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	if len(resp.Kvs) == 0 {
		return "", false
	}
	return string(resp.Kvs[0].Value), true
}

// recorder is a slog.Handler that keeps every record it is given.
type recorder struct {
	mu      sync.Mutex
	records []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec.Level >= slog.LevelWarn {
		msg := rec.Level.String() + " " + rec.Message
		rec.Attrs(func(a slog.Attr) bool { msg += " " + a.String(); return true })
		r.records = append(r.records, msg)
	}
	return nil
}

func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	logs := &recorder{}
	lg := slog.New(logs)

	srv, first, stop := start(t, Config{DataDir: dir, Logger: lg})
	t.Logf("startup on empty dir: %v", first)
	eps := srv.Endpoints()
	if len(eps) != 1 || !strings.HasPrefix(eps[0], "http://127.0.0.1:") || strings.HasSuffix(eps[0], ":0") {
		t.Errorf("Endpoints() = %v, want one http://127.0.0.1:PORT with a real port", eps)
	}
	put(t, srv.Client(), "/registry/k", "v1")
	stop()

	srv, second, stop := start(t, Config{DataDir: dir, Logger: lg})
	t.Logf("startup on restart: %v", second)
	got, ok := get(t, srv.Client(), "/registry/k")
	if !ok || got != "v1" {
		t.Errorf("after restart get = %q, %v; want %q, true", got, ok, "v1")
	}
	stop()

	// A normal start, use and stop is silent at warn and above.
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if len(logs.records) != 0 {
		t.Errorf("warnings or errors logged during a clean run:\n%s", strings.Join(logs.records, "\n"))
	}
}

func TestUnixSocket(t *testing.T) {
	// Unix socket paths are limited to ~108 bytes; t.TempDir can be long.
	dir := t.TempDir()
	sock := filepath.Join(dir, "e.sock")
	if len(sock) > 100 {
		t.Skipf("temp dir path too long for a unix socket: %s", sock)
	}
	srv, _, _ := start(t, Config{DataDir: dir, ClientURL: "unix://" + sock})
	if got, want := srv.Endpoints(), []string{"unix://" + sock}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("Endpoints() = %v, want %v", got, want)
	}
	put(t, srv.Client(), "a", "b")
	if got, _ := get(t, srv.Client(), "a"); got != "b" {
		t.Errorf("get a = %q, want b", got)
	}
}

func TestTwoMembersInParallel(t *testing.T) {
	// Default URLs pick free ports, so independent servers never collide.
	a, _, _ := start(t, Config{DataDir: t.TempDir()})
	b, _, _ := start(t, Config{DataDir: t.TempDir()})
	if a.Endpoints()[0] == b.Endpoints()[0] {
		t.Fatalf("both servers on %v", a.Endpoints())
	}
	put(t, a.Client(), "k", "a")
	if _, ok := get(t, b.Client(), "k"); ok {
		t.Errorf("key written to a is visible in b")
	}
}

func TestStopReleasesGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	_, _, stop := start(t, Config{DataDir: t.TempDir()})
	stop()

	// Some goroutines (gRPC transports, timers) wind down just after Close
	// returns; poll until the count is back, with a deadline.
	deadline := time.Now().Add(5 * time.Second)
	for {
		now := runtime.NumGoroutine()
		if now <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines before, %d after stop:\n%s", before, now, buf[:n])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no data dir", Config{}},
		{"bad client url", Config{DataDir: t.TempDir(), ClientURL: "http://[::1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			if err := New(tt.cfg).Run(ctx); err == nil {
				t.Errorf("Run(%+v) = nil, want error", tt.cfg)
			}
		})
	}
}

func TestRunTwice(t *testing.T) {
	srv, _, _ := start(t, Config{DataDir: t.TempDir()})
	if err := srv.Run(t.Context()); err == nil {
		t.Errorf("second Run = nil, want error")
	}
}

func TestCancelBeforeReady(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	done := make(chan error, 1)
	go func() { done <- New(Config{DataDir: t.TempDir()}).Run(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run with cancelled ctx = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Run with cancelled ctx did not return")
	}
}

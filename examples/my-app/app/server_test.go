package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/k1s/k1s/examples/my-app/kv"
)

// startDB runs a real database (package kv on a temporary directory)
// with credentials user/pw.
func startDB(t *testing.T) (*httptest.Server, *kv.Store) {
	t.Helper()
	store, err := kv.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(kv.Handler(kv.HandlerOptions{Store: store, User: "user", Password: "pw"}))
	t.Cleanup(srv.Close)
	return srv, store
}

func newTestServer(t *testing.T, dbURL, password string) *server {
	t.Helper()
	db, err := kv.NewClient(kv.ClientOptions{URL: dbURL, User: "user", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	return newServer(serverOptions{PodName: "my-app-0", Greeting: "hello", DB: db, Logger: slog.New(slog.DiscardHandler)})
}

type exchange struct {
	method, path, body string
	wantStatus         int
	wantBody           string // substring
}

func check(t *testing.T, h http.Handler, steps []exchange) {
	t.Helper()
	for _, st := range steps {
		req := httptest.NewRequest(st.method, st.path, strings.NewReader(st.body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		name := st.method + " " + st.path
		if rec.Code != st.wantStatus {
			t.Errorf("%s: status = %d, want %d (%s)", name, rec.Code, st.wantStatus, rec.Body)
		}
		if !strings.Contains(rec.Body.String(), st.wantBody) {
			t.Errorf("%s: body = %q, want it to contain %q", name, rec.Body, st.wantBody)
		}
		if got := rec.Header().Get("X-Served-By"); got != "my-app-0" {
			t.Errorf("%s: X-Served-By = %q, want my-app-0", name, got)
		}
	}
}

func TestAppRoutes(t *testing.T) {
	db, store := startDB(t)
	s := newTestServer(t, db.URL, "pw")
	check(t, s.routes(), []exchange{
		{"GET", "/healthz", "", 200, "ok"},
		{"GET", "/readyz", "", 200, "ok"},
		{"GET", "/", "", 200, "my-app\ngreeting: hello\npod: my-app-0\nvisits: 1\n"},
		{"GET", "/", "", 200, "visits: 2\n"},
		{"GET", "/nope", "", 404, ""},
		{"POST", "/", "", 405, ""},
		{"GET", "/kv/color", "", 404, "not found"},
		{"PUT", "/kv/color", "blue", 204, ""},
		{"GET", "/kv/color", "", 200, "blue"},
		{"GET", "/kv/visits", "", 200, "2"},
		{"PUT", "/kv/" + strings.Repeat("k", kv.MaxKeySize+1), "x", 400, ""},
		{"DELETE", "/kv/color", "", 204, ""},
		{"GET", "/kv/color", "", 404, ""},
	})
	// The writes went to the database, not to the app.
	if got, err := store.Get("visits"); err != nil || string(got) != "2" {
		t.Errorf("db visits = %q, %v; want 2", got, err)
	}
}

func TestAppDatabaseTrouble(t *testing.T) {
	db, _ := startDB(t)
	wrongPassword := newTestServer(t, db.URL, "wrong")
	check(t, wrongPassword.routes(), []exchange{
		{"GET", "/", "", 502, "database unavailable"},
		{"GET", "/kv/a", "", 502, ""},
		// /readyz checks that the database answers; credentials are the
		// data path's business.
		{"GET", "/readyz", "", 200, "ok"},
		{"GET", "/healthz", "", 200, "ok"},
	})

	// A database that is gone: not ready, but alive.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	gone := newTestServer(t, addr, "pw")
	check(t, gone.routes(), []exchange{
		{"GET", "/readyz", "", 503, "database unreachable"},
		{"GET", "/healthz", "", 200, "ok"},
		{"GET", "/", "", 502, ""},
	})
}

// TestAppDrainsOnShutdown: after ctx ends (SIGTERM), the app fails
// /readyz but still serves for the drain delay, then stops.
func TestAppDrainsOnShutdown(t *testing.T) {
	db, _ := startDB(t)
	s := newTestServer(t, db.URL, "pw")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, s, 3*time.Second) }()

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	// get returns the status and whether the server closes the connection.
	get := func(path string) (int, bool, error) {
		resp, err := client.Get(base + path)
		if err != nil {
			return 0, false, err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Close, err
	}
	if code, closes, err := get("/readyz"); err != nil || code != 200 || closes {
		t.Fatalf("readyz before shutdown = %d, %v (connection closed: %v)", code, err, closes)
	}
	cancel()
	deadline := time.Now().Add(2 * time.Second)
	for {
		code, _, err := get("/readyz")
		if err != nil {
			t.Fatalf("readyz while draining: %v", err)
		}
		if code == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz still %d after shutdown began", code)
		}
	}
	code, closes, err := get("/")
	if err != nil || code != 200 {
		t.Errorf("page while draining = %d, %v; want 200", code, err)
	}
	if !closes {
		t.Error("connection kept alive while draining")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve = %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not return")
	}
	if _, _, err := get("/healthz"); err == nil {
		t.Error("app still serving after the drain")
	}
}

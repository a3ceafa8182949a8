package kv

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func startDB(t *testing.T, user, password string) (*httptest.Server, *Store) {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(HandlerOptions{Store: s, User: user, Password: password}))
	t.Cleanup(srv.Close)
	return srv, s
}

func TestHandlerHTTP(t *testing.T) {
	srv, _ := startDB(t, "admin", "s3cret")
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		user, pass string
		wantStatus int
		wantBody   string
	}{
		{"health needs no auth", "GET", "/healthz", "", "", "", 200, "ok\n"},
		{"no auth", "GET", "/kv/a", "", "", "", 401, "unauthorized\n"},
		{"wrong password", "GET", "/kv/a", "", "admin", "nope", 401, "unauthorized\n"},
		{"wrong user", "PUT", "/kv/a", "x", "root", "s3cret", 401, "unauthorized\n"},
		{"get missing", "GET", "/kv/a", "", "admin", "s3cret", 404, ""},
		{"put", "PUT", "/kv/a", "value one", "admin", "s3cret", 204, ""},
		{"get", "GET", "/kv/a", "", "admin", "s3cret", 200, "value one"},
		{"incr new", "POST", "/incr/n", "", "admin", "s3cret", 200, "1"},
		{"incr by", "POST", "/incr/n?by=10", "", "admin", "s3cret", 200, "11"},
		{"incr bad by", "POST", "/incr/n?by=x", "", "admin", "s3cret", 400, ""},
		{"incr text", "POST", "/incr/a", "", "admin", "s3cret", 400, ""},
		{"too large", "PUT", "/kv/big", strings.Repeat("x", MaxValueSize+1), "admin", "s3cret", 413, ""},
		{"long key", "PUT", "/kv/" + strings.Repeat("k", MaxKeySize+1), "x", "admin", "s3cret", 400, ""},
		{"delete", "DELETE", "/kv/a", "", "admin", "s3cret", 204, ""},
		{"delete again", "DELETE", "/kv/a", "", "admin", "s3cret", 404, ""},
		{"wrong method", "PATCH", "/kv/a", "", "admin", "s3cret", 405, ""},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		if tt.user != "" {
			req.SetBasicAuth(tt.user, tt.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.wantStatus {
			t.Errorf("%s: status = %d, want %d (%s)", tt.name, resp.StatusCode, tt.wantStatus, body)
		}
		if tt.wantBody != "" && string(body) != tt.wantBody {
			t.Errorf("%s: body = %q, want %q", tt.name, body, tt.wantBody)
		}
	}
}

func TestHandlerWithoutCredentialsIsOpen(t *testing.T) {
	srv, _ := startDB(t, "", "")
	c, err := NewClient(ClientOptions{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Put(context.Background(), "k", []byte("v")); err != nil {
		t.Errorf("Put without credentials on an open db: %v", err)
	}
}

func TestClient(t *testing.T) {
	ctx := context.Background()
	srv, store := startDB(t, "u", "p")
	c, err := NewClient(ClientOptions{URL: srv.URL, User: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Healthy(ctx); err != nil {
		t.Errorf("Healthy: %v", err)
	}
	if _, err := c.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(missing) err = %v, want ErrNotFound", err)
	}
	if err := c.Put(ctx, "k", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, "k"); err != nil || string(got) != "v1" {
		t.Errorf("Get(k) = %q, %v", got, err)
	}
	if got, _ := store.Get("k"); string(got) != "v1" {
		t.Errorf("store has %q", got)
	}
	// Keys travel path-escaped.
	if err := c.Put(ctx, "a b?c", []byte("odd")); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.Get("a b?c"); string(got) != "odd" {
		t.Errorf("store has %q for %q", got, "a b?c")
	}
	if err := c.Put(ctx, "", []byte("v")); err == nil {
		t.Error("Put with an empty key succeeded")
	}
	if err := c.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete(missing) err = %v, want ErrNotFound", err)
	}

	// Concurrent increments through HTTP lose nothing.
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if _, err := c.Incr(ctx, "visits", 1); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if n, err := c.Incr(ctx, "visits", 0); err != nil || n != 50 {
		t.Errorf("visits = %d, %v; want 50", n, err)
	}

	bad, err := NewClient(ClientOptions{URL: srv.URL, User: "u", Password: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Put(ctx, "k", []byte("v")); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("Put with wrong password: err = %v, want a 401", err)
	}
	if err := bad.Healthy(ctx); err != nil {
		t.Errorf("Healthy needs no credentials: %v", err)
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "db-service", want: "http://db-service:5432"},
		{in: "db-service:6000", want: "http://db-service:6000"},
		{in: "http://db-service", want: "http://db-service:5432"},
		{in: "http://db:1234/", want: "http://db:1234"},
		{in: "https://db.example", want: "https://db.example"},
		{in: "http://u:p@db:1/prefix?x=1", want: "http://db:1/prefix"},
		{in: " 10.43.0.5 ", want: "http://10.43.0.5:5432"},
		{in: "[fd00::1]:80", want: "http://[fd00::1]:80"},
		{in: "", wantErr: true},
		{in: "ftp://db", wantErr: true},
		{in: "http://", wantErr: true},
	}
	for _, tt := range tests {
		u, err := ParseURL(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseURL(%q) = %v, want an error", tt.in, u)
			}
			continue
		}
		if err != nil || u.String() != tt.want {
			t.Errorf("ParseURL(%q) = %v, %v; want %s", tt.in, u, err, tt.want)
		}
	}
}

package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/k1s/k1s/examples/my-app/kv"
)

// TestServeShutsDownOnCancel: the end of ctx (SIGTERM in main) stops the
// server cleanly, and a reopened store has what was written.
func TestServeShutsDownOnCancel(t *testing.T) {
	dir := t.TempDir()
	store, err := kv.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, ln, kv.Handler(kv.HandlerOptions{Store: store}), slog.New(slog.DiscardHandler))
	}()

	c, err := kv.NewClient(kv.ClientOptions{URL: ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after cancel")
	}
	if resp, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		t.Error("server still answers after shutdown")
	}
	reopened, err := kv.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := reopened.Get("k"); err != nil || string(got) != "v" {
		t.Errorf("after restart Get(k) = %q, %v", got, err)
	}
}

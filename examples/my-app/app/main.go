package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/k1s/k1s/examples/my-app/kv"
)

// shutdownTimeout bounds how long requests in flight may take once the
// drain delay is over.
const shutdownTimeout = 10 * time.Second

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, log); err != nil {
		log.Error("app failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger) error {
	podName := os.Getenv("POD_NAME")
	if podName == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("pod name: %w", err)
		}
		podName = h
	}
	drainDelay := 3 * time.Second
	if v := os.Getenv("DRAIN_DELAY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("DRAIN_DELAY: %w", err)
		}
		drainDelay = d
	}
	db, err := kv.NewClient(kv.ClientOptions{
		URL:      envOr("DB_URL", "db-service"),
		User:     os.Getenv("DB_USER"),
		Password: os.Getenv("DB_PASSWORD"),
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", ":"+envOr("PORT", "8080"))
	if err != nil {
		return err
	}
	s := newServer(serverOptions{PodName: podName, Greeting: os.Getenv("GREETING"), DB: db, Logger: log})
	log.Info("app serving", "addr", ln.Addr().String(), "pod", podName, "db", db.BaseURL())
	return serve(ctx, ln, s, drainDelay)
}

// serve serves s on ln until ctx ends, then drains: /readyz fails and
// keep-alives stop for drainDelay while requests are still served, then
// the server shuts down gracefully.
func serve(ctx context.Context, ln net.Listener, s *server, drainDelay time.Duration) error {
	srv := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.Logger.Info("draining", "delay", drainDelay)
	s.draining.Store(true)
	// Clients holding a pooled connection get "Connection: close" on
	// their next answer and reconnect, to a pod still in the endpoints.
	srv.SetKeepAlivesEnabled(false)
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-time.After(drainDelay):
	}
	s.Logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

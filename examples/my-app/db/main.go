package main

import (
	"context"
	"errors"
	"flag"
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

// shutdownTimeout bounds how long requests in flight may take after SIGTERM.
const shutdownTimeout = 5 * time.Second

func main() {
	port := flag.String("port", envOr("PORT", kv.DefaultPort), "TCP port to serve on")
	dataDir := flag.String("data-dir", envOr("DATA_DIR", "/data"), "directory holding the data")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, log, *port, *dataDir); err != nil {
		log.Error("db failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, port, dataDir string) error {
	store, err := kv.Open(dataDir)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		return err
	}
	log.Info("db serving", "addr", ln.Addr().String(), "dataDir", dataDir, "keys", store.Len(),
		"auth", os.Getenv("DB_USER") != "" || os.Getenv("DB_PASSWORD") != "")
	h := kv.Handler(kv.HandlerOptions{
		Store:    store,
		User:     os.Getenv("DB_USER"),
		Password: os.Getenv("DB_PASSWORD"),
		Logger:   log,
	})
	return serve(ctx, ln, h, log)
}

// serve serves h on ln until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
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

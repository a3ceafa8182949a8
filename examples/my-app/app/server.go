package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/k1s/k1s/examples/my-app/kv"
)

// visitsKey is the database key of the visit counter.
const visitsKey = "visits"

// readyTimeout bounds the database check of /readyz.
const readyTimeout = 2 * time.Second

type serverOptions struct {
	PodName  string
	Greeting string
	DB       *kv.Client
	Logger   *slog.Logger
}

// server holds the handlers' state.
type server struct {
	serverOptions
	// draining is set on SIGTERM: /readyz fails from then on.
	draining atomic.Bool
}

func newServer(opts serverOptions) *server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &server{serverOptions: opts}
}

// routes returns the service's HTTP handler.
func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", s.ready)
	mux.HandleFunc("GET /kv/{key}", s.getKey)
	mux.HandleFunc("PUT /kv/{key}", s.putKey)
	mux.HandleFunc("DELETE /kv/{key}", s.deleteKey)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Served-By", s.PodName)
		mux.ServeHTTP(w, r)
	})
}

func (s *server) page(w http.ResponseWriter, r *http.Request) {
	visits, err := s.DB.Incr(r.Context(), visitsKey, 1)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "my-app\ngreeting: %s\npod: %s\nvisits: %d\n", s.Greeting, s.PodName, visits)
}

func (s *server) ready(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.DB.Healthy(ctx); err != nil {
		http.Error(w, "database unreachable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "ok\n")
}

func (s *server) getKey(w http.ResponseWriter, r *http.Request) {
	v, err := s.DB.Get(r.Context(), r.PathValue("key"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(v)
}

func (s *server) putKey(w http.ResponseWriter, r *http.Request) {
	v, err := io.ReadAll(http.MaxBytesReader(w, r.Body, kv.MaxValueSize))
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	if err := s.DB.Put(r.Context(), r.PathValue("key"), v); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) deleteKey(w http.ResponseWriter, r *http.Request) {
	if err := s.DB.Delete(r.Context(), r.PathValue("key")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// fail answers a failed database call: the database's 404 and 400 pass
// through, anything else is a 502, logged here.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, kv.ErrNotFound):
		http.Error(w, "not found", http.StatusNotFound)
	case errors.Is(err, kv.ErrInvalid):
		http.Error(w, err.Error(), http.StatusBadRequest)
	default:
		s.Logger.Error("database call failed", "method", r.Method, "path", r.URL.Path, "err", err)
		http.Error(w, "database unavailable", http.StatusBadGateway)
	}
}

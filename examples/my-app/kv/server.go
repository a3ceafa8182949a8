package kv

import (
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
)

// HandlerOptions configure Handler.
type HandlerOptions struct {
	Store *Store
	// User and Password, when either is set, are the credentials every
	// request but /healthz must carry (HTTP basic auth).
	User, Password string
	// Logger receives failed writes; default slog.Default().
	Logger *slog.Logger
}

// Handler serves the store's HTTP API (see the package doc).
func Handler(opts HandlerOptions) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	h := &handler{HandlerOptions: opts}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("GET /kv/{key}", h.authorized(h.get))
	mux.Handle("PUT /kv/{key}", h.authorized(h.put))
	mux.Handle("DELETE /kv/{key}", h.authorized(h.delete))
	mux.Handle("POST /incr/{key}", h.authorized(h.incr))
	return mux
}

type handler struct {
	HandlerOptions
}

func (h *handler) authorized(next http.HandlerFunc) http.Handler {
	if h.User == "" && h.Password == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, password, ok := r.BasicAuth()
		// Both comparisons always run, so timing does not tell which failed.
		userOK := subtle.ConstantTimeCompare([]byte(user), []byte(h.User))
		passwordOK := subtle.ConstantTimeCompare([]byte(password), []byte(h.Password))
		if !ok || userOK&passwordOK != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="my-app-db"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next(w, r)
	})
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	v, err := h.Store.Get(r.PathValue("key"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(v)
}

func (h *handler) put(w http.ResponseWriter, r *http.Request) {
	v, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxValueSize))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "value too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := h.Store.Put(r.PathValue("key"), v); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) delete(w http.ResponseWriter, r *http.Request) {
	if err := h.Store.Delete(r.PathValue("key")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) incr(w http.ResponseWriter, r *http.Request) {
	delta := int64(1)
	if by := r.URL.Query().Get("by"); by != "" {
		var err error
		if delta, err = strconv.ParseInt(by, 10, 64); err != nil {
			http.Error(w, "by: not an integer", http.StatusBadRequest)
			return
		}
	}
	n, err := h.Store.Add(r.PathValue("key"), delta)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, strconv.FormatInt(n, 10))
}

// fail answers with the status err calls for; only server-side failures
// are logged, here at the boundary.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		http.Error(w, err.Error(), http.StatusNotFound)
	case errors.Is(err, ErrInvalid):
		http.Error(w, err.Error(), http.StatusBadRequest)
	default:
		h.Logger.Error("store request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

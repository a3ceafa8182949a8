package kubeletserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ErrNotFound is returned (wrapped) by Pods when a pod or container is
// unknown; the server answers 404.
var ErrNotFound = errors.New("not found")

// ContainerRequiredError is returned by Pods.Container when no container
// name was given and the pod has more than one; the server answers 400.
type ContainerRequiredError struct {
	Pod        string
	Containers []string
}

func (e *ContainerRequiredError) Error() string {
	return fmt.Sprintf("a container name must be specified for pod %s, choose one of: %v", e.Pod, e.Containers)
}

// ContainerRef locates one container of a pod on this node.
type ContainerRef struct {
	Name        string // the resolved container name
	ContainerID string // the current (or last) instance
	PodUID      string
	// LogPath is the CRI log file of the current instance.
	LogPath string
	// PreviousLogPath is the log file of the last terminated instance, ""
	// if there is none.
	PreviousLogPath string
}

// Pods is what the server needs from the kubelet. Methods must be cheap
// (answered from the kubelet's memory) and safe for concurrent use.
type Pods interface {
	// Container resolves a container of a pod. An empty name picks the
	// pod's only container, or fails with *ContainerRequiredError.
	Container(ctx context.Context, namespace, pod, container string) (ContainerRef, error)
	// Sandbox returns the ID of the pod's running sandbox.
	Sandbox(ctx context.Context, namespace, pod string) (string, error)
	// ContainerRunning reports whether containerID is still running; a
	// followed log ends once it is not (asked about once a second while
	// the log is idle).
	ContainerRunning(ctx context.Context, containerID string) bool
}

// Streamer is the part of runtime.Runtime the server uses: each call
// returns the URL of the runtime's streaming server, which the server
// proxies the client's upgraded connection to.
type Streamer interface {
	Exec(ctx context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error)
	Attach(ctx context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error)
	PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error)
}

// Options configure a Server.
type Options struct {
	// Pods resolves pods and containers. Required.
	Pods Pods
	// Runtime serves exec, attach and port-forward. Required.
	Runtime Streamer
	// TLS is the serving configuration (certificate). Required for Serve.
	TLS *tls.Config
	// ClientCAs, if set, authenticates clients: every request but /healthz
	// needs a client certificate signed by one of them. Any such client may
	// do anything (there is no authorization).
	ClientCAs *x509.CertPool
	// RuntimeTLS is used to dial https:// runtime streaming URLs. Default:
	// not verified, as the URL comes from the local runtime and carries a
	// single-use token.
	RuntimeTLS *tls.Config
	// Log defaults to slog.Default().
	Log *slog.Logger
	// LogPollInterval is how often a followed log is checked for new
	// data. Default 100ms.
	LogPollInterval time.Duration
	// Now is the clock (sinceSeconds); default time.Now.
	Now func() time.Time
}

func (o *Options) validate() error {
	if o.Pods == nil {
		return errors.New("kubeletserver: Options.Pods is required")
	}
	if o.Runtime == nil {
		return errors.New("kubeletserver: Options.Runtime is required")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.LogPollInterval <= 0 {
		o.LogPollInterval = 100 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RuntimeTLS == nil {
		o.RuntimeTLS = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // local runtime, token URL
	}
	return nil
}

// Server is the kubelet's HTTPS API.
type Server struct {
	opts    Options
	log     *slog.Logger
	handler http.Handler
}

// New builds a Server; nothing is started until Serve.
func New(opts Options) (*Server, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := &Server{opts: opts, log: opts.Log}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the server's HTTP handler (for tests and in-process use).
// Client authentication applies only to TLS requests when ClientCAs is set.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves HTTPS on ln until ctx ends, then closes ln and every
// connection, including upgraded streams.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.opts.TLS == nil {
		return errors.New("kubeletserver: Options.TLS is required to serve")
	}
	cfg := s.opts.TLS.Clone()
	// HTTP/1.1 only: exec, attach and port-forward hijack the connection.
	cfg.NextProtos = []string{"http/1.1"}
	if s.opts.ClientCAs != nil {
		cfg.ClientCAs = s.opts.ClientCAs
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 30 * time.Second,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := hs.Shutdown(sctx); err != nil {
				hs.Close()
			}
		case <-done:
		}
	}()
	err := hs.Serve(tls.NewListener(ln, cfg))
	close(done)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("kubeletserver: %w", err)
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok"))
	})
	mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", s.serveLogs)
	for _, m := range []string{"GET", "POST"} {
		mux.HandleFunc(m+" /exec/{ns}/{pod}/{container}", s.serveExec)
		mux.HandleFunc(m+" /exec/{ns}/{pod}", s.serveExec)
		mux.HandleFunc(m+" /attach/{ns}/{pod}/{container}", s.serveAttach)
		mux.HandleFunc(m+" /attach/{ns}/{pod}", s.serveAttach)
		mux.HandleFunc(m+" /portForward/{ns}/{pod}", s.servePortForward)
	}
	return s.withAuthentication(mux)
}

// withAuthentication requires a verified client certificate when ClientCAs
// is set, except for /healthz.
func (s *Server) withAuthentication(next http.Handler) http.Handler {
	if s.opts.ClientCAs == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeError answers err with the status its kind calls for and logs
// server-side failures.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusInternalServerError
	var cre *ContainerRequiredError
	var bre badRequestError
	switch {
	case errors.Is(err, ErrNotFound):
		code = http.StatusNotFound
	case errors.As(err, &cre), errors.As(err, &bre):
		code = http.StatusBadRequest
	}
	if code >= 500 {
		s.log.Error("kubelet request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	http.Error(w, err.Error(), code)
}

// badRequestError marks an error as the client's fault.
type badRequestError struct{ msg string }

func (e badRequestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return badRequestError{msg: fmt.Sprintf(format, args...)}
}

// boolParam reads a boolean query parameter given as 1/true (or present
// with no value).
func boolParam(r *http.Request, names ...string) bool {
	q := r.URL.Query()
	for _, n := range names {
		vals, ok := q[n]
		if !ok {
			continue
		}
		if len(vals) == 0 || vals[0] == "" {
			return true
		}
		switch strings.ToLower(vals[0]) {
		case "1", "true", "yes":
			return true
		}
	}
	return false
}

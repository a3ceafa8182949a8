package ingress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// maxAttempts bounds how many endpoints one request tries.
const maxAttempts = 3

// proxy serves one listener (HTTP or HTTPS) from the current snapshot.
type proxy struct {
	table   *atomic.Pointer[table]
	rp      *httputil.ReverseProxy
	log     *slog.Logger
	metrics *metrics
	proto   string // X-Forwarded-Proto
	port    string // X-Forwarded-Port, set once the listener is open
}

// attempt follows one request through the transport: which pool it uses
// and which endpoint finally answered.
type attempt struct {
	pool        *pool
	proto, port string // the listener's, for X-Forwarded-Proto/-Port
	endpoint    *endpoint
	status      int // the backend's answer
}

type attemptKey struct{}

// newReverseProxy builds the one ReverseProxy shared by both listeners:
// the transport picks the endpoint, so the proxy itself only rewrites
// headers.
func newReverseProxy(transport http.RoundTripper, log *slog.Logger) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = "backend" // replaced per attempt by the transport
			pr.SetXForwarded()
			if at, ok := pr.In.Context().Value(attemptKey{}).(*attempt); ok {
				pr.Out.Header.Set("X-Forwarded-Proto", at.proto)
				pr.Out.Header.Set("X-Forwarded-Port", at.port)
			}
			pr.Out.Host = pr.In.Host // the backend sees the client's Host
		},
		Transport: transport,
		// Streaming answers (no Content-Length, text/event-stream) are
		// flushed after every write; a fixed-length one is buffered, so
		// that its headers and a short body leave in one write.
		FlushInterval: 0,
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		// Copy buffers are reused: a fresh 32 KiB per request was a
		// tenth of the proxy's CPU (allocation and zeroing).
		BufferPool: &bufferPool{},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the client went away; nobody reads an answer
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprintln(w, "502 bad gateway: no endpoint of the service answered")
		},
	}
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rt := p.table.Load().lookup(r.Host, r.URL.Path)
	rec := &recorder{ResponseWriter: w}
	var upstream string
	switch {
	case rt == nil:
		plain(rec, http.StatusNotFound, "404 not found: no ingress rule matches this host and path")
	case rt.pool.empty():
		plain(rec, http.StatusServiceUnavailable, "503 service unavailable: no ready endpoint for this backend")
	default:
		at := &attempt{pool: rt.pool, proto: p.proto, port: p.port}
		p.rp.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), attemptKey{}, at)))
		if at.endpoint != nil {
			upstream = at.endpoint.addr
			at.endpoint.done()
		}
		if rec.code == 0 && at.status == http.StatusSwitchingProtocols {
			rec.code = at.status // written on the hijacked connection, past the recorder
		}
	}
	code := rec.code
	if code == 0 {
		code = http.StatusOK // nothing written: net/http answers 200
	}
	elapsed := time.Since(start)
	var ns, ing, svc string
	if rt != nil {
		ns, ing, svc = rt.namespace, rt.ingress, rt.service
	}
	p.metrics.observe(ns, ing, svc, code, elapsed)
	if p.log.Enabled(r.Context(), slog.LevelInfo) {
		var ingKey string
		if rt != nil {
			ingKey = ns + "/" + ing
		}
		p.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("remote", r.RemoteAddr), slog.String("proto", p.proto),
			slog.String("method", r.Method), slog.String("host", r.Host), slog.String("path", r.URL.Path),
			slog.Int("status", code), slog.Int64("bytes", rec.bytes), slog.Duration("duration", elapsed),
			slog.String("ingress", ingKey), slog.String("service", svc), slog.String("upstream", upstream))
	}
}

// bufferPool recycles ReverseProxy's copy buffers.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

func plain(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	io.WriteString(w, msg+"\n")
}

// recorder notes the status and size of an answer. Unwrap lets
// http.ResponseController reach Flush and Hijack underneath.
type recorder struct {
	http.ResponseWriter
	code  int
	bytes int64
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 || r.code < 200 { // informational answers come before the final one
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// balancingTransport sends each attempt to the endpoint with the fewest
// outstanding requests and retries on another one when that is safe.
type balancingTransport struct {
	base http.RoundTripper
	now  func() time.Time
}

func (t *balancingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	at, ok := req.Context().Value(attemptKey{}).(*attempt)
	if !ok {
		return nil, errors.New("ingress: request without a backend")
	}
	var body *onceBody
	if req.Body != nil && req.Body != http.NoBody {
		body = &onceBody{ReadCloser: req.Body}
	}
	var tried []*endpoint
	var lastErr error
	for range maxAttempts {
		e := at.pool.pick(tried, t.now())
		if e == nil {
			break
		}
		out := *req // shallow: only the URL differs per attempt
		u := *req.URL
		u.Host = e.addr
		out.URL = &u
		if body != nil {
			out.Body = body
		}
		resp, err := t.base.RoundTrip(&out)
		if err == nil {
			at.endpoint, at.status = e, resp.StatusCode
			return resp, nil
		}
		e.done()
		tried = append(tried, e)
		lastErr = err
		dial := isDialError(err)
		if dial {
			e.eject(t.now())
		}
		if req.Context().Err() != nil || !retrySafe(req, body, dial) {
			break
		}
	}
	if body != nil {
		body.ReadCloser.Close()
	}
	if lastErr == nil {
		lastErr = errors.New("no ready endpoint")
	}
	return nil, lastErr
}

// retrySafe: a request may go to another endpoint when nothing of it
// reached the failed one (the dial failed) or when it is idempotent and
// its body, if any, was not read yet.
func retrySafe(req *http.Request, body *onceBody, dial bool) bool {
	if body != nil && body.started.Load() {
		return false
	}
	if dial {
		return true
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return req.Header.Get("Upgrade") == ""
	}
	return false
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// onceBody passes the client's body through and notes whether any of it
// was read; it ignores Close so that a failed attempt does not close the
// body another attempt will send. The server closes the real one.
type onceBody struct {
	io.ReadCloser
	started atomic.Bool
}

func (b *onceBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.started.Store(true)
	}
	return n, err
}

func (b *onceBody) Close() error { return nil }

func listenerPort(ln net.Listener) string {
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		return strconv.Itoa(a.Port)
	}
	return ""
}

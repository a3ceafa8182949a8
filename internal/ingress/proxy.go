package ingress

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// readHeaderTimeout bounds the TLS handshake and reading a request's
	// header block; clientIdleTimeout the wait for the next request on a
	// keep-alive connection.
	readHeaderTimeout = 30 * time.Second
	clientIdleTimeout = 2 * time.Minute
	// clientReadBuffer is the read buffer of a client connection; a
	// request's header block must fit in it (as in HAProxy), which lets
	// the framing be checked before the request is parsed.
	clientReadBuffer = 16 << 10
	// maxDiscard is how much of an unread request body is skipped to
	// keep a connection alive after a local answer (404, 503).
	maxDiscard = 256 << 10
)

// frontend serves one listener (HTTP or HTTPS): one goroutine per client
// connection reads each request, forwards it and relays the answer, in
// turn. It replaces net/http's server and client, whose hand-offs
// between goroutines cost as much as the proxying itself on loopback.
type frontend struct {
	table   *atomic.Pointer[table]
	log     *slog.Logger // the access log
	metrics *metrics
	dialer  *net.Dialer
	buffers *sync.Pool  // body copy buffers
	tls     *tls.Config // nil for plain HTTP
	proto   string      // X-Forwarded-Proto
	port    string      // X-Forwarded-Port

	mu      sync.Mutex
	conns   map[*clientConn]struct{}
	closing atomic.Bool // set under mu
	wg      sync.WaitGroup
}

// connState says what shutdown may do with a client connection.
type connState int

const (
	stateIdle   connState = iota // between requests (or handshaking): may be closed
	stateActive                  // a request is in flight: wait for it
	stateTunnel                  // upgraded: closed once requests are done
)

// serve accepts connections until ln is closed. ctx bounds the
// connections' dials.
func (f *frontend) serve(ctx context.Context, ln net.Listener) error {
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || f.closing.Load() {
				return nil
			}
			// Out of file descriptors and the like: back off as
			// net/http does, and keep serving the open connections.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			f.log.Debug("accept failed", "err", err, "retry", delay)
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		delay = 0
		conn = newSysConn(conn)
		c := &clientConn{f: f, raw: conn, rw: conn, remote: conn.RemoteAddr().String()}
		if !f.track(c) {
			conn.Close()
			continue
		}
		go func() {
			defer f.wg.Done()
			defer f.untrack(c)
			c.serve(ctx)
		}()
	}
}

func (f *frontend) track(c *clientConn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closing.Load() {
		return false
	}
	if f.conns == nil {
		f.conns = map[*clientConn]struct{}{}
	}
	f.conns[c] = struct{}{}
	f.wg.Add(1)
	return true
}

func (f *frontend) untrack(c *clientConn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
}

// setState records what c is doing; going idle fails once the frontend
// is closing, and the connection then ends.
func (f *frontend) setState(c *clientConn, s connState) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s == stateIdle && f.closing.Load() {
		return false
	}
	c.state = s
	return true
}

// shutdown closes ln and the idle connections, waits until no request
// is in flight or ctx ends, then closes what is left (upgraded
// connections too) and waits for every connection's goroutine.
func (f *frontend) shutdown(ctx context.Context, ln net.Listener) {
	f.mu.Lock()
	f.closing.Store(true)
	f.mu.Unlock()
	ln.Close()
	wait := time.Millisecond
	for f.closeIdle() > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(wait):
			wait = min(2*wait, 100*time.Millisecond)
			continue
		}
		break
	}
	// What is left waits on a client or on an endpoint (a quiet stream,
	// a body it does not take): close both.
	f.mu.Lock()
	for c := range f.conns {
		c.raw.Close()
		if c.backend != nil {
			c.backend.close()
		}
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// setBackend records the endpoint connection c's request uses (nil
// once done).
func (f *frontend) setBackend(c *clientConn, bc *backendConn) {
	f.mu.Lock()
	c.backend = bc
	f.mu.Unlock()
}

// closeIdle closes the connections between requests and counts those
// with a request in flight.
func (f *frontend) closeIdle() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	active := 0
	for c := range f.conns {
		switch c.state {
		case stateIdle:
			c.raw.Close()
		case stateActive:
			active++
		}
	}
	return active
}

// clientConn is one accepted connection, served by one goroutine.
type clientConn struct {
	f      *frontend
	raw    net.Conn // what shutdown closes
	rw     net.Conn // raw, or the TLS connection over it
	remote string
	ip     string // X-Forwarded-For
	in     flushBeforeRead
	br     *bufio.Reader
	bw     *bufio.Writer
	state  connState // guarded by f.mu
	// backend is the endpoint connection of the request in flight, which
	// shutdown closes after the grace period. Guarded by f.mu.
	backend *backendConn
}

// result is what the access log and the metrics say about a request.
type result struct {
	code     int
	bytes    int64  // body bytes sent to the client
	upstream string // the endpoint that answered
	keep     bool   // the client connection serves another request
}

func (c *clientConn) serve(ctx context.Context) {
	defer c.raw.Close()
	if c.f.tls != nil {
		tc := tls.Server(c.raw, c.f.tls)
		c.raw.SetDeadline(time.Now().Add(readHeaderTimeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			c.f.log.Debug("TLS handshake failed", "remote", c.remote, "err", err)
			return
		}
		c.raw.SetDeadline(time.Time{})
		c.rw = tc
	}
	if host, _, err := net.SplitHostPort(c.remote); err == nil {
		c.ip = host
	}
	c.in.r = c.rw
	c.br = bufio.NewReaderSize(&c.in, clientReadBuffer)
	c.bw = bufio.NewWriterSize(c.rw, 4<<10)
	for c.f.setState(c, stateIdle) {
		req, code, err := c.readRequest()
		if err != nil {
			if code != 0 {
				c.refuse(code, err)
			}
			return
		}
		if !c.handle(ctx, req) {
			return
		}
	}
}

var errHeadTooLarge = errors.New("request header block too large")

// readRequest waits for the next request and parses it. A non-zero code
// is the answer to a request refused before it was parsed in full.
func (c *clientConn) readRequest() (*http.Request, int, error) {
	if c.br.Buffered() == 0 {
		c.rw.SetReadDeadline(time.Now().Add(clientIdleTimeout))
		if _, err := c.br.Peek(1); err != nil {
			return nil, 0, err
		}
	}
	c.f.setState(c, stateActive)
	head, err := peekHead(c.br, c.rw)
	switch {
	case errors.Is(err, errHeadTooLarge):
		return nil, http.StatusRequestHeaderFieldsTooLarge, err
	case err != nil:
		return nil, 0, err
	}
	fields := scanFields(head)
	req, err := http.ReadRequest(c.br)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	// The idle deadline may stay while nothing more is read from the
	// client; a body has no deadline (upgrades and waits clear it too).
	if req.ContentLength != 0 {
		c.rw.SetReadDeadline(time.Time{})
	}
	if req.ProtoMajor != 1 {
		return nil, http.StatusHTTPVersionNotSupported, errors.New("unsupported protocol version")
	}
	// Two framings are how requests are smuggled past a proxy: refuse
	// them, and chunking from an HTTP/1.0 client, which net/http ignores.
	if fields.te && (fields.cl || !req.ProtoAtLeast(1, 1)) {
		return nil, http.StatusBadRequest, errors.New("ambiguous message framing")
	}
	switch {
	case fields.hosts > 1:
		return nil, http.StatusBadRequest, errors.New("too many Host headers")
	case req.ProtoAtLeast(1, 1) && fields.hosts == 0:
		return nil, http.StatusBadRequest, errors.New("missing required Host header")
	case !validHost(req.Host):
		return nil, http.StatusBadRequest, errors.New("malformed Host header")
	}
	return req, 0, nil
}

// peekHead waits until br holds a whole header block (up to its empty
// line) and returns it, unread. A block not there at once must arrive
// within readHeaderTimeout.
func peekHead(br *bufio.Reader, conn net.Conn) ([]byte, error) {
	from := 0
	for n, reads := 1, 0; ; reads++ {
		if reads == 1 { // not all there at once: the header deadline applies
			conn.SetReadDeadline(time.Now().Add(readHeaderTimeout))
		}
		if _, err := br.Peek(n); err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return nil, errHeadTooLarge
			}
			return nil, err
		}
		buf, _ := br.Peek(br.Buffered())
		if end := headEnd(buf, from); end >= 0 {
			return buf[:end], nil
		}
		if len(buf) == br.Size() {
			return nil, errHeadTooLarge
		}
		from, n = max(len(buf)-2, 0), len(buf)+1
	}
}

// headEnd finds the end of the empty line closing a header block, from
// byte from on; -1 when it has not arrived.
func headEnd(buf []byte, from int) int {
	for i := from; i < len(buf); {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		switch {
		case i < len(buf) && buf[i] == '\n':
			return i + 1
		case i+1 < len(buf) && buf[i] == '\r' && buf[i+1] == '\n':
			return i + 2
		}
	}
	return -1
}

// headFields is what the parsed request no longer tells: net/http drops
// Content-Length when Transfer-Encoding is there too, and all Host fields.
type headFields struct {
	cl, te bool
	hosts  int
}

func scanFields(head []byte) headFields {
	var f headFields
	for len(head) > 0 {
		line := head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil
		}
		name, _, ok := bytes.Cut(line, []byte{':'})
		switch {
		case !ok:
		case bytes.EqualFold(name, []byte("Host")):
			f.hosts++
		case bytes.EqualFold(name, []byte("Content-Length")):
			f.cl = true
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			f.te = true
		}
	}
	return f
}

// validHost accepts what may stand in a Host header: a name or address
// and a port; no spaces, controls, or URL delimiters.
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		switch b := h[i]; {
		case b <= ' ', b >= 0x7f, b == '/', b == '?', b == '#', b == '@', b == '\\':
			return false
		}
	}
	return true
}

// handle answers one request; false when the connection must end.
func (c *clientConn) handle(ctx context.Context, req *http.Request) bool {
	start := time.Now()
	rt := c.f.table.Load().lookup(req.Host, req.URL.Path)
	var res result
	switch {
	case req.Method == http.MethodConnect:
		res = c.local(req, http.StatusMethodNotAllowed, "405 method not allowed: CONNECT is not proxied")
		rt = nil
	case req.ProtoAtLeast(1, 1) && req.Header.Get("Expect") != "" && !expectsContinue(req):
		res = c.local(req, http.StatusExpectationFailed, "417 expectation failed: only 100-continue is supported")
		rt = nil
	case rt == nil:
		res = c.local(req, http.StatusNotFound, "404 not found: no ingress rule matches this host and path")
	case rt.pool.empty():
		res = c.local(req, http.StatusServiceUnavailable, "503 service unavailable: no ready endpoint for this backend")
	default:
		res = c.forward(ctx, req, rt.pool)
	}
	elapsed := time.Since(start)
	var ns, ing, svc string
	if rt != nil {
		ns, ing, svc = rt.namespace, rt.ingress, rt.service
	}
	c.f.metrics.observe(ns, ing, svc, res.code, elapsed)
	if c.f.log.Enabled(ctx, slog.LevelInfo) {
		var ingKey string
		if rt != nil {
			ingKey = ns + "/" + ing
		}
		c.f.log.LogAttrs(ctx, slog.LevelInfo, "request",
			slog.String("remote", c.remote), slog.String("proto", c.f.proto),
			slog.String("method", req.Method), slog.String("host", req.Host), slog.String("path", req.URL.Path),
			slog.Int("status", res.code), slog.Int64("bytes", res.bytes), slog.Duration("duration", elapsed),
			slog.String("ingress", ingKey), slog.String("service", svc), slog.String("upstream", res.upstream))
	}
	return res.keep && !c.f.closing.Load()
}

// local answers a request itself with a one-line text body, and skips
// the request's body when it is short enough to keep the connection.
func (c *clientConn) local(req *http.Request, code int, msg string) result {
	keep := !req.Close
	switch {
	case req.ContentLength == 0:
	case expectsContinue(req), req.ContentLength > maxDiscard:
		keep = false // the body never comes, or is too long to skip
	}
	msg += "\n"
	w := c.bw
	writeStatusLine(w, req, code)
	w.WriteString("Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n")
	writeDate(w)
	w.WriteString("Content-Length: ")
	w.WriteString(strconv.Itoa(len(msg)))
	w.WriteString("\r\n")
	writeConnection(w, req, keep)
	w.WriteString("\r\n")
	var n int64
	if req.Method != http.MethodHead {
		w.WriteString(msg)
		n = int64(len(msg))
	}
	if err := w.Flush(); err != nil {
		keep = false
	}
	if keep && req.ContentLength != 0 {
		skipped, err := io.CopyN(io.Discard, req.Body, maxDiscard+1)
		keep = err == io.EOF && skipped <= maxDiscard
	}
	return result{code: code, bytes: n, keep: keep && !c.f.closing.Load()}
}

// refuse answers a request that could not be parsed, as net/http does,
// before the connection is closed.
func (c *clientConn) refuse(code int, err error) {
	c.f.log.Debug("request refused", "remote", c.remote, "status", code, "err", err)
	msg := fmt.Sprintf("%d %s: %v\n", code, http.StatusText(code), err)
	fmt.Fprintf(c.bw, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		code, http.StatusText(code), len(msg), msg)
	c.bw.Flush()
}

func writeStatusLine(w *bufio.Writer, req *http.Request, code int) {
	if req.ProtoAtLeast(1, 1) {
		w.WriteString("HTTP/1.1 ")
	} else {
		w.WriteString("HTTP/1.0 ")
	}
	w.WriteString(strconv.Itoa(code))
	w.WriteByte(' ')
	w.WriteString(http.StatusText(code))
	w.WriteString("\r\n")
}

func writeDate(w *bufio.Writer) {
	w.WriteString("Date: ")
	w.Write(time.Now().UTC().AppendFormat(w.AvailableBuffer(), http.TimeFormat))
	w.WriteString("\r\n")
}

// writeConnection says whether the client connection stays open: HTTP/1.1
// keeps it unless told, HTTP/1.0 closes it unless told.
func writeConnection(w *bufio.Writer, req *http.Request, keep bool) {
	switch {
	case !keep:
		w.WriteString("Connection: close\r\n")
	case !req.ProtoAtLeast(1, 1):
		w.WriteString("Connection: keep-alive\r\n")
	}
}

// flushBeforeRead reads from r, first flushing w when it holds anything:
// whatever waits to be written leaves before the goroutine blocks on a
// read. This is what makes streamed bodies flow in both directions
// without a flush policy of their own.
//
// With bounded set, reads fail once left bytes have been read: that
// bounds a header block whose parser has no limit of its own.
type flushBeforeRead struct {
	r       io.Reader
	w       *bufio.Writer // nil: nothing to flush
	werr    error         // the flush that failed
	bounded bool
	left    int
}

var errTooLong = errors.New("header block too long")

func (f *flushBeforeRead) Read(p []byte) (int, error) {
	if f.w != nil && f.w.Buffered() > 0 {
		if err := f.w.Flush(); err != nil {
			f.werr = err
			return 0, err
		}
	}
	if !f.bounded {
		return f.r.Read(p)
	}
	if f.left <= 0 {
		return 0, errTooLong
	}
	n, err := f.r.Read(p[:min(len(p), f.left)])
	f.left -= n
	return n, err
}

func listenerPort(ln net.Listener) string {
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		return strconv.Itoa(a.Port)
	}
	return ""
}

package ingress

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	// maxAttempts bounds how many endpoints one request tries.
	maxAttempts = 3
	// staleAfter is how long a pooled connection may sit idle before it
	// is checked for a close from the endpoint before use (always, for
	// requests that cannot be retried).
	staleAfter = time.Second
	// watchClientAfter is how long an answer may take before the client
	// connection is watched for a close while waiting.
	watchClientAfter = 500 * time.Millisecond
	// earlyAnswerWait is how long an endpoint that stopped taking a
	// request body has to show the answer it sent instead.
	earlyAnswerWait = time.Second
	// maxAnswerHead bounds the header blocks of an endpoint's answer
	// (with any informational answers before it).
	maxAnswerHead = 1 << 20
)

// backendConn is a keep-alive connection to one endpoint, used by one
// request at a time.
type backendConn struct {
	conn      net.Conn
	in        flushBeforeRead
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
	// check: its last answer had no body (HEAD, 204, 304), after which a
	// faulty endpoint may still send one: check before the next use.
	check bool
}

func (bc *backendConn) close() { bc.conn.Close() }

// alive tells whether an idle connection is still open: the endpoint has
// neither closed it nor sent anything since (one non-blocking peek).
func (bc *backendConn) alive() bool {
	if bc.br.Buffered() > 0 {
		return false
	}
	sc, ok := bc.conn.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var b [1]byte
	if err := rc.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = errors.Is(err, syscall.EAGAIN)
		return true
	}); err != nil {
		return false
	}
	return alive
}

// connect takes an idle connection to e, or dials one when there is none
// or fresh is set. reused says the connection had served before. With
// check, an idle connection is first checked for a close from the
// endpoint: for requests that could not be retried if it had been.
func (f *frontend) connect(ctx context.Context, e *endpoint, fresh, check bool) (bc *backendConn, reused bool, err error) {
	if !fresh {
		now := time.Now()
		for bc := e.takeIdle(now); bc != nil; bc = e.takeIdle(now) {
			if !check && !bc.check && now.Sub(bc.idleSince) < staleAfter || bc.alive() {
				return bc, true, nil
			}
			bc.close()
		}
	}
	conn, err := f.dialer.DialContext(ctx, "tcp", e.addr)
	if err != nil {
		return nil, false, err
	}
	conn = newSysConn(conn)
	bc = &backendConn{conn: conn}
	bc.in.r = conn
	bc.br = bufio.NewReaderSize(&bc.in, 4<<10)
	bc.bw = bufio.NewWriterSize(conn, 4<<10)
	return bc, false, nil
}

// attemptError is an exchange with an endpoint that failed before any of
// its answer reached the client.
type attemptError struct {
	err error
	// dial: no connection was made. unsent: the endpoint cannot have
	// acted on the request (not all of its head got through). nothing: no
	// byte of an answer arrived, which is how a pooled connection the
	// endpoint had closed shows.
	dial, unsent, nothing bool
}

func (e *attemptError) Error() string { return e.err.Error() }
func (e *attemptError) Unwrap() error { return e.err }

// errClientBody is a request body the client did not send in full.
var errClientBody = errors.New("the request body could not be read")

// requestBody passes the client's body through: it answers 100 Continue
// before the first read when the client waits for that, and notes
// whether any of the body was read (then the request cannot be retried).
type requestBody struct {
	r    io.Reader
	cont *bufio.Writer // where 100 Continue goes; nil once sent or not wanted
	// in is the client connection's reader, which flushes what is owed to
	// the endpoint before it blocks: a failed flush is the endpoint's
	// fault, not the client's.
	in      *flushBeforeRead
	chunked bool
	started bool
	// readFail: reading from the client failed. spoilt: a read failed
	// (whoever's fault) and left the body unreadable (Go's chunked reader
	// keeps its error), so the request cannot be sent again.
	readFail, spoilt bool
}

func (b *requestBody) Read(p []byte) (int, error) {
	if b.cont != nil {
		b.cont.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		err := b.cont.Flush()
		b.cont = nil
		if err != nil {
			b.readFail = true
			return 0, err
		}
	}
	n, err := b.r.Read(p)
	if n > 0 {
		b.started = true
	}
	if err != nil && err != io.EOF {
		if b.in.werr == nil {
			b.readFail = true
		}
		if b.chunked {
			b.spoilt = true
		}
	}
	return n, err
}

// forward sends req to the endpoints of p, least outstanding first, and
// relays the first answer. Failures before any answer reached the client
// are retried on another endpoint when retrySafe says so; then 502.
func (c *clientConn) forward(ctx context.Context, req *http.Request, p *pool) result {
	body := &requestBody{r: req.Body, in: &c.in, chunked: req.ContentLength < 0}
	if req.ContentLength != 0 && expectsContinue(req) {
		body.cont = c.bw
	}
	var tried []*endpoint
	var lastErr error
	for range maxAttempts {
		e := p.pick(tried, time.Now())
		if e == nil {
			break
		}
		res, err := c.exchange(ctx, req, e, body)
		e.done()
		if err == nil {
			res.upstream = e.addr
			return res
		}
		lastErr = err
		if errors.Is(err, errClientBody) {
			res := c.local(req, http.StatusBadRequest, "400 bad request: "+errClientBody.Error())
			res.keep = false
			return res
		}
		tried = append(tried, e)
		var ae *attemptError
		if !errors.As(err, &ae) {
			break
		}
		if ae.dial {
			e.eject(time.Now())
		}
		if !retrySafe(req, body.started || body.spoilt, ae.unsent) {
			break
		}
	}
	c.f.log.Debug("no endpoint answered", "host", req.Host, "path", req.URL.Path, "err", lastErr)
	return c.local(req, http.StatusBadGateway, "502 bad gateway: no endpoint of the service answered")
}

// retrySafe: a request may go to another endpoint when the failed one
// cannot have acted on it, or when it is idempotent and its body, if
// any, was not read yet.
func retrySafe(req *http.Request, bodyStarted, unsent bool) bool {
	if bodyStarted {
		return false
	}
	if unsent {
		return true
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return req.Header.Get("Upgrade") == ""
	}
	return false
}

// exchange sends req on a connection to e. A pooled connection that
// turns out closed by the endpoint is replaced by a new one, once,
// when retrying is safe: the client never sees that race.
func (c *clientConn) exchange(ctx context.Context, req *http.Request, e *endpoint, body *requestBody) (result, error) {
	for fresh := false; ; fresh = true {
		// A request that could not be resent (or whose body, once read,
		// could not be) checks a pooled connection first.
		check := !retrySafe(req, false, false) || req.ContentLength != 0
		bc, reused, err := c.f.connect(ctx, e, fresh, check)
		if err != nil {
			return result{}, &attemptError{err: err, dial: true, unsent: true, nothing: true}
		}
		c.f.setBackend(c, bc)
		res, err := c.roundTrip(req, e, bc, body)
		c.f.setBackend(c, nil)
		var ae *attemptError
		if reused && errors.As(err, &ae) && ae.nothing && retrySafe(req, body.started || body.spoilt, ae.unsent) {
			continue
		}
		return res, err
	}
}

// roundTrip writes req to bc, reads the answer and relays it to the
// client. It returns an error only when nothing was written to the
// client; bc is then closed. Otherwise bc goes back to e's idle
// connections if it can serve again.
func (c *clientConn) roundTrip(req *http.Request, e *endpoint, bc *backendConn, body *requestBody) (result, error) {
	fail := func(err error) (result, error) {
		bc.close()
		return result{}, err
	}
	upgrade := upgradeType(req.Header)
	chunked := req.ContentLength < 0
	var early bool // the endpoint answered before taking the whole body
	var earlyErr error
	writeRequestHead(bc.bw, req, c, e.addr, upgrade, chunked)
	if req.ContentLength != 0 {
		// While the client's body streams in, whatever of it arrived goes
		// on before the goroutine waits for more.
		c.in.w, c.in.werr = bc.bw, nil
		buf := c.f.buffers.Get().(*[]byte)
		err := copyBody(bc.bw, body, chunked, req.Trailer, *buf)
		c.f.buffers.Put(buf)
		c.in.w = nil
		switch {
		case body.readFail:
			return fail(fmt.Errorf("%w: %w", errClientBody, err))
		case (c.in.werr != nil || err != nil) && !body.started:
			return fail(&attemptError{err: cmp.Or(c.in.werr, err), unsent: true, nothing: true})
		case c.in.werr != nil || err != nil:
			// The endpoint stopped taking the body: it may have answered
			// early (413, 401) before closing. That answer goes to the
			// client, whose connection then closes (the rest of its body
			// is unread); with none, 502.
			early, earlyErr = true, cmp.Or(c.in.werr, err)
		}
	}
	if !early {
		if err := bc.bw.Flush(); err != nil {
			return fail(&attemptError{err: err, unsent: !body.started, nothing: true})
		}
	}
	bc.in.bounded, bc.in.left = true, maxAnswerHead // until the final answer's head is read
	if early {
		bc.conn.SetReadDeadline(time.Now().Add(earlyAnswerWait))
	} else if err := c.awaitAnswer(bc); err != nil {
		if errors.Is(err, errClientGone) {
			bc.close()
			return result{code: statusClientClosed}, nil
		}
		return fail(&attemptError{err: err, nothing: true})
	}
	var resp *http.Response
	for {
		var err error
		if resp, err = http.ReadResponse(bc.br, req); err != nil {
			if early {
				return fail(&attemptError{err: earlyErr})
			}
			return fail(&attemptError{err: err})
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		// 100 Continue was the client's already; other informational
		// answers (103 Early Hints) go on to HTTP/1.1 clients.
		if resp.StatusCode != http.StatusContinue && req.ProtoAtLeast(1, 1) {
			writeStatusLine(c.bw, req, resp.StatusCode)
			writeFields(c.bw, resp.Header, skipResponseField, connectionTokens(resp.Header))
			c.bw.WriteString("\r\n")
			if err := c.bw.Flush(); err != nil {
				bc.close()
				return result{code: resp.StatusCode}, nil
			}
		}
	}
	bc.in.bounded = false
	if early {
		bc.conn.SetReadDeadline(time.Time{})
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return c.switchProtocols(req, resp, bc, upgrade)
	}

	res := result{code: resp.StatusCode, keep: !req.Close && !early}
	bodyless := req.Method == http.MethodHead || resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified
	chunked = false
	if !bodyless && resp.ContentLength < 0 {
		if req.ProtoAtLeast(1, 1) {
			chunked = true
		} else {
			res.keep = false // the end of the body is the end of the connection
		}
	}
	if c.f.closing.Load() {
		res.keep = false
	}
	writeResponseHead(c.bw, req, resp, chunked, res.keep)
	if !bodyless {
		bc.in.w, bc.in.werr = c.bw, nil
		buf := c.f.buffers.Get().(*[]byte)
		var err error
		res.bytes, err = copyResponseBody(c.bw, resp.Body, chunked, resp.Trailer, *buf)
		c.f.buffers.Put(buf)
		bc.in.w = nil
		if err != nil || bc.in.werr != nil {
			// A cut answer: closing both connections is how the client
			// learns it is incomplete.
			bc.close()
			res.keep = false
			return res, nil
		}
		resp.Body.Close()
	}
	// The endpoint connection is settled before the answer's last bytes
	// go to the client, so that the client's next request finds it idle.
	// Bytes after the answer (a body on a bodyless answer, more than its
	// Content-Length) would be read as the next request's answer.
	if resp.Close || early || bc.br.Buffered() > 0 {
		bc.close()
	} else {
		bc.check = bodyless
		e.putIdle(bc, time.Now())
	}
	if err := c.bw.Flush(); err != nil {
		res.keep = false
	}
	return res, nil
}

// errClientGone: the client closed its connection while its request
// waited for an answer. Recorded as status 499, as nginx does.
var errClientGone = errors.New("client closed the connection")

const statusClientClosed = 499

// awaitAnswer waits for the first byte of the endpoint's answer. When
// that takes longer than watchClientAfter, the client connection is
// watched meanwhile: if the client goes away the endpoint connection is
// closed, which ends the request there too.
func (c *clientConn) awaitAnswer(bc *backendConn) error {
	bc.conn.SetReadDeadline(time.Now().Add(watchClientAfter))
	_, err := bc.br.Peek(1)
	bc.conn.SetReadDeadline(time.Time{})
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	c.rw.SetReadDeadline(time.Time{}) // the idle one may still be set
	var gone atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Bytes (a pipelined request) end the watch; they stay buffered.
		if _, err := c.br.Peek(1); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			gone.Store(true)
			bc.close()
		}
	}()
	_, err = bc.br.Peek(1)
	c.rw.SetReadDeadline(time.Unix(1, 0)) // ends the watch
	<-done
	c.rw.SetReadDeadline(time.Time{})
	if gone.Load() {
		return errClientGone
	}
	return err
}

// switchProtocols relays a 101 answer and then copies bytes both ways
// until either side closes.
func (c *clientConn) switchProtocols(req *http.Request, resp *http.Response, bc *backendConn, upgrade string) (result, error) {
	got := upgradeType(resp.Header)
	if upgrade == "" || !strings.EqualFold(got, upgrade) {
		bc.close()
		return result{}, &attemptError{err: fmt.Errorf("endpoint switched to protocol %q when %q was asked", got, upgrade)}
	}
	writeStatusLine(c.bw, req, resp.StatusCode)
	writeFields(c.bw, resp.Header, skipResponseField, connectionTokens(resp.Header))
	c.bw.WriteString("Connection: Upgrade\r\nUpgrade: ")
	c.bw.WriteString(got)
	c.bw.WriteString("\r\n\r\n")
	res := result{code: http.StatusSwitchingProtocols}
	if err := c.bw.Flush(); err != nil {
		bc.close()
		return res, nil
	}
	c.f.setState(c, stateTunnel)
	c.rw.SetReadDeadline(time.Time{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.br.WriteTo(bc.conn) // the client's bytes, those already read first
		bc.close()
		c.raw.Close()
	}()
	res.bytes, _ = bc.br.WriteTo(c.rw)
	bc.close()
	c.raw.Close()
	<-done
	return res, nil
}

// newBufferPool makes the pool of body copy buffers: allocating and
// zeroing 32 KiB per request was a tenth of the proxy's CPU.
func newBufferPool() *sync.Pool {
	return &sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
}

// copyBody copies a request body, chunked or as is, with its trailers.
func copyBody(w *bufio.Writer, body io.Reader, chunked bool, trailer http.Header, buf []byte) error {
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if werr := writeChunk(w, buf[:n], chunked); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if chunked {
		return endChunks(w, trailer)
	}
	return nil
}

// copyResponseBody copies an answer's body to the client and counts it.
func copyResponseBody(w *bufio.Writer, body io.Reader, chunked bool, trailer http.Header, buf []byte) (int64, error) {
	var total int64
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if werr := writeChunk(w, buf[:n], chunked); werr != nil {
				return total, werr
			}
			total += int64(n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return total, err
		}
	}
	if chunked {
		return total, endChunks(w, trailer)
	}
	return total, nil
}

func writeChunk(w *bufio.Writer, p []byte, chunked bool) error {
	if chunked {
		w.Write(strconv.AppendInt(w.AvailableBuffer(), int64(len(p)), 16))
		w.WriteString("\r\n")
	}
	_, err := w.Write(p)
	if chunked && err == nil {
		_, err = w.WriteString("\r\n")
	}
	return err
}

func endChunks(w *bufio.Writer, trailer http.Header) error {
	w.WriteString("0\r\n")
	writeFields(w, trailer, func(string) bool { return false }, nil)
	_, err := w.WriteString("\r\n")
	return err
}

// writeRequestHead writes the request line and fields sent to the
// endpoint: the client's Host, X-Forwarded-For/-Host/-Proto/-Port set
// by us, hop-by-hop fields dropped (RFC 9110 7.6.1), framing our own.
// An HTTP/1.0 request without Host gets the endpoint's address.
func writeRequestHead(w *bufio.Writer, req *http.Request, c *clientConn, addr, upgrade string, chunked bool) {
	w.WriteString(req.Method)
	w.WriteByte(' ')
	if u := req.RequestURI; u == "*" || strings.HasPrefix(u, "/") {
		w.WriteString(u) // as the client wrote it
	} else {
		w.WriteString(req.URL.RequestURI()) // absolute form: path and query
	}
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(cmp.Or(req.Host, addr))
	w.WriteString("\r\n")
	writeFields(w, req.Header, skipRequestField, connectionTokens(req.Header))
	if headerHasToken(req.Header["Te"], "trailers") {
		w.WriteString("Te: trailers\r\n")
	}
	if upgrade != "" {
		w.WriteString("Connection: Upgrade\r\nUpgrade: ")
		w.WriteString(upgrade)
		w.WriteString("\r\n")
	}
	if c.ip != "" {
		w.WriteString("X-Forwarded-For: ")
		w.WriteString(c.ip)
		w.WriteString("\r\n")
	}
	w.WriteString("X-Forwarded-Host: ")
	w.WriteString(req.Host)
	w.WriteString("\r\nX-Forwarded-Proto: ")
	w.WriteString(c.f.proto)
	w.WriteString("\r\nX-Forwarded-Port: ")
	w.WriteString(c.f.port)
	w.WriteString("\r\n")
	_, hasLength := req.Header["Content-Length"]
	switch {
	case chunked:
		w.WriteString("Transfer-Encoding: chunked\r\n")
		writeTrailerNames(w, req.Trailer)
	case req.ContentLength > 0, hasLength, req.Method == http.MethodPost, req.Method == http.MethodPut, req.Method == http.MethodPatch:
		w.WriteString("Content-Length: ")
		w.WriteString(strconv.FormatInt(req.ContentLength, 10))
		w.WriteString("\r\n")
	}
	w.WriteString("\r\n")
}

// writeResponseHead writes the status line and fields of an answer to
// the client: hop-by-hop fields dropped, framing our own.
func writeResponseHead(w *bufio.Writer, req *http.Request, resp *http.Response, chunked, keep bool) {
	writeStatusLine(w, req, resp.StatusCode)
	writeFields(w, resp.Header, skipResponseField, connectionTokens(resp.Header))
	if _, ok := resp.Header["Date"]; !ok {
		writeDate(w)
	}
	switch {
	case resp.StatusCode == http.StatusNoContent, resp.StatusCode == http.StatusNotModified:
	case chunked:
		w.WriteString("Transfer-Encoding: chunked\r\n")
		writeTrailerNames(w, resp.Trailer)
	case resp.ContentLength >= 0:
		w.WriteString("Content-Length: ")
		w.WriteString(strconv.FormatInt(resp.ContentLength, 10))
		w.WriteString("\r\n")
	}
	writeConnection(w, req, keep)
	w.WriteString("\r\n")
}

func writeTrailerNames(w *bufio.Writer, trailer http.Header) {
	if len(trailer) == 0 {
		return
	}
	names := make([]string, 0, len(trailer))
	for k := range trailer {
		names = append(names, k)
	}
	slices.Sort(names)
	w.WriteString("Trailer: ")
	w.WriteString(strings.Join(names, ", "))
	w.WriteString("\r\n")
}

// writeFields writes h but the fields skip names and those listed in the
// Connection field.
func writeFields(w *bufio.Writer, h http.Header, skip func(string) bool, listed []string) {
	for k, vv := range h {
		if skip(k) || slices.Contains(listed, k) {
			continue
		}
		for _, v := range vv {
			w.WriteString(k)
			w.WriteString(": ")
			w.WriteString(v)
			w.WriteString("\r\n")
		}
	}
}

// hopByHop are the fields that concern one connection only (RFC 9110
// 7.6.1), with those in common use before it.
func hopByHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// skipRequestField: the fields writeRequestHead writes itself.
func skipRequestField(k string) bool {
	switch k {
	case "Host", "Content-Length", "Expect", "Forwarded",
		"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port":
		return true
	}
	return hopByHop(k)
}

func skipResponseField(k string) bool { return k == "Content-Length" || hopByHop(k) }

// connectionTokens are the field names a Connection field lists, which
// are hop-by-hop too; nil for the usual keep-alive, close or upgrade.
func connectionTokens(h http.Header) []string {
	var names []string
	for _, v := range h["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			tok = strings.TrimSpace(tok)
			switch {
			case tok == "", strings.EqualFold(tok, "close"), strings.EqualFold(tok, "keep-alive"), strings.EqualFold(tok, "upgrade"):
				continue
			}
			names = append(names, http.CanonicalHeaderKey(tok))
		}
	}
	return names
}

func headerHasToken(values []string, token string) bool {
	for _, v := range values {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), token) {
				return true
			}
		}
	}
	return false
}

// upgradeType is the protocol a message switches to, "" if none.
func upgradeType(h http.Header) string {
	if !headerHasToken(h["Connection"], "upgrade") {
		return ""
	}
	return h.Get("Upgrade")
}

func expectsContinue(req *http.Request) bool {
	return req.ProtoAtLeast(1, 1) && strings.EqualFold(req.Header.Get("Expect"), "100-continue")
}

package ingress

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/k1s/k1s/internal/testcluster"
)

// wire is a controller on a fake clientset that routes host wire.com
// to the backends given, for tests of what goes over the connections.
type wire struct {
	t      *testing.T
	c      *Controller
	client *fake.Clientset
	logs   *lockedBuffer
	stop   func() error // ends Run and returns its error
}

// lockedBuffer collects the access log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startWire(t *testing.T, ports ...int32) *wire {
	t.Helper()
	objs := []k8sruntime.Object{serviceObj(testNS, "wire"),
		ingressObj(testNS, "wire", ptr("k1s"), "wire.com", testPath{"/", networkingv1.PathTypePrefix, "wire"})}
	for i, p := range ports {
		objs = append(objs, sliceObj(testNS, fmt.Sprint("wire-", i), "wire", p, []string{"127.0.0.1"}))
	}
	client := fake.NewClientset(objs...)
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	c, err := New(Options{Client: client, HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", HealthAddr: "127.0.0.1:0", Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	var runErr error
	w := &wire{t: t, c: c, client: client, logs: logs, stop: func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
		})
		return runErr
	}}
	t.Cleanup(func() {
		if err := w.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-c.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		if r := c.table.Load().lookup("wire.com", "/"); r == nil || r.pool == nil || len(r.pool.endpoints) != len(ports) {
			return fmt.Errorf("wire.com not routed to %d endpoints yet", len(ports))
		}
		return nil
	})
	return w
}

// dial opens a raw client connection to the HTTP listener.
func (w *wire) dial() (net.Conn, *bufio.Reader) {
	w.t.Helper()
	conn, err := net.Dial("tcp", w.c.HTTPAddr())
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return conn, bufio.NewReader(conn)
}

// exchange writes raw bytes and reads one answer with its body.
func exchange(t *testing.T, conn net.Conn, br *bufio.Reader, raw, method string) (*http.Response, string) {
	t.Helper()
	if raw != "" {
		if _, err := io.WriteString(conn, raw); err != nil {
			t.Fatal(err)
		}
	}
	return readAnswer(t, br, method)
}

func readAnswer(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return resp, string(body)
}

// echo is a backend that tells what it received: the body in X-Body,
// fields in X-Got-<name>. /chunked answers in two flushed parts with a
// trailer; /stream-in reports the first 6 bytes of the body on
// firstBytes before reading the rest.
type echo struct {
	srv        *httptest.Server
	hits       atomic.Int64
	firstBytes chan string
	closed     atomic.Int64 // connections closed
}

func newEcho(t *testing.T) *echo {
	t.Helper()
	e := &echo{firstBytes: make(chan string, 1)}
	e.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		switch r.URL.Path {
		case "/chunked":
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, "part one,")
			http.NewResponseController(w).Flush()
			io.WriteString(w, "part two")
			w.Header().Set("X-Sum", "2 parts")
			return
		case "/stream-in":
			first := make([]byte, 6)
			io.ReadFull(r.Body, first)
			e.firstBytes <- string(first)
			rest, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Body", string(first)+string(rest))
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Body", string(body))
		w.Header().Set("X-Got-Host", r.Host)
		w.Header().Set("X-Got-Uri", r.RequestURI)
		for _, k := range []string{"X-Secret", "Proxy-Authorization", "Forwarded", "X-Forwarded-For", "X-Other", "Keep-Alive", "Expect"} {
			w.Header().Set("X-Got-"+k, strings.Join(r.Header.Values(k), ","))
		}
		io.WriteString(w, "hello")
	}))
	e.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			e.closed.Add(1)
		}
	}
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

func (e *echo) port() int32 { return int32(e.srv.Listener.Addr().(*net.TCPAddr).Port) }

func TestRefusesMalformedRequests(t *testing.T) {
	e := newEcho(t)
	w := startWire(t, e.port())
	for _, tt := range []struct {
		name, raw string
		code      int
	}{
		{"Content-Length and Transfer-Encoding", "POST / HTTP/1.1\r\nHost: wire.com\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"Transfer-Encoding and Content-Length", "POST / HTTP/1.1\r\nHost: wire.com\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n0\r\n\r\n", 400},
		{"chunked HTTP/1.0", "POST / HTTP/1.0\r\nHost: wire.com\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"two lengths", "POST / HTTP/1.1\r\nHost: wire.com\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400},
		{"negative length", "POST / HTTP/1.1\r\nHost: wire.com\r\nContent-Length: -1\r\n\r\n", 400},
		{"unknown coding", "POST / HTTP/1.1\r\nHost: wire.com\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: other.com\r\nHost: wire.com\r\n\r\n", 400},
		{"space in name", "GET / HTTP/1.1\r\nHost: wire.com\r\nX-Bad : 1\r\n\r\n", 400},
		{"HTTP/2 text", "GET / HTTP/2.0\r\nHost: wire.com\r\n\r\n", 505},
		{"header block too large", "GET / HTTP/1.1\r\nHost: wire.com\r\nX-Big: " + strings.Repeat("a", 20<<10) + "\r\n\r\n", 431},
		{"unknown expectation", "GET / HTTP/1.1\r\nHost: wire.com\r\nExpect: miracles\r\n\r\n", 417},
		{"CONNECT", "CONNECT wire.com:443 HTTP/1.1\r\nHost: wire.com:443\r\n\r\n", 405},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn, br := w.dial()
			resp, _ := exchange(t, conn, br, tt.raw, "GET")
			if resp.StatusCode != tt.code {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.code)
			}
		})
	}
	if n := e.hits.Load(); n != 0 {
		t.Errorf("the backend got %d of the refused requests", n)
	}
}

func TestForwarding(t *testing.T) {
	e := newEcho(t)
	w := startWire(t, e.port())
	conn, br := w.dial() // one keep-alive connection for all but the last

	t.Run("fields: hop-by-hop dropped, X-Forwarded set, Host kept", func(t *testing.T) {
		resp, body := exchange(t, conn, br, "GET /a%2Fb?q=1 HTTP/1.1\r\nHost: wire.com\r\nConnection: keep-alive, X-Secret\r\nX-Secret: s\r\n"+
			"Keep-Alive: timeout=5\r\nProxy-Authorization: p\r\nForwarded: for=6.6.6.6\r\nX-Forwarded-For: 6.6.6.6\r\nX-Other: o\r\n\r\n", "GET")
		if resp.StatusCode != 200 || body != "hello" {
			t.Fatalf("answer %d %q", resp.StatusCode, body)
		}
		for k, want := range map[string]string{
			"X-Got-Host": "wire.com", "X-Got-Uri": "/a%2Fb?q=1", "X-Got-X-Secret": "", "X-Got-Proxy-Authorization": "",
			"X-Got-Forwarded": "", "X-Got-X-Forwarded-For": "127.0.0.1", "X-Got-X-Other": "o", "X-Got-Keep-Alive": "",
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
	})

	t.Run("absolute form", func(t *testing.T) {
		resp, _ := exchange(t, conn, br, "GET http://wire.com/abs?x=y HTTP/1.1\r\nHost: ignored.com\r\n\r\n", "GET")
		if resp.StatusCode != 200 || resp.Header.Get("X-Got-Uri") != "/abs?x=y" || resp.Header.Get("X-Got-Host") != "wire.com" {
			t.Errorf("answer %d, backend saw %q for %q", resp.StatusCode, resp.Header.Get("X-Got-Uri"), resp.Header.Get("X-Got-Host"))
		}
	})

	t.Run("HEAD", func(t *testing.T) {
		resp, body := exchange(t, conn, br, "HEAD / HTTP/1.1\r\nHost: wire.com\r\n\r\n", "HEAD")
		if resp.StatusCode != 200 || resp.ContentLength != 5 || body != "" {
			t.Errorf("HEAD = %d, length %d, body %q", resp.StatusCode, resp.ContentLength, body)
		}
	})

	t.Run("pipelined", func(t *testing.T) {
		io.WriteString(conn, "POST / HTTP/1.1\r\nHost: wire.com\r\nContent-Length: 3\r\n\r\none"+
			"POST / HTTP/1.1\r\nHost: wire.com\r\nContent-Length: 3\r\n\r\ntwo")
		for _, want := range []string{"one", "two"} {
			if resp, _ := readAnswer(t, br, "POST"); resp.Header.Get("X-Body") != want {
				t.Errorf("body seen %q, want %q", resp.Header.Get("X-Body"), want)
			}
		}
	})

	t.Run("chunked answer with a trailer", func(t *testing.T) {
		resp, body := exchange(t, conn, br, "GET /chunked HTTP/1.1\r\nHost: wire.com\r\n\r\n", "GET")
		if body != "part one,part two" || resp.Trailer.Get("X-Sum") != "2 parts" {
			t.Errorf("body %q, trailer %q", body, resp.Trailer.Get("X-Sum"))
		}
	})

	t.Run("Expect: 100-continue", func(t *testing.T) {
		io.WriteString(conn, "PUT / HTTP/1.1\r\nHost: wire.com\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
		if resp, _ := readAnswer(t, br, "PUT"); resp.StatusCode != http.StatusContinue {
			t.Fatalf("first answer %d, want 100", resp.StatusCode)
		}
		resp, _ := exchange(t, conn, br, "hello", "PUT")
		if resp.StatusCode != 200 || resp.Header.Get("X-Body") != "hello" || resp.Header.Get("X-Got-Expect") != "" {
			t.Errorf("answer %d, backend saw body %q, Expect %q", resp.StatusCode, resp.Header.Get("X-Body"), resp.Header.Get("X-Got-Expect"))
		}
	})

	t.Run("request body streamed", func(t *testing.T) {
		io.WriteString(conn, "POST /stream-in HTTP/1.1\r\nHost: wire.com\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst \r\n")
		select {
		case got := <-e.firstBytes:
			if got != "first " {
				t.Errorf("backend got %q first", got)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the first chunk did not reach the backend before the body ended")
		}
		resp, _ := exchange(t, conn, br, "4\r\nlast\r\n0\r\n\r\n", "POST")
		if resp.Header.Get("X-Body") != "first last" {
			t.Errorf("backend got %q", resp.Header.Get("X-Body"))
		}
	})

	t.Run("404 keeps the connection", func(t *testing.T) {
		resp, body := exchange(t, conn, br, "POST / HTTP/1.1\r\nHost: nope.com\r\nContent-Length: 4\r\n\r\nbody", "POST")
		if resp.StatusCode != 404 || resp.Close || !strings.HasPrefix(body, "404 not found") {
			t.Errorf("answer %d %q, close %t", resp.StatusCode, body, resp.Close)
		}
		if resp, _ := exchange(t, conn, br, "GET / HTTP/1.1\r\nHost: wire.com\r\n\r\n", "GET"); resp.StatusCode != 200 {
			t.Errorf("next request on the connection: %d", resp.StatusCode)
		}
	})

	t.Run("HTTP/1.0 closes unless kept alive", func(t *testing.T) {
		c10, br10 := w.dial()
		resp, _ := exchange(t, c10, br10, "GET / HTTP/1.0\r\nHost: wire.com\r\nConnection: keep-alive\r\n\r\n", "GET")
		if resp.StatusCode != 200 || resp.Header.Get("Connection") != "keep-alive" {
			t.Fatalf("keep-alive answer %d, Connection %q", resp.StatusCode, resp.Header.Get("Connection"))
		}
		resp, _ = exchange(t, c10, br10, "GET /chunked HTTP/1.0\r\nHost: wire.com\r\n\r\n", "GET")
		if resp.StatusCode != 200 || len(resp.TransferEncoding) != 0 || !resp.Close {
			t.Errorf("answer %d, coding %v, close %t", resp.StatusCode, resp.TransferEncoding, resp.Close)
		}
		if _, err := br10.ReadByte(); err != io.EOF {
			t.Errorf("connection still open after an HTTP/1.0 answer: %v", err)
		}
	})

	t.Run("access log", func(t *testing.T) {
		logs := w.logs.String()
		for _, want := range []string{"msg=request", "method=HEAD", "host=wire.com", "status=404", "ingress=web/wire", "upstream=" + e.srv.Listener.Addr().String()} {
			if !strings.Contains(logs, want) {
				t.Errorf("access log lacks %q", want)
			}
		}
	})
}

// closingBackend answers every request on a new connection, then closes
// it without saying so, as a server whose idle timeout has passed does.
func closingBackend(t *testing.T) (port int32, conns *atomic.Int64, closed chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns = &atomic.Int64{}
	closed = make(chan struct{}, 100)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer func() { closed <- struct{}{} }()
				defer conn.Close()
				req, err := http.ReadRequest(bufio.NewReader(conn))
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}()
		}
	}()
	return int32(ln.Addr().(*net.TCPAddr).Port), conns, closed
}

func TestClosedIdleConnectionIsReplaced(t *testing.T) {
	port, conns, closed := closingBackend(t)
	w := startWire(t, port)
	conn, br := w.dial()
	for i, req := range []string{
		"GET / HTTP/1.1\r\nHost: wire.com\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: wire.com\r\n\r\n",                           // retried on a new connection
		"POST / HTTP/1.1\r\nHost: wire.com\r\nContent-Length: 4\r\n\r\nbody", // checked before use
		"DELETE / HTTP/1.1\r\nHost: wire.com\r\n\r\n",
	} {
		resp, body := exchange(t, conn, br, req, "GET")
		if resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
		<-closed // the backend has hung up before the next request
	}
	if n := conns.Load(); n != 4 {
		t.Errorf("backend connections %d, want 4", n)
	}
}

func TestEndpointLeavingClosesIdleConnections(t *testing.T) {
	a, b := newEcho(t), newEcho(t)
	w := startWire(t, a.port(), b.port())
	conn, br := w.dial()
	// Ties are broken at random: ask until both endpoints have served.
	for i := 0; a.hits.Load() == 0 || b.hits.Load() == 0; i++ {
		if i == 100 {
			t.Fatal("100 requests did not reach both endpoints")
		}
		exchange(t, conn, br, "GET / HTTP/1.1\r\nHost: wire.com\r\n\r\n", "GET")
	}
	before := a.hits.Load()
	leaving := w.c.table.Load().endpoints[a.srv.Listener.Addr().String()]
	if leaving.idleCount() != 1 {
		t.Fatalf("idle connections to the endpoint: %d, want 1", leaving.idleCount())
	}
	if err := w.client.DiscoveryV1().EndpointSlices(testNS).Delete(context.Background(), "wire-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		if n := a.closed.Load(); n != 1 {
			return fmt.Errorf("%d connections of the leaving endpoint closed, want 1", n)
		}
		return nil
	})
	for range 4 {
		if resp, _ := exchange(t, conn, br, "GET / HTTP/1.1\r\nHost: wire.com\r\n\r\n", "GET"); resp.StatusCode != 200 {
			t.Errorf("status %d", resp.StatusCode)
		}
	}
	if n := a.hits.Load(); n != before {
		t.Errorf("the leaving endpoint served %d requests, want the %d before it left", n, before)
	}
}

func TestGracefulShutdown(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, "done")
	}))
	t.Cleanup(slow.Close)
	w := startWire(t, int32(slow.Listener.Addr().(*net.TCPAddr).Port))

	idle, idleBR := w.dial()
	if resp, _ := exchange(t, idle, idleBR, "GET / HTTP/1.1\r\nHost: wire.com\r\n\r\n", "GET"); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	busy, busyBR := w.dial()
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: wire.com\r\n\r\n")
	testcluster.Eventually(t, 10*time.Second, func() error {
		if n := w.c.table.Load().lookup("wire.com", "/").pool.endpoints[0].outstanding.Load(); n != 1 {
			return fmt.Errorf("%d requests in flight, want 1", n)
		}
		return nil
	})

	stopped := make(chan error, 1)
	go func() { stopped <- w.stop() }()
	// The idle connection is closed at once; the busy one finishes its
	// request, told that the connection closes, then ends.
	if _, err := idleBR.ReadByte(); err == nil {
		t.Error("the idle connection was not closed")
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		c, err := net.Dial("tcp", w.c.HTTPAddr())
		if err == nil {
			c.Close()
			return fmt.Errorf("still accepting")
		}
		return nil
	})
	close(release)
	resp, body := readAnswer(t, busyBR, "GET")
	if resp.StatusCode != 200 || body != "done" || !resp.Close {
		t.Errorf("in-flight request: %d %q, close %t", resp.StatusCode, body, resp.Close)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Run: %v", err)
	}
	if n := w.c.table.Load().lookup("wire.com", "/").pool.endpoints[0].idleCount(); n != 0 {
		t.Errorf("%d idle connections to the endpoint left", n)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		for _, fn := range []string{"ingress.(*clientConn)", "ingress.(*frontend)"} {
			if strings.Contains(stacks, fn) {
				return fmt.Errorf("a goroutine in %s is left", fn)
			}
		}
		return nil
	})
}

func TestClientLeavingEndsTheBackendRequest(t *testing.T) {
	arrived, canceled := make(chan struct{}), make(chan struct{})
	waiting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done() // a long poll: nothing to say until the client leaves
		close(canceled)
	}))
	t.Cleanup(waiting.Close)
	w := startWire(t, int32(waiting.Listener.Addr().(*net.TCPAddr).Port))
	conn, _ := w.dial()
	io.WriteString(conn, "GET /poll HTTP/1.1\r\nHost: wire.com\r\n\r\n")
	<-arrived
	conn.Close() // noticed once the answer has taken watchClientAfter
	select {
	case <-canceled:
	case <-time.After(10 * time.Second):
		t.Fatal("the backend request was not canceled after the client left")
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		if !strings.Contains(w.logs.String(), "status=499") {
			return fmt.Errorf("no access log line with status 499")
		}
		return nil
	})
}

func TestEndlessAnswerHeadIsCut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		http.ReadRequest(bufio.NewReader(conn))
		io.WriteString(conn, "HTTP/1.1 200 OK\r\n")
		line := "X-Junk: " + strings.Repeat("j", 1000) + "\r\n"
		for range 2 * maxAnswerHead / len(line) {
			if _, err := io.WriteString(conn, line); err != nil {
				return
			}
		}
	}()
	w := startWire(t, int32(ln.Addr().(*net.TCPAddr).Port))
	conn, br := w.dial()
	if resp, _ := exchange(t, conn, br, "POST / HTTP/1.1\r\nHost: wire.com\r\n\r\n", "POST"); resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, want 502", resp.StatusCode)
	}
}

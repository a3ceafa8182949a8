package ingress

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawBackend serves each connection with answer(i, req) for the i-th
// request read on it, written as raw bytes.
func rawBackend(t *testing.T, answer func(i int, req *http.Request) string) int32 {
	port, _ := rawBackendConns(t, answer)
	return port
}

// rawBackendConns is rawBackend that also returns a func closing the
// connections accepted so far.
func rawBackendConns(t *testing.T, answer func(i int, req *http.Request) string) (int32, func()) {
	t.Helper()
	var mu sync.Mutex
	var accepted []net.Conn
	closeAll := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range accepted {
			c.Close()
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted = append(accepted, conn)
			mu.Unlock()
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for i := 0; ; i++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					if _, err := io.WriteString(conn, answer(i, req)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return int32(ln.Addr().(*net.TCPAddr).Port), closeAll
}

// A backend connection must go back to the idle pool only at a message
// boundary. Here the endpoint sends bytes after a 204 (which has no
// body); they must not become the answer to the next client's request.
func TestConnectionWithPendingBytesIsNotReused(t *testing.T) {
	port := rawBackend(t, func(_ int, req *http.Request) string {
		if req.URL.Path == "/a" {
			return "HTTP/1.1 204 No Content\r\n\r\n" +
				"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nfor somebody else!!!"
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh"
	})
	w := startWire(t, port)
	first, firstBR := w.dial()
	if resp, _ := exchange(t, first, firstBR, "GET /a HTTP/1.1\r\nHost: wire.com\r\n\r\n", "GET"); resp.StatusCode != 204 {
		t.Fatalf("first: status %d", resp.StatusCode)
	}
	other, otherBR := w.dial() // another client
	resp, body := exchange(t, other, otherBR, "GET /b HTTP/1.1\r\nHost: wire.com\r\n\r\n", "GET")
	if body != "fresh" {
		t.Errorf("second client got %d %q, want the endpoint's answer to its own request", resp.StatusCode, body)
	}
}

// doc.go: "A pooled connection the endpoint had closed is replaced by a
// new one without the client noticing: idempotent requests are resent".
// A PUT with a body is sent on an unchecked pooled connection but cannot
// be resent once its body was read.
func TestIdempotentRequestWithBodyOnClosedPooledConnection(t *testing.T) {
	port, _, closed := closingBackend(t)
	w := startWire(t, port)
	conn, br := w.dial()
	if resp, _ := exchange(t, conn, br, "GET / HTTP/1.1\r\nHost: wire.com\r\n\r\n", "GET"); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	<-closed // the pooled connection is closed by the endpoint
	resp, body := exchange(t, conn, br, "PUT / HTTP/1.1\r\nHost: wire.com\r\nContent-Length: 4\r\n\r\nbody", "PUT")
	if resp.StatusCode != 200 || body != "ok" {
		t.Errorf("PUT: %d %q, want 200 \"ok\"", resp.StatusCode, body)
	}
}

// A failed write of the request head on a pooled connection, noticed
// when the body is first read, is retried on a new connection; the
// retry must not be failed by the first attempt's error.
func TestRetryAfterHeadWriteFailureSucceeds(t *testing.T) {
	port, conns, closed := closingBackend(t)
	w := startWire(t, port)
	conn, br := w.dial()
	if resp, _ := exchange(t, conn, br, "GET / HTTP/1.1\r\nHost: wire.com\r\n\r\n", "GET"); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	<-closed
	// A head over the 4 KiB write buffer: its first part is written (and
	// answered with a reset), the rest fails when the body is read.
	pad := strings.Repeat("p", 6000)
	io.WriteString(conn, "PUT / HTTP/1.1\r\nHost: wire.com\r\nX-Pad: "+pad+"\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	cont, err := http.ReadResponse(br, &http.Request{Method: "PUT"})
	if err != nil {
		t.Fatal(err)
	}
	if cont.StatusCode != 100 {
		t.Fatalf("status %d, want 100", cont.StatusCode)
	}
	resp, body := exchange(t, conn, br, "body", "PUT")
	if resp.StatusCode != 200 || body != "ok" {
		t.Errorf("PUT: %d %q, want 200 \"ok\" (backend connections: %d)", resp.StatusCode, body, conns.Load())
	}
}

// Shutdown must end: a request whose answer streams but has gone quiet
// is cut once the grace period is over.
func TestShutdownEndsQuietStream(t *testing.T) {
	port, closeBackend := rawBackendConns(t, func(int, *http.Request) string {
		return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n"
	})
	w := startWire(t, port)
	conn, br := w.dial()
	io.WriteString(conn, "GET /events HTTP/1.1\r\nHost: wire.com\r\n\r\n")
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- w.stop() }()
	select {
	case <-stopped:
	case <-time.After(shutdownGrace + 5*time.Second):
		t.Errorf("Run did not return %s after shutdown began with a quiet stream in flight", shutdownGrace+5*time.Second)
		closeBackend() // lets Run end so that the test can
		<-stopped
	}
}

// An endpoint that answers before taking the whole body (413 on a large
// upload) and closes: its answer reaches the client, not a 502, and the
// client connection closes (the rest of the body was never read).
func TestEarlyAnswerToALargeUpload(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadFull(r.Body, make([]byte, 10))
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		io.WriteString(w, "too large")
	}))
	t.Cleanup(backend.Close)
	w := startWire(t, int32(backend.Listener.Addr().(*net.TCPAddr).Port))
	conn, br := w.dial()
	const size = 8 << 20
	go func() {
		io.WriteString(conn, "POST /upload HTTP/1.1\r\nHost: wire.com\r\nContent-Length: "+strconv.Itoa(size)+"\r\n\r\n")
		conn.Write(make([]byte, size)) // fails once the ingress closes
	}()
	resp, body := readAnswer(t, br, "POST")
	if resp.StatusCode != http.StatusRequestEntityTooLarge || body != "too large" {
		t.Errorf("got %d %q, want the endpoint's 413", resp.StatusCode, body)
	}
	if !resp.Close {
		t.Errorf("answer without Connection: close; the client's body was not all read")
	}
}

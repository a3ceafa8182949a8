package upgradeproxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// BackendError is returned by Forward when the target could not be
// reached or did not answer; nothing has been written to the client then,
// so the caller answers it.
type BackendError struct{ Err error }

func (e *BackendError) Error() string { return "error dialing backend: " + e.Err.Error() }
func (e *BackendError) Unwrap() error { return e.Err }

// IsUpgradeRequest reports whether r asks to switch protocols (SPDY or
// WebSocket) over HTTP/1.1.
func IsUpgradeRequest(r *http.Request) bool {
	if r.ProtoMajor != 1 || r.Header.Get("Upgrade") == "" {
		return false
	}
	for _, v := range r.Header.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

const (
	// handshakeTimeout bounds dialing the target and reading its answer.
	handshakeTimeout = 30 * time.Second
	// refusalBodyTimeout and maxRefusalBody bound the body of a refused
	// upgrade that is passed back.
	refusalBodyTimeout = 2 * time.Second
	maxRefusalBody     = 64 << 10
)

// Forward forwards the upgrade request r (SPDY or WebSocket) to
// target, keeping its method and headers (Upgrade, Connection,
// Sec-WebSocket-*, X-Stream-Protocol-Version) but not its credentials.
// When the target switches protocols, the client's connection is hijacked
// and bytes are copied both ways, unbuffered, until the target closes, the
// client closes, or r's context ends. Any other answer (a refused upgrade)
// is passed back to the client as is, so that a client trying WebSocket
// sees an upgrade failure and can fall back to SPDY.
//
// tlsConfig is used for https targets. A *BackendError means nothing was
// written to w; other errors are for logging only.
func Forward(w http.ResponseWriter, r *http.Request, target *url.URL, tlsConfig *tls.Config) error {
	ctx := r.Context()
	out, err := http.NewRequestWithContext(ctx, r.Method, target.String(), nil)
	if err != nil {
		return &BackendError{Err: err}
	}
	out.Header = r.Header.Clone()
	for _, h := range []string{"Authorization", "Proxy-Authorization", "Cookie"} {
		out.Header.Del(h)
	}
	host := target.Host
	if target.Port() == "" {
		port := "80"
		if target.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(target.Hostname(), port)
	}
	dialCtx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	nd := &net.Dialer{}
	var backend net.Conn
	if target.Scheme == "https" {
		cfg := tlsConfig.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg.ServerName = target.Hostname()
		}
		cfg.NextProtos = []string{"http/1.1"}
		backend, err = (&tls.Dialer{NetDialer: nd, Config: cfg}).DialContext(dialCtx, "tcp", host)
	} else {
		backend, err = nd.DialContext(dialCtx, "tcp", host)
	}
	if err != nil {
		return &BackendError{Err: err}
	}
	defer backend.Close()
	// Closing the backend is what interrupts reads when the client goes.
	stop := context.AfterFunc(ctx, func() { backend.Close() })
	defer stop()
	backend.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := out.Write(backend); err != nil {
		return &BackendError{Err: err}
	}
	br := bufio.NewReader(backend)
	resp, err := http.ReadResponse(br, out)
	if err != nil {
		return &BackendError{Err: err}
	}
	backend.SetDeadline(time.Time{})
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			switch http.CanonicalHeaderKey(k) {
			case "Connection", "Upgrade", "Transfer-Encoding", "Content-Length", "Keep-Alive":
				continue
			}
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(resp.StatusCode)
		http.NewResponseController(w).Flush()
		// A refusal's body comes with its headers. Some servers (the
		// WebSocket code vendored by containerd 1.6) send a refusal with
		// neither length nor chunking and then neither write nor close: of
		// such a body pass only what has arrived.
		body := io.LimitReader(resp.Body, maxRefusalBody)
		if resp.ContentLength < 0 && len(resp.TransferEncoding) == 0 {
			body = io.LimitReader(resp.Body, int64(br.Buffered()))
		}
		backend.SetReadDeadline(time.Now().Add(refusalBodyTimeout))
		_, err := io.Copy(w, body)
		return err
	}

	client, cbuf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return &BackendError{Err: fmt.Errorf("cannot take over the client connection: %w", err)}
	}
	defer client.Close()
	var head strings.Builder
	head.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	resp.Header.Write(&head)
	head.WriteString("\r\n")
	if _, err := io.WriteString(client, head.String()); err != nil {
		return err
	}

	toBackend := make(chan error, 1)
	toClient := make(chan error, 1)
	go func() {
		// cbuf.Reader holds whatever the client sent after its request.
		_, err := io.Copy(backend, cbuf.Reader)
		if cw, ok := backend.(interface{ CloseWrite() error }); ok && err == nil {
			cw.CloseWrite()
		}
		toBackend <- err
	}()
	go func() {
		// br holds whatever the backend sent after its response.
		_, err := io.Copy(client, br)
		toClient <- err
	}()
	for {
		select {
		case err := <-toClient:
			// The backend is done: the session is over.
			return ignoreClosed(err)
		case err := <-toBackend:
			if err != nil {
				return ignoreClosed(err)
			}
			// The client half-closed: let the backend finish answering.
			toBackend = nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func ignoreClosed(err error) error {
	if errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

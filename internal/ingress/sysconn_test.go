package ingress

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// sysPair is a loopback TCP connection: the side under test wrapped in
// a sysConn, and its peer as net made it.
func sysPair(t *testing.T) (*sysConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	dialed, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer := <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	sc, ok := newSysConn(dialed).(*sysConn)
	if !ok {
		t.Fatalf("newSysConn(%T) did not wrap it", dialed)
	}
	t.Cleanup(func() { sc.Close(); peer.Close() })
	return sc, peer.(*net.TCPConn)
}

func TestSysConnReadWrite(t *testing.T) {
	sc, peer := sysPair(t)

	// Both ways, including a write far larger than the socket buffers,
	// which takes partial writes and waits for room.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MiB
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(peer, int64(len(big))))
		got <- b
	}()
	if n, err := sc.Write(big); n != len(big) || err != nil {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(big))
	}
	if b := <-got; !bytes.Equal(b, big) {
		t.Fatalf("the peer read %d bytes, not what was written", len(b))
	}
	if _, err := peer.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if n, err := io.ReadFull(sc, buf[:4]); n != 4 || err != nil || string(buf[:4]) != "pong" {
		t.Fatalf("Read = %d %q, %v", n, buf[:n], err)
	}
	if n, err := sc.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) = %d, %v", n, err)
	}

	// The peer's half close is an EOF, as net's.
	peer.CloseWrite()
	if n, err := sc.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("Read after the peer's close = %d, %v; want io.EOF", n, err)
	}
}

func TestSysConnErrors(t *testing.T) {
	isTimeout := func(err error) bool {
		var ne net.Error
		return errors.Is(err, os.ErrDeadlineExceeded) && errors.As(err, &ne) && ne.Timeout()
	}
	for _, tc := range []struct {
		name string
		// do makes sc fail and returns the error.
		do    func(sc *sysConn, peer *net.TCPConn) error
		check func(error) bool
	}{{
		name: "read deadline",
		do: func(sc *sysConn, _ *net.TCPConn) error {
			sc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			_, err := sc.Read(make([]byte, 1))
			return err
		},
		check: isTimeout,
	}, {
		name: "write deadline",
		do: func(sc *sysConn, _ *net.TCPConn) error {
			// The peer reads nothing: the buffers fill and the write waits.
			sc.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
			_, err := sc.Write(make([]byte, 64<<20))
			return err
		},
		check: isTimeout,
	}, {
		name: "closed while reading",
		do: func(sc *sysConn, _ *net.TCPConn) error {
			time.AfterFunc(20*time.Millisecond, func() { sc.Close() })
			_, err := sc.Read(make([]byte, 1))
			return err
		},
		check: func(err error) bool { return errors.Is(err, net.ErrClosed) },
	}, {
		name: "reset by the peer",
		do: func(sc *sysConn, peer *net.TCPConn) error {
			peer.SetLinger(0) // close with a RST
			peer.Close()
			_, err := sc.Read(make([]byte, 1))
			return err
		},
		check: func(err error) bool { return errors.Is(err, syscall.ECONNRESET) },
	}} {
		t.Run(tc.name, func(t *testing.T) {
			sc, peer := sysPair(t)
			err := tc.do(sc, peer)
			if !tc.check(err) {
				t.Fatalf("err = %v (%T)", err, err)
			}
			var oe *net.OpError
			if !errors.As(err, &oe) || oe.Net != "tcp" || oe.Addr == nil {
				t.Fatalf("err = %#v, want a *net.OpError as net's", err)
			}
		})
	}
}

func TestNewSysConnLeavesOthers(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if c := newSysConn(a); c != a {
		t.Fatalf("newSysConn(%T) = %T, want it unchanged", a, c)
	}
}

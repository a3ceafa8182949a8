package ingress

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// sysConn is a TCP connection whose reads and writes are raw system
// calls made through the poller (syscall.RawConn), not net's.
//
// Why: every read or write net makes tells the Go scheduler it is in a
// system call, and the first one after the process was idle wakes the
// runtime's monitor thread (sysmon), which then polls every 20 µs for
// the next millisecond. A proxy waiting on clients and endpoints goes
// idle and busy several times per request, so that monitor never rests:
// measured, it was about a sixth of the ingress's CPU, and its wake-up
// sat on every request's path. A read or write of a non-blocking socket
// returns in microseconds, so it need not be announced (as
// golang.org/x/sys/unix does for calls that cannot block); waiting for
// the socket is still the poller's, with deadlines and Close as usual.
type sysConn struct {
	*net.TCPConn
	rc syscall.RawConn
}

// newSysConn wraps c when it is TCP, and returns it as it is otherwise.
func newSysConn(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	return &sysConn{TCPConn: tc, rc: rc}
}

func (c *sysConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait for the poller
			}
			n, errno = int(r), e
			return true
		}
	})
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c *sysConn) Write(p []byte) (int, error) {
	var n int
	var errno syscall.Errno
	err := c.rc.Write(func(fd uintptr) bool {
		for n < len(p) {
			r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[n])), uintptr(len(p)-n))
			switch e {
			case 0:
				n += int(r)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false // the socket's buffer is full: wait for room
			default:
				errno = e
				return true
			}
		}
		return true
	})
	switch {
	case err != nil:
		return n, c.opError("write", err)
	case errno != 0:
		return n, c.opError("write", os.NewSyscallError("write", errno))
	}
	return n, nil
}

// opError makes err look as net's own (a *net.OpError), unwrapping the
// one RawConn adds around a closed connection or a deadline.
func (c *sysConn) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

package ingress

import (
	"io"
	"net"
	"os"
	"sync"
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

	// The read and the write in progress, kept here rather than in
	// closures, which would be allocated at every call. The mutexes
	// serialise each direction (net.Conn allows concurrent calls).
	rmu, wmu sync.Mutex
	rop, wop rawOp
	rfn, wfn func(fd uintptr) bool // c.readOnce, c.writeSome
}

// rawOp is one read or write: its buffer, how much of it is done, and
// the system call's error.
type rawOp struct {
	p     []byte
	n     int
	errno syscall.Errno
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
	sc := &sysConn{TCPConn: tc, rc: rc}
	sc.rfn, sc.wfn = sc.readOnce, sc.writeSome
	return sc
}

func (c *sysConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	c.rop = rawOp{p: p}
	err := c.rc.Read(c.rfn)
	op := c.rop
	c.rop = rawOp{}
	c.rmu.Unlock()
	if err := c.opError("read", err, op.errno); err != nil {
		return 0, err
	}
	if op.n == 0 {
		return 0, io.EOF
	}
	return op.n, nil
}

// readOnce reads what is there into c.rop; false asks the poller to
// wait until there is something.
func (c *sysConn) readOnce(fd uintptr) bool {
	p := c.rop.p
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		c.rop.n, c.rop.errno = int(r), e
		return true
	}
}

func (c *sysConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	c.wop = rawOp{p: p}
	err := c.rc.Write(c.wfn)
	op := c.wop
	c.wop = rawOp{}
	c.wmu.Unlock()
	return op.n, c.opError("write", err, op.errno)
}

// writeSome writes c.wop's buffer until it is all written or the
// socket's buffer is full (false: the poller waits for room).
func (c *sysConn) writeSome(fd uintptr) bool {
	op := &c.wop
	for op.n < len(op.p) {
		r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&op.p[op.n])), uintptr(len(op.p)-op.n))
		switch e {
		case 0:
			op.n += int(r)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			op.errno = e
			return true
		}
	}
	return true
}

// opError is the error of a read or write as net makes it (a
// *net.OpError), from the poller's (err: a closed connection or a
// deadline, which RawConn wraps in an OpError of its own) or else the
// system call's (errno); nil when neither failed.
func (c *sysConn) opError(op string, err error, errno syscall.Errno) error {
	switch {
	case err != nil:
		if oe, ok := err.(*net.OpError); ok {
			err = oe.Err
		}
	case errno != 0:
		err = os.NewSyscallError(op, errno)
	default:
		return nil
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

package preflight

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// port binds p briefly and reports why it cannot be bound, naming the
// process that holds it when /proc tells.
func (c *checker) port(ctx context.Context, p Port) {
	if p.Port <= 0 {
		return // 0 picks a free port; nothing to check
	}
	addr := net.JoinHostPort(p.Addr, strconv.Itoa(p.Port))
	l, err := c.h.listen("tcp", addr)
	if err == nil {
		l.Close()
		return
	}
	where := fmt.Sprintf("port %d", p.Port)
	if p.Addr != "" {
		where = fmt.Sprintf("port %d on %s", p.Port, p.Addr)
	}
	move := ""
	if p.Flag != "" {
		move = " or pass " + p.Flag
	}
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		owner := "another process"
		if o := c.portOwner(ctx, p.Port); o != "" {
			owner = o
		}
		c.add(Problem{What: fmt.Sprintf("%s is in use by %s", where, owner), Fix: "stop it" + move})
	case errors.Is(err, syscall.EACCES):
		if c.o.NeedRoot && !c.root {
			return // not root is reported already
		}
		c.add(Problem{What: fmt.Sprintf("%s needs root to bind", where), Fix: "run k1s as root" + move})
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		c.add(Problem{What: fmt.Sprintf("%s: %s is not an address of this machine", where, p.Addr), Fix: "pass an address of this machine"})
	default:
		c.add(Problem{What: fmt.Sprintf("%s cannot be bound: %v", where, err), Fix: "free it" + move})
	}
}

// duplicatePorts reports two components asked to listen on one port:
// each bind alone succeeds, the second real one would not.
func (c *checker) duplicatePorts() {
	wildcard := func(addr string) bool { return addr == "" || addr == "0.0.0.0" || addr == "::" }
	for i, a := range c.o.Ports {
		for _, b := range c.o.Ports[:i] {
			if a.Port <= 0 || a.Port != b.Port || (a.Addr != b.Addr && !wildcard(a.Addr) && !wildcard(b.Addr)) {
				continue
			}
			what := fmt.Sprintf("port %d is asked for twice", a.Port)
			if a.Flag != "" && b.Flag != "" && a.Flag != b.Flag {
				what = fmt.Sprintf("port %d is asked for twice (%s and %s)", a.Port, b.Flag, a.Flag)
			}
			c.add(Problem{What: what, Fix: "give one of them another port"})
		}
	}
}

// portOwner names the process ("nginx (pid 812)") holding a TCP socket
// listening on port, from /proc/net/tcp{,6} and /proc/*/fd; "" if unknown.
func (c *checker) portOwner(ctx context.Context, port int) string {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(c.path(f))
		if err != nil {
			continue
		}
		for _, ino := range listeningInodes(string(b), port) {
			inodes[ino] = true
		}
	}
	if len(inodes) == 0 {
		return ""
	}
	procs, err := os.ReadDir(c.path("/proc"))
	if err != nil {
		return ""
	}
	for _, d := range procs {
		if ctx.Err() != nil {
			return ""
		}
		pid := d.Name()
		if _, err := strconv.Atoi(pid); err != nil {
			continue
		}
		fdDir := c.path(filepath.Join("/proc", pid, "fd"))
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue // gone, or not ours to read
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil {
				continue
			}
			ino, ok := strings.CutPrefix(link, "socket:[")
			if !ok || !inodes[strings.TrimSuffix(ino, "]")] {
				continue
			}
			comm, err := os.ReadFile(c.path(filepath.Join("/proc", pid, "comm")))
			if err != nil {
				return "pid " + pid
			}
			return fmt.Sprintf("%s (pid %s)", strings.TrimSpace(string(comm)), pid)
		}
	}
	return ""
}

// listeningInodes returns the socket inodes of the LISTEN entries for port
// in a /proc/net/tcp or tcp6 table.
func listeningInodes(table string, port int) []string {
	const listen = "0A" // TCP_LISTEN
	var inodes []string
	for line := range strings.Lines(table) {
		f := strings.Fields(line)
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		if len(f) < 10 || f[3] != listen {
			continue
		}
		_, hexPort, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		if p, err := strconv.ParseUint(hexPort, 16, 16); err != nil || int(p) != port {
			continue
		}
		inodes = append(inodes, f[9])
	}
	return inodes
}

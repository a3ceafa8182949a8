package preflight

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// A /proc/net/tcp table: a listener on 127.0.0.1:8080 (inode 4242), a
// connection from port 80 (not a listener), a listener on *:80 (inode
// 5151).
const fakeTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:0050 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 6363 1 0000000000000000 20 4 30 10 -1
   2: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5151 1 0000000000000000 100 0 0 10 0
`

const fakeTCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7171 1 0000000000000000 100 0 0 10 0
`

func TestListeningInodes(t *testing.T) {
	tests := []struct {
		table string
		port  int
		want  []string
	}{
		{fakeTCP, 8080, []string{"4242"}},
		{fakeTCP, 80, []string{"5151"}},
		{fakeTCP, 443, nil},
		{fakeTCP6, 443, []string{"7171"}},
		{"", 80, nil},
	}
	for _, tt := range tests {
		if got := listeningInodes(tt.table, tt.port); !slices.Equal(got, tt.want) {
			t.Errorf("listeningInodes(port %d) = %q, want %q", tt.port, got, tt.want)
		}
	}
}

// errListen fails every bind with err.
func errListen(err error) func(string, string) (net.Listener, error) {
	return func(network, addr string) (net.Listener, error) {
		return nil, &net.OpError{Op: "listen", Net: network, Err: os.NewSyscallError("bind", err)}
	}
}

func TestPortsFake(t *testing.T) {
	ft := fakeTree{
		"proc/net/tcp":       fakeTCP,
		"proc/net/tcp6":      fakeTCP6,
		"proc/1/comm":        "init\n",
		"proc/1/fd/0":        "->/dev/null",
		"proc/812/comm":      "nginx\n",
		"proc/812/fd/3":      "->pipe:[99]",
		"proc/812/fd/6":      "->socket:[5151]",
		"proc/813/fd/6":      "->socket:[7171]", // no comm: only the pid is known
		"proc/self/ns/net":   "->net:[1]",
		"proc/not-a-pid/fd/": "<dir>",
	}
	root := ft.write(t)
	tests := []struct {
		name   string
		port   Port
		ports  []Port // instead of port
		listen func(string, string) (net.Listener, error)
		euid   int
		root   bool
		want   []string
	}{
		{name: "free", port: Port{Port: 80}, listen: fakeHost().listen},
		{name: "zero is not checked", port: Port{Port: 0}, listen: errListen(syscall.EADDRINUSE)},
		{
			name: "in use, owner found", port: Port{Port: 80, Flag: "--ingress-http-port"}, listen: errListen(syscall.EADDRINUSE),
			want: []string{"port 80 is in use by nginx (pid 812) — stop it or pass --ingress-http-port"},
		},
		{
			name: "in use over IPv6, comm unreadable", port: Port{Port: 443}, listen: errListen(syscall.EADDRINUSE),
			want: []string{"port 443 is in use by pid 813 — stop it"},
		},
		{
			name: "in use, owner unknown", port: Port{Addr: "127.0.0.1", Port: 6443, Flag: "--https-listen-port"}, listen: errListen(syscall.EADDRINUSE),
			want: []string{"port 6443 on 127.0.0.1 is in use by another process — stop it or pass --https-listen-port"},
		},
		{
			name: "privileged port without root", port: Port{Port: 80, Flag: "--ingress-http-port"}, listen: errListen(syscall.EACCES), euid: 1000,
			want: []string{"port 80 needs root to bind — run k1s as root or pass --ingress-http-port"},
		},
		{
			name: "privileged port when root is required anyway", port: Port{Port: 80}, listen: errListen(syscall.EACCES), euid: 1000, root: true,
			want: []string{"k1s must run as root (effective uid is 1000) — run it with sudo"},
		},
		{
			name: "one port asked twice", listen: fakeHost().listen,
			ports: []Port{
				{Port: 6443, Flag: "--https-listen-port"}, {Addr: "127.0.0.1", Port: 10250, Flag: "--kubelet-port"},
				{Addr: "127.0.0.1", Port: 6443, Flag: "--ingress-https-port"}, {Addr: "127.0.0.2", Port: 10250},
			},
			want: []string{"port 6443 is asked for twice (--https-listen-port and --ingress-https-port) — give one of them another port"},
		},
		{
			name: "foreign address", port: Port{Addr: "192.0.2.1", Port: 6443}, listen: errListen(syscall.EADDRNOTAVAIL),
			want: []string{"port 6443 on 192.0.2.1: 192.0.2.1 is not an address of this machine — pass an address of this machine"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := fakeHost()
			h.euid = func() int { return tt.euid }
			h.listen = tt.listen
			ports := tt.ports
			if ports == nil {
				ports = []Port{tt.port}
			}
			o := Options{NeedRoot: tt.root, Ports: ports, Root: root, LookPath: fakePath()}
			got := strs(run(context.Background(), o, h))
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestPortInUseHere occupies a loopback port itself and expects the real
// check to name this test process as its holder.
func TestPortInUseHere(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	got := strs(Run(context.Background(), Options{Ports: []Port{{Addr: "127.0.0.1", Port: port, Flag: "--kubelet-port"}}}))
	want := []string{fmt.Sprintf("port %d on 127.0.0.1 is in use by %s (pid %d) — stop it or pass --kubelet-port",
		port, strings.TrimSpace(string(comm)), os.Getpid())}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n got %q\nwant %q", got, want)
	}

	l.Close()
	if got := Run(context.Background(), Options{Ports: []Port{{Addr: "127.0.0.1", Port: port}}}); len(got) != 0 {
		t.Errorf("after closing the listener: %q", strs(got))
	}
}

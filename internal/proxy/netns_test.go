package proxy

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testNetns is a network namespace a root-only test creates and deletes.
type testNetns struct {
	Name string
	Path string
	fd   *os.File
}

// newTestNetns creates `k1s-proxy-<random>` or skips the test when it
// cannot run here (not root, no ip or nft binary, no nftables in the kernel).
func newTestNetns(tb testing.TB) *testNetns {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root")
	}
	for _, bin := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(bin); err != nil {
			tb.Skipf("needs %s: %v", bin, err)
		}
	}
	name := fmt.Sprintf("k1s-proxy-%08x", rand.Uint32())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		tb.Skipf("ip netns add: %v: %s", err, out)
	}
	ns := &testNetns{Name: name, Path: "/run/netns/" + name}
	tb.Cleanup(func() {
		if ns.fd != nil {
			ns.fd.Close()
		}
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			tb.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	if out, err := ns.exec("nft", "list", "tables"); err != nil {
		tb.Skipf("no nftables here: %v: %s", err, out)
	}
	f, err := os.Open(ns.Path)
	if err != nil {
		tb.Fatal(err)
	}
	ns.fd = f
	return ns
}

func (ns *testNetns) exec(args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns.Name}, args...)...).CombinedOutput()
	return string(out), err
}

func (ns *testNetns) mustExec(tb testing.TB, args ...string) string {
	tb.Helper()
	out, err := ns.exec(args...)
	if err != nil {
		tb.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return out
}

func (ns *testNetns) applier() *applier { return newApplier(int(ns.fd.Fd())) }

// listedTable is what `nft -j list table` says, reduced to what tests
// compare: each chain's rules (as nft prints them, with handles), and each
// map's elements.
type listedTable struct {
	Exists bool
	Chains map[string][]listedRule
	Sets   map[string]string // name -> JSON of its elements
}

type listedRule struct {
	Handle int
	Text   string // the JSON of its expressions
}

func (ns *testNetns) listTable(tb testing.TB) listedTable {
	tb.Helper()
	out, err := ns.exec("nft", "-j", "list", "table", familyName, TableName)
	if err != nil {
		if strings.Contains(out, "No such file") {
			return listedTable{}
		}
		tb.Fatalf("nft list table: %v: %s", err, out)
	}
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		tb.Fatalf("nft -j output: %v", err)
	}
	lt := listedTable{Exists: true, Chains: map[string][]listedRule{}, Sets: map[string]string{}}
	for _, obj := range doc.Nftables {
		switch {
		case obj["chain"] != nil:
			var c struct{ Name string }
			json.Unmarshal(obj["chain"], &c)
			if _, ok := lt.Chains[c.Name]; !ok {
				lt.Chains[c.Name] = []listedRule{}
			}
		case obj["rule"] != nil:
			var r struct {
				Chain  string
				Handle int
				Expr   json.RawMessage
			}
			json.Unmarshal(obj["rule"], &r)
			lt.Chains[r.Chain] = append(lt.Chains[r.Chain], listedRule{Handle: r.Handle, Text: string(r.Expr)})
		case obj["map"] != nil || obj["set"] != nil:
			raw := obj["map"]
			if raw == nil {
				raw = obj["set"]
			}
			var s struct {
				Name string
				Elem []json.RawMessage
			}
			json.Unmarshal(raw, &s)
			elems := make([]string, len(s.Elem))
			for i, e := range s.Elem {
				elems[i] = string(e)
			}
			sort.Strings(elems) // hash order is not insertion order
			lt.Sets[s.Name] = strings.Join(elems, ",")
		}
	}
	return lt
}

// inNetns runs f on an OS thread switched into the namespace; sockets f
// creates stay in that namespace. The thread is dropped afterwards rather
// than returned to the Go scheduler in the wrong namespace.
func (ns *testNetns) run(f func()) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if err := unix.Setns(int(ns.fd.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		f()
		errc <- nil
	}()
	return <-errc
}

func (ns *testNetns) listen(tb testing.TB, addr string) net.Listener {
	tb.Helper()
	var ln net.Listener
	var err error
	if rerr := ns.run(func() { ln, err = net.Listen("tcp", addr) }); rerr != nil {
		tb.Fatal(rerr)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	return ln
}

func (ns *testNetns) dial(tb testing.TB, addr string) (net.Conn, error) {
	tb.Helper()
	var c net.Conn
	var err error
	if rerr := ns.run(func() { c, err = net.DialTimeout("tcp", addr, 5*time.Second) }); rerr != nil {
		tb.Fatal(rerr)
	}
	return c, err
}

// String renders the table in a canonical order without rule handles, so
// that two listings of the same rules compare equal.
func (lt listedTable) String() string {
	names := make([]string, 0, len(lt.Chains))
	for n := range lt.Chains {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "chain %s\n", n)
		for _, r := range lt.Chains[n] {
			fmt.Fprintf(&b, "\t%s\n", r.Text)
		}
	}
	names = names[:0]
	for n := range lt.Sets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "set %s %s\n", n, lt.Sets[n])
	}
	return b.String()
}

func (ns *testNetns) listenUDP(tb testing.TB, addr string) net.PacketConn {
	tb.Helper()
	var pc net.PacketConn
	var err error
	if rerr := ns.run(func() { pc, err = net.ListenPacket("udp", addr) }); rerr != nil {
		tb.Fatal(rerr)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { pc.Close() })
	return pc
}

// askUDP sends one datagram from ns to addr and returns the answer.
func (ns *testNetns) askUDP(tb testing.TB, addr string) (string, error) {
	tb.Helper()
	var c net.Conn
	var err error
	if rerr := ns.run(func() { c, err = net.Dial("udp", addr) }); rerr != nil {
		tb.Fatal(rerr)
	}
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		return "", err
	}
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	return string(buf[:n]), err
}

package podnetwork

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/k1s/k1s/internal/testcluster"
)

// newNetNS creates a network namespace with a veth pair, one end on
// 192.168.77.1/24 (the nodes' InternalIPs are on that subnet) and removes
// it when the test ends.
func newNetNS(t *testing.T) string {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command")
	}
	b := make([]byte, 4)
	rand.Read(b)
	name := "k1s-podnet-" + hex.EncodeToString(b)
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	run(t, "ip", "-n", name, "link", "add", "k1sveth0", "type", "veth", "peer", "name", "k1sveth1")
	run(t, "ip", "-n", name, "addr", "add", "192.168.77.1/24", "dev", "k1sveth0")
	run(t, "ip", "-n", name, "link", "set", "k1sveth0", "up")
	run(t, "ip", "-n", name, "link", "set", "k1sveth1", "up")
	return "/var/run/netns/" + name
}

func runQuiet(args ...string) error {
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// routesIn renders our routes (or, !ours, everyone else's gateway
// routes) in the namespace's main table, sorted.
func routesIn(path string, ours bool) (string, error) {
	h, err := netlinkHandle(path)
	if err != nil {
		return "", err
	}
	defer h.Close()
	all, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return "", err
	}
	var out []string
	for _, r := range all {
		if (r.Protocol == RouteProtocol) != ours || r.Dst == nil || r.Gw == nil {
			continue
		}
		out = append(out, fmt.Sprintf("%s>%s", r.Dst, r.Gw))
	}
	slices.Sort(out)
	return strings.Join(out, " "), nil
}

func createNode(t *testing.T, c kubernetes.Interface, name, cidr, ip string) {
	t.Helper()
	ctx := context.Background()
	n := testNode(name, cidr, ip)
	status := n.Status
	created, err := c.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status = status
	if _, err := c.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func setNodeIP(t *testing.T, c kubernetes.Interface, name, ip string) {
	t.Helper()
	ctx := context.Background()
	n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}}
	if _, err := c.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func waitRoutes(t *testing.T, path, want string) {
	t.Helper()
	testcluster.Eventually(t, 15*time.Second, func() error {
		got, err := routesIn(path, true)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("our routes = %q, want %q", got, want)
		}
		return nil
	})
}

// tableDump lists the table as nft prints it when nft is installed, else
// as rule counts per chain.
func tableDump(t *testing.T, path string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("nft"); err == nil {
		if _, err := exec.LookPath("nsenter"); err == nil {
			out, err := exec.Command("nsenter", "--net="+path, "nft", "list", "table", "ip", TableName).CombinedOutput()
			if err != nil {
				return "", fmt.Errorf("nft list: %v: %s", err, out)
			}
			return string(out), nil
		}
	}
	conn, closeNS, err := nftConn(path)
	if err != nil {
		return "", err
	}
	defer closeNS()
	table, err := conn.ListTableOfFamily(TableName, nftables.TableFamilyIPv4)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, name := range []string{"postrouting", "forward"} {
		rules, err := conn.GetRules(table, &nftables.Chain{Name: name, Table: table})
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s: %d rules\n", name, len(rules))
	}
	return b.String(), nil
}

func TestNetworkInNamespace(t *testing.T) {
	path := newNetNS(t)
	cfg := testcluster.StartAPIServer(t)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	createNode(t, client, "n1", "10.42.1.0/24", "192.168.77.1")
	createNode(t, client, "n2", "10.42.2.0/24", "192.168.77.2")
	createNode(t, client, "n3", "10.42.3.0/24", "192.168.77.3")
	createNode(t, client, "n5", "", "192.168.77.5") // no podCIDR yet
	// A route somebody else made to a node's pod range is left alone.
	run(t, "ip", "-n", strings.TrimPrefix(path, "/var/run/netns/"), "route", "add", "10.42.4.0/24", "via", "192.168.77.4")
	createNode(t, client, "n4", "10.42.4.0/24", "192.168.77.4")

	nw, err := New(Options{Client: client, NodeName: "n1", NetNSPath: path, Log: testcluster.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- nw.Run(ctx) }()
	stop := func() {
		if cancel != nil {
			cancel()
			cancel = nil
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	}
	t.Cleanup(stop)

	waitRoutes(t, path, "10.42.2.0/24>192.168.77.2 10.42.3.0/24>192.168.77.3")
	var forward []byte
	if err := inNetNS(path, func() (err error) {
		forward, err = os.ReadFile("/proc/sys/net/ipv4/ip_forward")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(forward)); got != "1" {
		t.Errorf("ip_forward = %q, want 1", got)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		dump, err := tableDump(t, path)
		if err != nil {
			return err
		}
		if strings.Contains(dump, "ip saddr 10.42.1.0/24 ip daddr != 10.42.0.0/16 masquerade") ||
			strings.Contains(dump, "postrouting: 1 rules") {
			t.Logf("table:\n%s", dump)
			return nil
		}
		return fmt.Errorf("no masquerade rule for 10.42.1.0/24 in\n%s", dump)
	})

	setNodeIP(t, client, "n3", "192.168.77.30")
	waitRoutes(t, path, "10.42.2.0/24>192.168.77.2 10.42.3.0/24>192.168.77.30")

	if err := client.CoreV1().Nodes().Delete(context.Background(), "n2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRoutes(t, path, "10.42.3.0/24>192.168.77.30")

	// Run leaves everything in place when it returns.
	stop()
	if got, err := routesIn(path, true); err != nil || got != "10.42.3.0/24>192.168.77.30" {
		t.Errorf("after Run: routes %q (%v), want them kept", got, err)
	}
	if _, err := tableDump(t, path); err != nil {
		t.Errorf("after Run: table gone: %v", err)
	}

	if err := inNetNS(path, Cleanup); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if got, err := routesIn(path, true); err != nil || got != "" {
		t.Errorf("after Cleanup: our routes %q (%v), want none", got, err)
	}
	if got, err := routesIn(path, false); err != nil || got != "10.42.4.0/24>192.168.77.4" {
		t.Errorf("after Cleanup: foreign routes %q (%v), want 10.42.4.0/24 kept", got, err)
	}
	if _, err := tableDump(t, path); err == nil {
		t.Error("after Cleanup: table still there")
	}
	// A second Cleanup finds nothing to do.
	if err := inNetNS(path, Cleanup); err != nil {
		t.Errorf("second Cleanup: %v", err)
	}
}

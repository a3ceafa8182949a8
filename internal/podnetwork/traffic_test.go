package podnetwork

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/k1s/k1s/internal/testcluster"
)

// addNetNS creates an empty network namespace for the test.
func addNetNS(t *testing.T, name string) string {
	t.Helper()
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { _ = runQuiet("ip", "netns", "del", name) })
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	return "/var/run/netns/" + name
}

// listenIn starts a TCP server in the namespace at path that answers
// each connection with the client address it sees.
func listenIn(t *testing.T, path, addr string) {
	t.Helper()
	var ln net.Listener
	if err := inNetNS(path, func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, c.RemoteAddr().(*net.TCPAddr).IP)
			c.Close()
		}
	}()
}

// sourceSeen connects from the namespace at path to addr and returns the
// source address the server saw.
func sourceSeen(path, addr string) (string, error) {
	var c net.Conn
	if err := inNetNS(path, func() (err error) {
		c, err = net.DialTimeout("tcp", addr, 2*time.Second)
		return err
	}); err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(buf[:n])), nil
}

// A pod behind the node reaches an outside address masqueraded as the
// node, and another node's pod range unmasqueraded through the route the
// Network wrote:
//
//	pod ns 10.42.1.5 -- 10.42.1.1 node ns (n1) 192.168.88.1 -- 192.168.88.2 peer ns (n2, pods 10.42.2.0/24)
func TestTrafficThroughNode(t *testing.T) {
	nodePath := newNetNS(t)
	node := strings.TrimPrefix(nodePath, "/var/run/netns/")
	podPath := addNetNS(t, node+"-p")
	pod := strings.TrimPrefix(podPath, "/var/run/netns/")
	peerPath := addNetNS(t, node+"-x")
	peer := strings.TrimPrefix(peerPath, "/var/run/netns/")

	run(t, "ip", "-n", node, "link", "add", "k1spod0", "type", "veth", "peer", "name", "eth0", "netns", pod)
	run(t, "ip", "-n", node, "addr", "add", "10.42.1.1/24", "dev", "k1spod0")
	run(t, "ip", "-n", node, "link", "set", "k1spod0", "up")
	run(t, "ip", "-n", pod, "addr", "add", "10.42.1.5/24", "dev", "eth0")
	run(t, "ip", "-n", pod, "link", "set", "eth0", "up")
	run(t, "ip", "-n", pod, "route", "add", "default", "via", "10.42.1.1")

	run(t, "ip", "-n", node, "link", "add", "k1speer0", "type", "veth", "peer", "name", "eth0", "netns", peer)
	run(t, "ip", "-n", node, "addr", "add", "192.168.88.1/24", "dev", "k1speer0")
	run(t, "ip", "-n", node, "link", "set", "k1speer0", "up")
	run(t, "ip", "-n", peer, "addr", "add", "192.168.88.2/24", "dev", "eth0")
	run(t, "ip", "-n", peer, "addr", "add", "10.42.2.7/32", "dev", "lo")
	run(t, "ip", "-n", peer, "link", "set", "eth0", "up")
	// The peer knows the way back to n1's pods only as another node would.
	run(t, "ip", "-n", peer, "route", "add", "10.42.1.0/24", "via", "192.168.88.1")

	cfg := testcluster.StartAPIServer(t)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	createNode(t, client, "n1", "10.42.1.0/24", "192.168.88.1")
	createNode(t, client, "n2", "10.42.2.0/24", "192.168.88.2")
	nw, err := New(Options{Client: client, NodeName: "n1", NetNSPath: nodePath, Log: testcluster.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- nw.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	waitRoutes(t, nodePath, "10.42.2.0/24>192.168.88.2")

	listenIn(t, peerPath, "0.0.0.0:8080")
	tests := []struct {
		name, dst, wantSource string
	}{
		{"outside the cluster: masqueraded", "192.168.88.2:8080", "192.168.88.1"},
		{"another node's pod: pod address kept", "10.42.2.7:8080", "10.42.1.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testcluster.Eventually(t, 10*time.Second, func() error {
				got, err := sourceSeen(podPath, tt.dst)
				if err != nil {
					return err
				}
				if got != tt.wantSource {
					return fmt.Errorf("server saw %s, want %s", got, tt.wantSource)
				}
				return nil
			})
		})
	}
}

package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/k1s/k1s/internal/testcluster"
)

func TestOptionsValidate(t *testing.T) {
	client := kubernetes.NewForConfigOrDie(&rest.Config{Host: "https://127.0.0.1:1"})
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"minimal", Options{Client: client, NodeName: "n1"}, true},
		{"with cluster CIDR", Options{Client: client, NodeName: "n1", ClusterCIDR: "10.42.0.0/16"}, true},
		{"no client", Options{NodeName: "n1"}, false},
		{"no node name", Options{Client: client}, false},
		{"bad CIDR", Options{Client: client, NodeName: "n1", ClusterCIDR: "10.42.0.0"}, false},
		{"IPv6 CIDR", Options{Client: client, NodeName: "n1", ClusterCIDR: "fd00::/64"}, false},
		{"missing netns", Options{Client: client, NodeName: "n1", NetNSPath: "/run/netns/k1s-proxy-does-not-exist"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			if (err == nil) != tt.ok {
				t.Errorf("New: err %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestProxierFollowsTheAPI(t *testing.T) {
	ns := newTestNetns(t)
	client := kubernetes.NewForConfigOrDie(testcluster.StartAPIServer(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	svc := service("web", "10.43.0.20", port("http", v1.ProtocolTCP, 80, 0))
	if _, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sl := slice("web", "web-1", map[string]int32{"http": 8080}, v1.ProtocolTCP, ready("10.42.0.5"))
	sl.Annotations = map[string]string{v1.EndpointsLastChangeTriggerTime: time.Now().Format(time.RFC3339Nano)}
	if _, err := client.DiscoveryV1().EndpointSlices("default").Create(ctx, sl, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	p, err := New(Options{Client: client, NodeName: "n1", ClusterCIDR: "10.42.0.0/16", NetNSPath: ns.Path, Log: testcluster.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	chainHas := func(chain, want string) func() error {
		return func() error {
			got := ruleText(ns.listTable(t).Chains[chain])
			if !strings.Contains(got, want) {
				return fmt.Errorf("chain %s: %s lacks %s", chain, got, want)
			}
			return nil
		}
	}
	web := svcChain("default/web/tcp/http")
	testcluster.Eventually(t, 20*time.Second, chainHas(web, epChain("default/web/tcp/http", "10.42.0.5/8080")))

	// An endpoint more.
	sl, err = client.DiscoveryV1().EndpointSlices("default").Get(ctx, "web-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.42.0.6"}})
	sl.Annotations[v1.EndpointsLastChangeTriggerTime] = time.Now().Format(time.RFC3339Nano)
	if _, err := client.DiscoveryV1().EndpointSlices("default").Update(ctx, sl, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, chainHas(web, epChain("default/web/tcp/http", "10.42.0.6/8080")))

	srv := httptest.NewServer(p.httpHandler())
	defer srv.Close()
	for path, want := range map[string]string{
		"/healthz": "ok",
		// The slice's creation came before the proxy: only its update counts.
		"/metrics": "k1s_proxy_network_programming_duration_seconds_count 1",
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d, want %q in\n%s", path, resp.StatusCode, want, body)
		}
		if path == "/metrics" && !strings.Contains(string(body), "k1s_proxy_sync_duration_seconds_count") {
			t.Errorf("no sync duration metric in\n%s", body)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}

	// A restart finds its own table and replaces it with the same rules.
	before := ns.listTable(t).String()
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	p, err = New(Options{Client: client, NodeName: "n1", ClusterCIDR: "10.42.0.0/16", NetNSPath: ns.Path, Log: testcluster.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- p.Run(ctx) }()
	testcluster.Eventually(t, 10*time.Second, func() error {
		if !p.healthy.Load() {
			return fmt.Errorf("restarted proxy not synced")
		}
		return nil
	})
	if got := ns.listTable(t).String(); got != before {
		t.Errorf("after a restart the table is\n%s\nwant\n%s", got, before)
	}

	// The service gone: its chains and map element go too.
	if err := client.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		lt := ns.listTable(t)
		if _, ok := lt.Chains[web]; ok || strings.Contains(lt.Sets[mapServiceIPs], "10.43.0.20") {
			return fmt.Errorf("web still programmed: %v", lt.Sets[mapServiceIPs])
		}
		return nil
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

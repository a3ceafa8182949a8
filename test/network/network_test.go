package network

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// webDeployment returns a Deployment of busybox httpd pods answering
// "<app> <pod name>" on port 8080 at / and /v1/.
func webDeployment(app string, replicas int, node string) string {
	placement := ""
	if node != "" {
		placement = "      nodeName: " + node + "\n"
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: %[2]d
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
%[3]s      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: %[4]s
        command: ["sh", "-c", "mkdir -p /www/v1 && echo %[1]s $(hostname) > /www/index.html && cp /www/index.html /www/v1/ && exec httpd -f -p 8080 -h /www"]
        ports:
        - {name: http, containerPort: 8080}
        readinessProbe:
          tcpSocket: {port: http}
          periodSeconds: 1
`, app, replicas, placement, busybox)
}

func service(name, app, extra string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %s
spec:
  selector: {app: %s}
%s  ports:
  - {name: http, port: 80, targetPort: http}
`, name, app, extra)
}

// clientPod runs a busybox that sleeps, on node, to run wget and
// nslookup from.
func clientPod(t *testing.T, name, node string) {
	t.Helper()
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  nodeName: %s
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: %s
    command: ["sleep", "3600"]
`, name, node, busybox), "apply", "-f", "-")
	t.Cleanup(func() { kubectlRaw(context.Background(), "", "delete", "pod", name, "--grace-period=0", "--force") })
	kubectl(t, "", "wait", "--for=condition=Ready", "pod/"+name, "--timeout=90s")
}

// fetch runs wget in a pod.
func fetch(pod, url string) (string, error) {
	out, errOut, err := kubectlRaw(context.Background(), "", "exec", pod, "--", "timeout", "5", "wget", "-qO-", url)
	if err != nil {
		return "", fmt.Errorf("wget %s in %s: %v: %s", url, pod, err, errOut)
	}
	return strings.TrimSpace(out), nil
}

func podIP(t *testing.T, name string) string {
	t.Helper()
	return kubectl(t, "", "get", "pod", name, "-o", "jsonpath={.status.podIP}")
}

func TestPodToPodAcrossNodes(t *testing.T) {
	needCluster(t)
	kubectl(t, webDeployment("far", 1, nodes[1].name), "apply", "-f", "-")
	t.Cleanup(func() { kubectlRaw(context.Background(), "", "delete", "deployment", "far") })
	clientPod(t, "near", nodes[0].name)
	kubectl(t, "", "rollout", "status", "deployment/far", "--timeout=90s")
	ip := kubectl(t, "", "get", "pods", "-l", "app=far", "-o", "jsonpath={.items[0].status.podIP}")
	eventually(t, 30*time.Second, func() error {
		out, err := fetch("near", "http://"+ip+":8080/")
		if err != nil {
			return err
		}
		if !strings.HasPrefix(out, "far far-") {
			return fmt.Errorf("answer %q", out)
		}
		return nil
	})
	// Without NAT: the far pod sees the near pod's own address. busybox
	// httpd does not log it, so ask the other way round: the near pod's
	// address is in the other node's pod range and reached directly.
	near := podIP(t, "near")
	if near == "" || strings.Split(near, ".")[2] == strings.Split(ip, ".")[2] {
		t.Errorf("pods on two nodes share a /24: %s and %s", near, ip)
	}
}

func TestServiceSpreadsOverReadyPods(t *testing.T) {
	needCluster(t)
	kubectl(t, webDeployment("spread", 3, ""), "apply", "-f", "-")
	kubectl(t, service("spread", "spread", ""), "apply", "-f", "-")
	// A pod with the service's label that never becomes ready.
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: spread-unready
  labels: {app: spread}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: web
    image: %s
    command: ["sh", "-c", "mkdir -p /www && echo UNREADY > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports:
    - {name: http, containerPort: 8080}
    readinessProbe:
      exec: {command: ["false"]}
      periodSeconds: 1
`, busybox), "apply", "-f", "-")
	t.Cleanup(func() {
		kubectlRaw(context.Background(), "", "delete", "deployment,service", "spread")
		kubectlRaw(context.Background(), "", "delete", "pod", "spread-unready", "--grace-period=0", "--force")
	})
	clientPod(t, "spread-client", nodes[0].name)
	kubectl(t, "", "rollout", "status", "deployment/spread", "--timeout=90s")

	for _, host := range []string{"spread", "spread.default", "spread.default.svc.cluster.local",
		kubectl(t, "", "get", "service", "spread", "-o", "jsonpath={.spec.clusterIP}")} {
		t.Run(host, func(t *testing.T) {
			seen := map[string]int{}
			eventually(t, 60*time.Second, func() error {
				out, err := fetch("spread-client", "http://"+host+"/")
				if err != nil {
					return err
				}
				if strings.Contains(out, "UNREADY") {
					t.Fatalf("the not-ready pod got traffic")
				}
				seen[out]++
				if len(seen) < 3 {
					return fmt.Errorf("answers so far: %v", seen)
				}
				return nil
			})
		})
	}
}

func TestNodePort(t *testing.T) {
	needCluster(t)
	kubectl(t, webDeployment("np", 1, nodes[1].name), "apply", "-f", "-")
	kubectl(t, service("np", "np", "  type: NodePort\n"), "apply", "-f", "-")
	t.Cleanup(func() { kubectlRaw(context.Background(), "", "delete", "deployment,service", "np") })
	kubectl(t, "", "rollout", "status", "deployment/np", "--timeout=90s")
	port := kubectl(t, "", "get", "service", "np", "-o", "jsonpath={.spec.ports[0].nodePort}")
	// From this machine to either node's address: the pod runs on the
	// second node only.
	for _, n := range nodes {
		url := "http://" + net.JoinHostPort(n.addr, port) + "/"
		eventually(t, 30*time.Second, func() error {
			body, err := get(http.DefaultClient, url, "")
			if err != nil {
				return err
			}
			if !strings.HasPrefix(body, "np np-") {
				return fmt.Errorf("%s answered %q", url, body)
			}
			return nil
		})
	}
}

func TestHeadlessStatefulSetNames(t *testing.T) {
	needCluster(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: db
spec:
  clusterIP: None
  selector: {app: db}
  ports:
  - {name: http, port: 8080}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 2
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: db
        image: %s
        command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
        ports:
        - {name: http, containerPort: 8080}
        readinessProbe:
          tcpSocket: {port: http}
          periodSeconds: 1
`, busybox), "apply", "-f", "-")
	t.Cleanup(func() { kubectlRaw(context.Background(), "", "delete", "statefulset,service", "db") })
	clientPod(t, "db-client", nodes[0].name)
	kubectl(t, "", "rollout", "status", "statefulset/db", "--timeout=120s")
	for _, pod := range []string{"db-0", "db-1"} {
		eventually(t, 30*time.Second, func() error {
			out, err := fetch("db-client", "http://"+pod+".db.default.svc.cluster.local:8080/")
			if err != nil {
				return err
			}
			if out != pod {
				return fmt.Errorf("%s.db answered %q", pod, out)
			}
			return nil
		})
	}
	// The headless name itself resolves to both pods.
	eventually(t, 30*time.Second, func() error {
		out, errOut, err := kubectlRaw(context.Background(), "", "exec", "db-client", "--", "nslookup", "db.default.svc.cluster.local")
		if err != nil {
			return fmt.Errorf("nslookup: %v: %s %s", err, out, errOut)
		}
		var ips []string
		for _, p := range []string{"db-0", "db-1"} {
			ip := podIP(t, p)
			if !strings.Contains(out, ip) {
				return fmt.Errorf("nslookup db does not list %s (%s): %s", p, ip, out)
			}
			ips = append(ips, ip)
		}
		sort.Strings(ips)
		return nil
	})
}

func get(c *http.Client, url, host string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	if host != "" {
		req.Host = host
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s (Host %s): %s: %s", url, host, resp.Status, b)
	}
	return strings.TrimSpace(string(b)), nil
}

// httpsClient verifies the server's certificate for serverName against
// the certificate in caFile.
func httpsClient(t *testing.T, serverName, caFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{ServerName: serverName, RootCAs: pool},
	}}
}

func TestIngressRoutesByHostAndPath(t *testing.T) {
	needCluster(t)
	kubectl(t, webDeployment("front", 1, ""), "apply", "-f", "-")
	kubectl(t, webDeployment("api", 1, ""), "apply", "-f", "-")
	kubectl(t, service("front", "front", ""), "apply", "-f", "-")
	kubectl(t, service("api", "api", ""), "apply", "-f", "-")
	crt, key := selfSigned(t, "my-app.com", "api.my-app.com")
	kubectl(t, "", "create", "secret", "tls", "my-app-tls", "--cert="+crt, "--key="+key)
	kubectl(t, `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: my-app
spec:
  tls:
  - hosts: [my-app.com, api.my-app.com]
    secretName: my-app-tls
  rules:
  - host: my-app.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: front, port: {number: 80}}}}
  - host: api.my-app.com
    http:
      paths:
      - {path: /v1, pathType: Prefix, backend: {service: {name: api, port: {name: http}}}}
`, "apply", "-f", "-")
	t.Cleanup(func() {
		kubectlRaw(context.Background(), "", "delete", "ingress", "my-app")
		kubectlRaw(context.Background(), "", "delete", "secret", "my-app-tls")
		kubectlRaw(context.Background(), "", "delete", "deployment,service", "front", "api")
	})
	kubectl(t, "", "rollout", "status", "deployment/front", "--timeout=90s")
	kubectl(t, "", "rollout", "status", "deployment/api", "--timeout=90s")

	plain := &http.Client{Timeout: 5 * time.Second}
	for _, n := range nodes {
		for _, tc := range []struct {
			scheme, host, path, want string
		}{
			{"http", "my-app.com", "/", "front front-"},
			{"http", "api.my-app.com", "/v1/", "api api-"},
			{"https", "my-app.com", "/", "front front-"},
			{"https", "api.my-app.com", "/v1/", "api api-"},
		} {
			c := plain
			port := "80"
			if tc.scheme == "https" {
				c, port = httpsClient(t, tc.host, crt), "443"
			}
			url := tc.scheme + "://" + net.JoinHostPort(n.addr, port) + tc.path
			eventually(t, 60*time.Second, func() error {
				body, err := get(c, url, tc.host)
				if err != nil {
					return err
				}
				if !strings.HasPrefix(body, tc.want) {
					return fmt.Errorf("%s Host %s answered %q, want %q...", url, tc.host, body, tc.want)
				}
				return nil
			})
		}
		// No rule: 404 with a body that says so.
		req, _ := http.NewRequest(http.MethodGet, "http://"+net.JoinHostPort(n.addr, "80")+"/", nil)
		req.Host = "nobody.example"
		resp, err := plain.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("unknown host: %s, want 404", resp.Status)
		}
	}
	// The Ingress reports the nodes' addresses.
	eventually(t, 30*time.Second, func() error {
		out := kubectl(t, "", "get", "ingress", "my-app", "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}")
		for _, n := range nodes {
			if !strings.Contains(out, n.addr) {
				return fmt.Errorf("status.loadBalancer = %q, want both node addresses", out)
			}
		}
		return nil
	})
}

// TestIngressLosesNoRequestWhenABackendGoes deletes one of two backends
// while a client keeps sending requests through the Ingress.
func TestIngressLosesNoRequestWhenABackendGoes(t *testing.T) {
	needCluster(t)
	kubectl(t, webDeployment("steady", 2, ""), "apply", "-f", "-")
	kubectl(t, service("steady", "steady", ""), "apply", "-f", "-")
	kubectl(t, `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: steady
spec:
  rules:
  - host: steady.example
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: steady, port: {number: 80}}}}
`, "apply", "-f", "-")
	t.Cleanup(func() {
		kubectlRaw(context.Background(), "", "delete", "ingress", "steady")
		kubectlRaw(context.Background(), "", "delete", "deployment,service", "steady")
	})
	kubectl(t, "", "rollout", "status", "deployment/steady", "--timeout=90s")
	url := "http://" + net.JoinHostPort(nodes[0].addr, "80") + "/"
	c := &http.Client{Timeout: 5 * time.Second}
	eventually(t, 60*time.Second, func() error {
		_, err := get(c, url, "steady.example")
		return err
	})

	ctx, cancel := context.WithCancel(context.Background())
	var sent, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				sent.Add(1)
				if _, err := get(c, url, "steady.example"); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	victim := strings.Fields(kubectl(t, "", "get", "pods", "-l", "app=steady", "-o", "jsonpath={.items[*].metadata.name}"))[0]
	kubectl(t, "", "delete", "pod", victim, "--wait=true", "--timeout=60s")
	kubectl(t, "", "rollout", "status", "deployment/steady", "--timeout=90s")
	time.Sleep(time.Second) // keep the stream going past the replacement's arrival
	cancel()
	wg.Wait()
	if failed.Load() > 0 {
		t.Errorf("%d of %d requests failed while a backend went away; first: %v", failed.Load(), sent.Load(), firstErr.Load())
	}
	if sent.Load() < 20 {
		t.Errorf("only %d requests were sent", sent.Load())
	}
	t.Logf("%d requests, %d failed", sent.Load(), failed.Load())
}

// TestHostPortAndHostNetwork: a hostPort reaches its pod at the node's
// address (CNI portmap), and a hostNetwork pod listens on the node's own
// network.
func TestHostPortAndHostNetwork(t *testing.T) {
	needCluster(t)
	n := nodes[0]
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: hostport
spec:
  nodeName: %[1]s
  terminationGracePeriodSeconds: 0
  containers:
  - name: web
    image: %[2]s
    command: ["sh", "-c", "mkdir -p /www && echo via-hostport > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports:
    - {containerPort: 8080, hostPort: 18080}
---
apiVersion: v1
kind: Pod
metadata:
  name: hostnet
spec:
  nodeName: %[1]s
  hostNetwork: true
  terminationGracePeriodSeconds: 0
  containers:
  - name: web
    image: %[2]s
    command: ["sh", "-c", "mkdir -p /tmp/www && echo via-hostnetwork > /tmp/www/index.html && exec httpd -f -p 18081 -h /tmp/www"]
`, n.name, busybox), "apply", "-f", "-")
	t.Cleanup(func() {
		kubectlRaw(context.Background(), "", "delete", "pod", "hostport", "hostnet", "--grace-period=0", "--force")
	})
	kubectl(t, "", "wait", "--for=condition=Ready", "pod/hostport", "pod/hostnet", "--timeout=90s")
	if ip := podIP(t, "hostnet"); ip != n.addr {
		t.Errorf("hostNetwork pod IP = %q, want the node's %s", ip, n.addr)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	for url, want := range map[string]string{
		"http://" + net.JoinHostPort(n.addr, "18080") + "/": "via-hostport",
		"http://" + net.JoinHostPort(n.addr, "18081") + "/": "via-hostnetwork",
	} {
		eventually(t, 30*time.Second, func() error {
			body, err := get(c, url, "")
			if err != nil {
				return err
			}
			if body != want {
				return fmt.Errorf("%s answered %q, want %q", url, body, want)
			}
			return nil
		})
	}
}

package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// changesBetween lists the parts that differ between two models, as the
// Proxier does for the services it is told about.
func changesBetween(old, new model) []change {
	var out []change
	for k, o := range old.Services {
		if n := new.Services[k]; n.String() != o.String() {
			out = append(out, change{Old: o, New: n})
		}
	}
	for k, n := range new.Services {
		if _, ok := old.Services[k]; !ok {
			out = append(out, change{New: n})
		}
	}
	return out
}

func affinityService() *v1.Service {
	s := service("sticky", "10.43.0.40", port("http", v1.ProtocolTCP, 80, 0))
	s.Spec.SessionAffinity = v1.ServiceAffinityClientIP
	return s
}

func testObjects(webEndpoints ...ep) ([]*v1.Service, []*discoveryv1.EndpointSlice) {
	web := service("web", "10.43.0.20", port("http", v1.ProtocolTCP, 80, 30080))
	web.Spec.Type = v1.ServiceTypeNodePort
	services := []*v1.Service{
		web,
		service("dns", "10.43.0.10", port("dns", v1.ProtocolUDP, 53, 0), port("dns-tcp", v1.ProtocolTCP, 53, 0)),
		service("empty", "10.43.0.30", port("http", v1.ProtocolTCP, 80, 30081)),
		service("stream", "10.43.0.50", port("sctp", v1.ProtocolSCTP, 9999, 0)),
		affinityService(),
	}
	slices := []*discoveryv1.EndpointSlice{
		slice("web", "web-1", map[string]int32{"http": 8080}, v1.ProtocolTCP, webEndpoints...),
		slice("dns", "dns-1", map[string]int32{"dns": 53}, v1.ProtocolUDP, ready("10.42.0.8")),
		slice("dns", "dns-2", map[string]int32{"dns-tcp": 53}, v1.ProtocolTCP, ready("10.42.0.8")),
		slice("stream", "stream-1", map[string]int32{"sctp": 9999}, v1.ProtocolSCTP, ready("10.42.0.9")),
		slice("sticky", "sticky-1", map[string]int32{"http": 8080}, v1.ProtocolTCP, ready("10.42.0.5"), ready("10.42.0.6")),
	}
	return services, slices
}

func TestApplierProgramsNetns(t *testing.T) {
	ns := newTestNetns(t)
	a := ns.applier()

	services, slices := testObjects(ready("10.42.0.5"), ready("10.42.0.6"))
	m1 := buildModel(services, slices, testCIDR)
	// A table left by an earlier run, with a stale chain, is replaced.
	ns.mustExec(t, "nft", "add table ip k1s-proxy; add chain ip k1s-proxy leftover; add rule ip k1s-proxy leftover counter")
	if err := a.replace(m1); err != nil {
		t.Fatalf("replace: %v", err)
	}
	before := ns.listTable(t)
	if _, ok := before.Chains["leftover"]; ok {
		t.Errorf("the leftover chain survived the start-up replace")
	}
	webChain := svcChain("default/web/tcp/http")
	dnsChain := svcChain("default/dns/udp/dns")
	for _, c := range []string{webChain, dnsChain, epChain("default/web/tcp/http", "10.42.0.6/8080"), "nat-prerouting", "filter-output"} {
		if len(before.Chains[c]) == 0 {
			t.Errorf("chain %s missing or empty", c)
		}
	}
	if !strings.Contains(before.Sets[mapServiceIPs], `"10.43.0.20"`) || !strings.Contains(before.Sets[mapNoEndpointServices], `"10.43.0.30"`) {
		t.Errorf("maps lack elements: service-ips %s, no-endpoint-services %s", before.Sets[mapServiceIPs], before.Sets[mapNoEndpointServices])
	}
	text := before.String()

	// One endpoint more for web: only web's chains and no map changes.
	services, slices = testObjects(ready("10.42.0.5"), ready("10.42.0.6"), ready("10.42.0.7"))
	m2 := buildModel(services, slices, testCIDR)
	changes := changesBetween(m1, m2)
	if len(changes) != 1 {
		t.Fatalf("got %d changed services, want 1", len(changes))
	}
	if err := a.update(changes); err != nil {
		t.Fatalf("update: %v", err)
	}
	after := ns.listTable(t)
	newEp := epChain("default/web/tcp/http", "10.42.0.7/8080")
	if len(after.Chains[newEp]) == 0 {
		t.Errorf("new endpoint chain %s missing", newEp)
	}
	if !strings.Contains(ruleText(after.Chains[webChain]), newEp) {
		t.Errorf("web's service chain does not reach the new endpoint: %s", ruleText(after.Chains[webChain]))
	}
	for name, rules := range before.Chains {
		if name == webChain {
			continue
		}
		if got, want := ruleText(after.Chains[name]), ruleText(rules); got != want || handles(after.Chains[name]) != handles(rules) {
			t.Errorf("chain %s was rewritten though its service did not change", name)
		}
	}
	for name, elems := range before.Sets {
		if after.Sets[name] != elems {
			t.Errorf("map %s changed: %s -> %s", name, elems, after.Sets[name])
		}
	}

	// A full resync in place, or a restart's replace, of the same model
	// leaves the same table: no duplicate rules.
	text2 := after.String()
	if err := a.resync(m2, m2); err != nil {
		t.Fatalf("resync: %v", err)
	}
	if got := ns.listTable(t).String(); got != text2 {
		t.Errorf("resync changed the table:\n%s\nwant\n%s", got, text2)
	}
	if err := a.replace(m2); err != nil {
		t.Fatalf("replace: %v", err)
	}
	if got := ns.listTable(t).String(); got != text2 {
		t.Errorf("replace changed the table:\n%s\nwant\n%s", got, text2)
	}

	// Back to m1 through update gives m1's table; a service gone and
	// endpoints gone remove their chains, sets and elements.
	if err := a.update(changesBetween(m2, m1)); err != nil {
		t.Fatalf("update back: %v", err)
	}
	if got := ns.listTable(t).String(); got != text {
		t.Errorf("update back to m1 gives\n%s\nwant\n%s", got, text)
	}
	services, slices = testObjects()
	m3 := buildModel(services[:3], slices, testCIDR) // sticky and stream gone, web without endpoints
	if err := a.update(changesBetween(m1, m3)); err != nil {
		t.Fatalf("update: %v", err)
	}
	final := ns.listTable(t)
	for name := range final.Chains {
		if strings.Contains(name, "sticky") || strings.Contains(name, "web") {
			t.Errorf("chain %s left behind", name)
		}
	}
	for name := range final.Sets {
		if strings.HasPrefix(name, "affinity-") {
			t.Errorf("set %s left behind", name)
		}
	}
	if !strings.Contains(final.Sets[mapNoEndpointNodePorts], "30080") {
		t.Errorf("web without endpoints is not rejected on its node port: %s", final.Sets[mapNoEndpointNodePorts])
	}
	// The in-place resync also clears what someone else added.
	ns.mustExec(t, "nft", "add chain ip k1s-proxy intruder")
	if err := a.resync(m3, m3); err != nil {
		t.Fatalf("resync: %v", err)
	}
	if _, ok := ns.listTable(t).Chains["intruder"]; ok {
		t.Errorf("resync left a chain the model does not have")
	}

	if err := Cleanup(ns.Path); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if ns.listTable(t).Exists {
		t.Errorf("table still there after Cleanup")
	}
	if err := Cleanup(ns.Path); err != nil {
		t.Errorf("Cleanup of a missing table: %v", err)
	}
}

func ruleText(rules []listedRule) string {
	s := make([]string, len(rules))
	for i, r := range rules {
		s[i] = r.Text
	}
	return strings.Join(s, "\n")
}

func handles(rules []listedRule) string {
	var b strings.Builder
	for _, r := range rules {
		fmt.Fprintf(&b, " %d", r.Handle)
	}
	return b.String()
}

func runCmd(args ...string) (string, error) {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	return string(out), err
}

// trafficSetup wires three network namespaces:
//
//	outside 192.168.50.2 <-> 192.168.50.1 node 10.42.0.1 <-> pod 10.42.0.5, 10.42.0.6
//
// with a TCP server on port 8080 of each pod address that answers every
// connection with the client address it sees and its own address.
func trafficSetup(t *testing.T) (outside, node, pod *testNetns) {
	outside, node, pod = newTestNetns(t), newTestNetns(t), newTestNetns(t)
	for _, cmd := range [][]string{
		{"ip", "-n", node.Name, "link", "add", "vn", "type", "veth", "peer", "name", "vp", "netns", pod.Name},
		{"ip", "-n", node.Name, "link", "add", "vx", "type", "veth", "peer", "name", "vo", "netns", outside.Name},
		{"ip", "-n", node.Name, "addr", "add", "10.42.0.1/24", "dev", "vn"},
		{"ip", "-n", node.Name, "addr", "add", "192.168.50.1/24", "dev", "vx"},
		{"ip", "-n", node.Name, "link", "set", "vn", "up"},
		{"ip", "-n", node.Name, "link", "set", "vx", "up"},
		{"ip", "-n", node.Name, "link", "set", "lo", "up"},
		// The node's default route is its uplink to outside, which
		// service addresses take, as on a real node.
		{"ip", "-n", node.Name, "route", "add", "default", "via", "192.168.50.2"},
		{"ip", "netns", "exec", node.Name, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
		// A hairpinned packet leaves by the interface it came in by, and
		// the ICMP redirect that would earn shares the per-host ICMP rate
		// limit with the port-unreachable a test expects right after.
		{"ip", "netns", "exec", node.Name, "sysctl", "-qw", "net.ipv4.conf.all.send_redirects=0"},
		{"ip", "netns", "exec", node.Name, "sysctl", "-qw", "net.ipv4.conf.vn.send_redirects=0"},
		{"ip", "-n", pod.Name, "addr", "add", "10.42.0.5/24", "dev", "vp"},
		{"ip", "-n", pod.Name, "addr", "add", "10.42.0.6/24", "dev", "vp"},
		{"ip", "-n", pod.Name, "link", "set", "vp", "up"},
		{"ip", "-n", pod.Name, "link", "set", "lo", "up"},
		{"ip", "-n", pod.Name, "route", "add", "default", "via", "10.42.0.1"},
		{"ip", "-n", outside.Name, "addr", "add", "192.168.50.2/24", "dev", "vo"},
		{"ip", "-n", outside.Name, "link", "set", "vo", "up"},
		{"ip", "-n", outside.Name, "link", "set", "lo", "up"},
		{"ip", "-n", outside.Name, "route", "add", "default", "via", "192.168.50.1"},
	} {
		if out, err := runCmd(cmd...); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(cmd, " "), err, out)
		}
	}
	for _, addr := range []string{"10.42.0.5:8080", "10.42.0.6:8080"} {
		ln := pod.listen(t, addr)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				fmt.Fprintf(c, "%s %s\n", c.RemoteAddr(), c.LocalAddr())
				c.Close()
			}
		}()
	}
	pc := pod.listenUDP(t, "10.42.0.5:5353")
	go func() {
		buf := make([]byte, 512)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo([]byte(from.String()), from)
		}
	}()
	return outside, node, pod
}

// askService connects from ns and returns the client address the pod saw
// and the pod address that answered.
func askService(t *testing.T, ns *testNetns, addr string) (from, by string, err error) {
	t.Helper()
	c, err := ns.dial(t, addr)
	if err != nil {
		return "", "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", "", err
	}
	remote, local, _ := strings.Cut(strings.TrimSpace(line), " ")
	from, _, _ = strings.Cut(remote, ":")
	by, _, _ = strings.Cut(local, ":")
	return from, by, nil
}

func TestTrafficThroughServices(t *testing.T) {
	outside, node, pod := trafficSetup(t)
	nodePort := func(s *v1.Service) *v1.Service { s.Spec.Type = v1.ServiceTypeNodePort; return s }
	sticky := service("sticky", "10.43.0.40", port("http", v1.ProtocolTCP, 80, 0))
	sticky.Spec.SessionAffinity = v1.ServiceAffinityClientIP
	services := []*v1.Service{
		nodePort(service("web", "10.43.0.20", port("http", v1.ProtocolTCP, 80, 30080))),
		service("pair", "10.43.0.21", port("http", v1.ProtocolTCP, 80, 0)),
		sticky,
		nodePort(service("empty", "10.43.0.30", port("http", v1.ProtocolTCP, 80, 30081))),
		service("dns", "10.43.0.10", port("dns", v1.ProtocolUDP, 53, 0)),
		service("nodns", "10.43.0.11", port("dns", v1.ProtocolUDP, 53, 0)),
	}
	slices := []*discoveryv1.EndpointSlice{
		slice("web", "web-1", map[string]int32{"http": 8080}, v1.ProtocolTCP, ready("10.42.0.5")),
		slice("pair", "pair-1", map[string]int32{"http": 8080}, v1.ProtocolTCP, ready("10.42.0.5"), ready("10.42.0.6")),
		slice("sticky", "sticky-1", map[string]int32{"http": 8080}, v1.ProtocolTCP, ready("10.42.0.5"), ready("10.42.0.6")),
		slice("dns", "dns-1", map[string]int32{"dns": 5353}, v1.ProtocolUDP, ready("10.42.0.5")),
	}
	if err := node.applier().replace(buildModel(services, slices, testCIDR)); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name     string
		from     *testNetns
		addr     string
		wantFrom string
	}{
		{"node to cluster IP", node, "10.43.0.20:80", "10.42.0.1"},
		{"node to its node port", node, "192.168.50.1:30080", "10.42.0.1"},
		// From outside the cluster CIDR: masqueraded, so the reply
		// comes back through the node.
		{"outside to cluster IP", outside, "10.43.0.20:80", "10.42.0.1"},
		{"outside to node port", outside, "192.168.50.1:30080", "10.42.0.1"},
		// Hairpin: the pod reaches itself through its service.
		{"pod to itself", pod, "10.43.0.20:80", "10.42.0.1"},
	} {
		if from, by, err := askService(t, tc.from, tc.addr); err != nil || from != tc.wantFrom || by != "10.42.0.5" {
			t.Errorf("%s: pod %s saw %q, err %v; want 10.42.0.5 to see %s", tc.name, by, from, err, tc.wantFrom)
		}
	}
	// Random pick: both endpoints answer (all 40 on one has odds 2^-39).
	seen := map[string]int{}
	for range 40 {
		_, by, err := askService(t, node, "10.43.0.21:80")
		if err != nil {
			t.Fatal(err)
		}
		seen[by]++
	}
	if seen["10.42.0.5"] == 0 || seen["10.42.0.6"] == 0 {
		t.Errorf("random pick over two endpoints answered %v", seen)
	}
	// Session affinity: one client, one endpoint.
	seen = map[string]int{}
	for range 20 {
		_, by, err := askService(t, outside, "10.43.0.40:80")
		if err != nil {
			t.Fatal(err)
		}
		seen[by]++
	}
	if len(seen) != 1 {
		t.Errorf("ClientIP affinity spread one client over %v", seen)
	}
	// UDP, to a named target port; and refused without endpoints.
	if got, err := node.askUDP(t, "10.43.0.10:53"); err != nil || !strings.HasPrefix(got, "10.42.0.1:") {
		t.Errorf("UDP through the cluster IP: answer %q, err %v", got, err)
	}
	if _, err := pod.askUDP(t, "10.43.0.11:53"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("UDP from a pod to a service without endpoints: err %v, want connection refused", err)
	}
	// From the node itself the rejected datagram fails its send.
	if _, err := node.askUDP(t, "10.43.0.11:53"); !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("UDP from the node to a service without endpoints: err %v, want it refused", err)
	}
	// No endpoints: refused at once, from everywhere.
	for _, tc := range []struct {
		from *testNetns
		addr string
	}{{node, "10.43.0.30:80"}, {pod, "10.43.0.30:80"}, {outside, "10.43.0.30:80"}, {outside, "192.168.50.1:30081"}} {
		start := time.Now()
		_, _, err := askService(t, tc.from, tc.addr)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("%s -> %s without endpoints: err %v, want connection refused", tc.from.Name, tc.addr, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("refusal took %v", d)
		}
	}
}

func TestResyncDetectsDrift(t *testing.T) {
	ns := newTestNetns(t)
	a := ns.applier()
	services, slices := testObjects(ready("10.42.0.5"))
	m := buildModel(services, slices, testCIDR)
	if err := a.replace(m); err != nil {
		t.Fatal(err)
	}
	// A service added since: resync adds it in place.
	extra := buildModel(append(services, service("late", "10.43.0.99", port("http", v1.ProtocolTCP, 80, 0))),
		append(slices, slice("late", "late-1", map[string]int32{"http": 8080}, v1.ProtocolTCP, ready("10.42.0.99"))), testCIDR)
	if err := a.resync(m, extra); err != nil {
		t.Fatalf("resync with a new service: %v", err)
	}
	if !strings.Contains(ns.listTable(t).Sets[mapServiceIPs], "10.43.0.99") {
		t.Errorf("resync did not add the new service's element")
	}
	// Someone deleted one of our chains: resync refuses, replace repairs.
	ns.mustExec(t, "nft", "flush table ip k1s-proxy; delete chain ip k1s-proxy "+epChain("default/web/tcp/http", "10.42.0.5/8080"))
	if err := a.resync(extra, extra); !errors.Is(err, errDrift) {
		t.Fatalf("resync after drift: err %v, want errDrift", err)
	}
	if err := a.replace(extra); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ns.listTable(t).Sets[mapServiceIPs], "10.43.0.20") {
		t.Errorf("replace did not restore the map")
	}
}

func TestUpdateAffinityTimeout(t *testing.T) {
	ns := newTestNetns(t)
	a := ns.applier()
	build := func(timeout int32, affinity bool) model {
		s := affinityService()
		s.Spec.SessionAffinityConfig = &v1.SessionAffinityConfig{ClientIP: &v1.ClientIPConfig{TimeoutSeconds: ptr(timeout)}}
		if !affinity {
			s.Spec.SessionAffinity = v1.ServiceAffinityNone
		}
		sl := slice("sticky", "sticky-1", map[string]int32{"http": 8080}, v1.ProtocolTCP, ready("10.42.0.5"), ready("10.42.0.6"))
		return buildModel([]*v1.Service{s}, []*discoveryv1.EndpointSlice{sl}, testCIDR)
	}
	steps := []model{build(60, true), build(120, true), build(120, false), build(30, true)}
	if err := a.replace(steps[0]); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(steps); i++ {
		if err := a.update(changesBetween(steps[i-1], steps[i])); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		got := ns.listTable(t)
		ns2 := newTestNetns(t)
		if err := ns2.applier().replace(steps[i]); err != nil {
			t.Fatal(err)
		}
		if want := ns2.listTable(t); got.String() != want.String() {
			t.Errorf("step %d: updated table\n%s\nwant, as written whole,\n%s", i, got, want)
		}
	}
}

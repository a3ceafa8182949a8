package podnetwork

import (
	"fmt"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testNode(name, cidr, ip string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{PodCIDR: cidr}}
	if cidr != "" {
		n.Spec.PodCIDRs = []string{cidr}
	}
	if ip != "" {
		n.Status.Addresses = []corev1.NodeAddress{
			{Type: corev1.NodeHostName, Address: name},
			{Type: corev1.NodeInternalIP, Address: ip},
		}
	}
	return n
}

func render(rs map[netip.Prefix]route) string {
	var s string
	for _, p := range []string{"10.42.0.0/24", "10.42.1.0/24", "10.42.2.0/24", "10.42.3.0/24"} {
		if r, ok := rs[netip.MustParsePrefix(p)]; ok {
			s += fmt.Sprintf("%s>%s ", r.dst, r.gw)
		}
	}
	return s
}

func TestDesiredRoutes(t *testing.T) {
	tests := []struct {
		name  string
		nodes []*corev1.Node
		want  string
	}{
		{"self skipped", []*corev1.Node{testNode("a", "10.42.0.0/24", "192.168.1.1"), testNode("b", "10.42.1.0/24", "192.168.1.2")}, "10.42.1.0/24>192.168.1.2 "},
		{"no cidr", []*corev1.Node{testNode("b", "", "192.168.1.2")}, ""},
		{"no ip", []*corev1.Node{testNode("b", "10.42.1.0/24", "")}, ""},
		{"ipv6 ignored", []*corev1.Node{testNode("b", "fd00::/64", "fd01::1"), testNode("c", "10.42.2.0/24", "fd01::2")}, ""},
		{"unmasked cidr", []*corev1.Node{testNode("b", "10.42.1.7/24", "192.168.1.2")}, "10.42.1.0/24>192.168.1.2 "},
		{"loopback gateway", []*corev1.Node{testNode("b", "10.42.1.0/24", "127.0.0.1")}, ""},
		{"gateway inside range", []*corev1.Node{testNode("b", "10.42.1.0/24", "10.42.1.1")}, ""},
		{"duplicate range: smaller name wins", []*corev1.Node{testNode("d", "10.42.3.0/24", "192.168.1.4"), testNode("c", "10.42.3.0/24", "192.168.1.3")}, "10.42.3.0/24>192.168.1.3 "},
		{"several", []*corev1.Node{testNode("c", "10.42.2.0/24", "192.168.1.3"), testNode("b", "10.42.1.0/24", "192.168.1.2")}, "10.42.1.0/24>192.168.1.2 10.42.2.0/24>192.168.1.3 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := render(desiredRoutes(tt.nodes, "a")); got != tt.want {
				t.Errorf("routes = %q, want %q", got, tt.want)
			}
		})
	}
}

func r(dst, gw string) route {
	return route{dst: netip.MustParsePrefix(dst), gw: netip.MustParseAddr(gw)}
}

func TestRouteChanges(t *testing.T) {
	desired := map[netip.Prefix]route{}
	for _, x := range []route{r("10.42.1.0/24", "192.168.1.2"), r("10.42.2.0/24", "192.168.1.3")} {
		desired[x.dst] = x
	}
	tests := []struct {
		name     string
		ours     []route
		foreign  []string
		put, del string
	}{
		{name: "empty table", put: "[10.42.1.0/24>192.168.1.2 10.42.2.0/24>192.168.1.3]", del: "[]"},
		{name: "in step", ours: []route{r("10.42.1.0/24", "192.168.1.2"), r("10.42.2.0/24", "192.168.1.3")}, put: "[]", del: "[]"},
		{name: "gateway changed: replaced, not deleted", ours: []route{r("10.42.1.0/24", "192.168.1.9"), r("10.42.2.0/24", "192.168.1.3")}, put: "[10.42.1.0/24>192.168.1.2]", del: "[]"},
		{name: "node gone", ours: []route{r("10.42.1.0/24", "192.168.1.2"), r("10.42.2.0/24", "192.168.1.3"), r("10.42.5.0/24", "192.168.1.5")}, put: "[]", del: "[10.42.5.0/24>192.168.1.5]"},
		{name: "foreign route wins", ours: []route{r("10.42.2.0/24", "192.168.1.3")}, foreign: []string{"10.42.1.0/24", "10.42.2.0/24"}, put: "[]", del: "[10.42.2.0/24>192.168.1.3]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			foreign := map[netip.Prefix]bool{}
			for _, f := range tt.foreign {
				foreign[netip.MustParsePrefix(f)] = true
			}
			put, del := routeChanges(tt.ours, foreign, desired)
			if got := fmt.Sprint(put); got != tt.put {
				t.Errorf("put = %s, want %s", got, tt.put)
			}
			if got := fmt.Sprint(del); got != tt.del {
				t.Errorf("del = %s, want %s", got, tt.del)
			}
		})
	}
}

func (x route) String() string { return x.dst.String() + ">" + x.gw.String() }

package kubelet

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"
)

func renderDNS(c *runtimeapi.DNSConfig) string {
	return fmt.Sprintf("servers=%s search=%s options=%s",
		strings.Join(c.GetServers(), ","), strings.Join(c.GetSearches(), ","), strings.Join(c.GetOptions(), ","))
}

func TestParseResolvConf(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "servers= search= options="},
		{"typical", "# generated\nnameserver 192.168.1.1\nnameserver 8.8.8.8 # google\nsearch example.com. corp.example.com\noptions edns0 ndots:2\n",
			"servers=192.168.1.1,8.8.8.8 search=example.com,corp.example.com options=edns0,ndots:2"},
		{"last search wins, domain ignored", "domain a.example\nsearch b.example\nsearch c.example .\n", "servers= search=c.example options="},
		{"options merged by name", "options ndots:2 timeout:1\noptions ndots:3\n", "servers= search= options=ndots:3,timeout:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := renderDNS(parseResolvConf([]byte(tt.in))); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestPodDNS(t *testing.T) {
	host := &runtimeapi.DNSConfig{
		Servers: []string{"192.168.1.1"}, Searches: []string{"example.com"}, Options: []string{"edns0"},
	}
	clusterDNS := []string{"10.43.0.10"}
	pod := func(policy corev1.DNSPolicy, hostNet bool, dc *corev1.PodDNSConfig) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
			Spec:       corev1.PodSpec{DNSPolicy: policy, HostNetwork: hostNet, DNSConfig: dc},
		}
	}
	cluster := "servers=10.43.0.10 search=ns.svc.cluster.local,svc.cluster.local,cluster.local,example.com options=ndots:5"
	node := "servers=192.168.1.1 search=example.com options=edns0"
	long := make([]string, 40)
	for i := range long {
		long[i] = fmt.Sprintf("s%d.example", i)
	}
	tests := []struct {
		name       string
		pod        *corev1.Pod
		clusterDNS []string
		want       string
	}{
		{"ClusterFirst", pod(corev1.DNSClusterFirst, false, nil), clusterDNS, cluster},
		{"empty policy is ClusterFirst", pod("", false, nil), clusterDNS, cluster},
		{"ClusterFirst without cluster DNS falls back to Default", pod(corev1.DNSClusterFirst, false, nil), nil, node},
		{"ClusterFirst of a hostNetwork pod is Default", pod(corev1.DNSClusterFirst, true, nil), clusterDNS, node},
		{"ClusterFirstWithHostNet", pod(corev1.DNSClusterFirstWithHostNet, true, nil), clusterDNS, cluster},
		{"ClusterFirstWithHostNet without hostNetwork", pod(corev1.DNSClusterFirstWithHostNet, false, nil), clusterDNS, cluster},
		{"Default", pod(corev1.DNSDefault, false, nil), clusterDNS, node},
		{"None without dnsConfig", pod(corev1.DNSNone, false, nil), clusterDNS, "servers= search= options="},
		{"None with dnsConfig", pod(corev1.DNSNone, false, &corev1.PodDNSConfig{
			Nameservers: []string{"1.1.1.1"}, Searches: []string{"a.example"},
			Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2")}, {Name: "rotate"}},
		}), clusterDNS, "servers=1.1.1.1 search=a.example options=ndots:2,rotate"},
		{"ClusterFirst merged with dnsConfig", pod(corev1.DNSClusterFirst, false, &corev1.PodDNSConfig{
			Nameservers: []string{"10.43.0.10", "1.1.1.1"}, Searches: []string{"cluster.local", "b.example"},
			Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("1")}, {Name: "edns0"}},
		}), clusterDNS, "servers=10.43.0.10,1.1.1.1 search=ns.svc.cluster.local,svc.cluster.local,cluster.local,example.com,b.example options=ndots:1,edns0"},
		{"Default merged with dnsConfig", pod(corev1.DNSDefault, false, &corev1.PodDNSConfig{
			Options: []corev1.PodDNSConfigOption{{Name: "edns0"}, {Name: "timeout", Value: ptr.To("3")}},
		}), clusterDNS, "servers=192.168.1.1 search=example.com options=edns0,timeout:3"},
		{"nameservers capped at 3", pod(corev1.DNSNone, false, &corev1.PodDNSConfig{
			Nameservers: []string{"1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4"},
		}), clusterDNS, "servers=1.1.1.1,1.1.1.2,1.1.1.3 search= options="},
		{"searches capped at 32", pod(corev1.DNSNone, false, &corev1.PodDNSConfig{Searches: long}), clusterDNS,
			"servers= search=" + strings.Join(long[:32], ",") + " options="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := renderDNS(podDNS(tt.pod, tt.clusterDNS, "cluster.local", host)); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

package kubelet

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const hostsHeader = "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
	"fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"

func TestManagedHosts(t *testing.T) {
	aliases := []corev1.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"foo.local", "bar.local"}}}
	tests := []struct {
		name string
		spec corev1.PodSpec
		ips  []string
		want string
	}{
		{"pod name", corev1.PodSpec{}, []string{"10.42.1.5"}, hostsHeader + "10.42.1.5\tweb-0\n"},
		{"hostname", corev1.PodSpec{Hostname: "db"}, []string{"10.42.1.5"}, hostsHeader + "10.42.1.5\tdb\n"},
		{"subdomain gives the FQDN", corev1.PodSpec{Hostname: "db", Subdomain: "sts"}, []string{"10.42.1.5"},
			hostsHeader + "10.42.1.5\tdb.sts.ns.svc.cluster.local\tdb\n"},
		{"dual stack", corev1.PodSpec{}, []string{"10.42.1.5", "fd00::5"}, hostsHeader + "10.42.1.5\tweb-0\nfd00::5\tweb-0\n"},
		{"no IP yet", corev1.PodSpec{}, nil, hostsHeader},
		{"host aliases", corev1.PodSpec{HostAliases: aliases}, []string{"10.42.1.5"},
			hostsHeader + "10.42.1.5\tweb-0\n\n# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "ns"}, Spec: tt.spec}
			if got := string(managedHosts(pod, tt.ips, "cluster.local")); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestNodeHosts(t *testing.T) {
	aliases := []corev1.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"foo.local"}}}
	tests := []struct {
		name, node string
		aliases    []corev1.HostAlias
		want       string
	}{
		{"node file", "127.0.0.1 localhost\n192.168.1.7 node1\n", nil,
			"# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n192.168.1.7 node1\n"},
		{"no final newline, aliases", "127.0.0.1 localhost", aliases,
			"# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n\n# Entries added by HostAliases.\n10.1.2.3\tfoo.local\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(nodeHosts([]byte(tt.node), tt.aliases)); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

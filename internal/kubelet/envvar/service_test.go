package envvar

import (
	"sort"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func svc(ns, name, ip string, ports ...v1.ServicePort) *v1.Service {
	return &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       v1.ServiceSpec{ClusterIP: ip, Ports: ports},
	}
}

func renderMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + m[k]
	}
	return strings.Join(keys, "\n")
}

func TestServiceEnv(t *testing.T) {
	kube := svc("default", "kubernetes", "10.43.0.1", v1.ServicePort{Name: "https", Port: 443, Protocol: v1.ProtocolTCP})
	kubeVars := `KUBERNETES_PORT=tcp://10.43.0.1:443
KUBERNETES_PORT_443_TCP=tcp://10.43.0.1:443
KUBERNETES_PORT_443_TCP_ADDR=10.43.0.1
KUBERNETES_PORT_443_TCP_PORT=443
KUBERNETES_PORT_443_TCP_PROTO=tcp
KUBERNETES_SERVICE_HOST=10.43.0.1
KUBERNETES_SERVICE_PORT=443
KUBERNETES_SERVICE_PORT_HTTPS=443`
	redis := svc("app", "redis-master", "10.43.0.11", v1.ServicePort{Port: 6379})
	redisVars := `REDIS_MASTER_PORT=tcp://10.43.0.11:6379
REDIS_MASTER_PORT_6379_TCP=tcp://10.43.0.11:6379
REDIS_MASTER_PORT_6379_TCP_ADDR=10.43.0.11
REDIS_MASTER_PORT_6379_TCP_PORT=6379
REDIS_MASTER_PORT_6379_TCP_PROTO=tcp
REDIS_MASTER_SERVICE_HOST=10.43.0.11
REDIS_MASTER_SERVICE_PORT=6379`
	tests := []struct {
		name     string
		services []*v1.Service
		ns       string
		links    bool
		want     string
	}{
		{"kubernetes only, links off", []*v1.Service{kube, redis}, "app", false, kubeVars},
		{"namespace services with links", []*v1.Service{kube, redis}, "app", true, kubeVars + "\n" + redisVars},
		{"other namespaces ignored", []*v1.Service{redis, svc("other", "db", "10.43.0.12", v1.ServicePort{Port: 5432})}, "app", true, redisVars},
		{"headless and ExternalName skipped", []*v1.Service{
			svc("app", "headless", "None", v1.ServicePort{Port: 80}),
			svc("app", "ext", ""),
		}, "app", true, ""},
		{"default namespace pod", []*v1.Service{kube}, "default", true, kubeVars},
		{"namespace's own kubernetes service shadows default's", []*v1.Service{
			kube, svc("app", "kubernetes", "10.43.0.99", v1.ServicePort{Port: 80}),
		}, "app", true, `KUBERNETES_PORT=tcp://10.43.0.99:80
KUBERNETES_PORT_80_TCP=tcp://10.43.0.99:80
KUBERNETES_PORT_80_TCP_ADDR=10.43.0.99
KUBERNETES_PORT_80_TCP_PORT=80
KUBERNETES_PORT_80_TCP_PROTO=tcp
KUBERNETES_SERVICE_HOST=10.43.0.99
KUBERNETES_SERVICE_PORT=80`},
		{"several ports, udp, ipv6", []*v1.Service{svc("app", "dns", "fd00::a",
			v1.ServicePort{Name: "dns", Port: 53, Protocol: v1.ProtocolUDP},
			v1.ServicePort{Name: "dns-tcp", Port: 53, Protocol: v1.ProtocolTCP})}, "app", true,
			`DNS_PORT=udp://[fd00::a]:53
DNS_PORT_53_TCP=tcp://[fd00::a]:53
DNS_PORT_53_TCP_ADDR=fd00::a
DNS_PORT_53_TCP_PORT=53
DNS_PORT_53_TCP_PROTO=tcp
DNS_PORT_53_UDP=udp://[fd00::a]:53
DNS_PORT_53_UDP_ADDR=fd00::a
DNS_PORT_53_UDP_PORT=53
DNS_PORT_53_UDP_PROTO=udp
DNS_SERVICE_HOST=fd00::a
DNS_SERVICE_PORT=53
DNS_SERVICE_PORT_DNS=53
DNS_SERVICE_PORT_DNS_TCP=53`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := renderMap(ServiceEnv(tt.services, tt.ns, tt.links)); got != tt.want {
				t.Errorf("env:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

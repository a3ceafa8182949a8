package registry

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// serviceTestService returns a defaulted ClusterIP service changed by mutate
// (applied before defaulting).
func serviceTestService(name string, mutate func(*corev1.Service)) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Port: 80}},
		},
	}
	if mutate != nil {
		mutate(svc)
	}
	defaultService(svc, corev1.IPv4Protocol)
	return svc
}

func TestServiceDefaults(t *testing.T) {
	svc := serviceTestService("web", nil)
	checks := []struct {
		name      string
		got, want any
	}{
		{"type", svc.Spec.Type, corev1.ServiceTypeClusterIP},
		{"sessionAffinity", svc.Spec.SessionAffinity, corev1.ServiceAffinityNone},
		{"protocol", svc.Spec.Ports[0].Protocol, corev1.ProtocolTCP},
		{"targetPort", svc.Spec.Ports[0].TargetPort, intstr.FromInt32(80)},
		{"ipFamilies", len(svc.Spec.IPFamilies) == 1 && svc.Spec.IPFamilies[0] == corev1.IPv4Protocol, true},
		{"ipFamilyPolicy", *svc.Spec.IPFamilyPolicy, corev1.IPFamilyPolicySingleStack},
		{"internalTrafficPolicy", *svc.Spec.InternalTrafficPolicy, corev1.ServiceInternalTrafficPolicyCluster},
		{"externalTrafficPolicy", svc.Spec.ExternalTrafficPolicy, corev1.ServiceExternalTrafficPolicy("")},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	np := serviceTestService("np", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.ClusterIP = "10.43.0.10"
		s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	})
	if np.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster {
		t.Errorf("LB externalTrafficPolicy = %q, want Cluster", np.Spec.ExternalTrafficPolicy)
	}
	if np.Spec.AllocateLoadBalancerNodePorts == nil || !*np.Spec.AllocateLoadBalancerNodePorts {
		t.Errorf("LB allocateLoadBalancerNodePorts not defaulted to true")
	}
	if !slices.Equal(np.Spec.ClusterIPs, []string{"10.43.0.10"}) {
		t.Errorf("clusterIPs = %v, want mirror of clusterIP", np.Spec.ClusterIPs)
	}
	if c := np.Spec.SessionAffinityConfig; c == nil || *c.ClientIP.TimeoutSeconds != 10800 {
		t.Errorf("sessionAffinityConfig = %+v, want 10800s", c)
	}
	if err := validateService(np, corev1.IPv4Protocol).ToAggregate(); err != nil {
		t.Errorf("defaulted LB service invalid: %v", err)
	}

	ext := serviceTestService("ext", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeExternalName
		s.Spec.ExternalName = "example.com"
	})
	if ext.Spec.IPFamilies != nil || ext.Spec.IPFamilyPolicy != nil || ext.Spec.InternalTrafficPolicy != nil {
		t.Errorf("ExternalName got IP fields: %+v", ext.Spec)
	}
}

func TestServiceValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*corev1.Service)
		want   []string
	}{
		{"valid", nil, nil},
		{"name must be a DNS-1035 label", func(s *corev1.Service) { s.Name = "1web" }, []string{"metadata.name: Invalid value"}},
		{"no ports", func(s *corev1.Service) { s.Spec.Ports = nil }, []string{"spec.ports: Required value"}},
		{"headless without ports", func(s *corev1.Service) { s.Spec.Ports, s.Spec.ClusterIP = nil, "None" }, nil},
		{"port zero", func(s *corev1.Service) { s.Spec.Ports[0].Port = 0; s.Spec.Ports[0].TargetPort = intstr.FromInt32(80) },
			[]string{"spec.ports[0].port: Invalid value"}},
		{"names required with several ports", func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80}, {Port: 443}}
		}, []string{"spec.ports[1].name: Required value"}},
		{"duplicate port names", func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80}, {Name: "http", Port: 443}}
		}, []string{"spec.ports[1].name: Duplicate value"}},
		{"duplicate ports", func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "a", Port: 80}, {Name: "b", Port: 80}}
		}, []string{"spec.ports[1]: Duplicate value"}},
		{"same port two protocols", func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "a", Port: 53}, {Name: "b", Port: 53, Protocol: corev1.ProtocolUDP}}
		}, nil},
		{"protocol", func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "HTTP" }, []string{"spec.ports[0].protocol: Unsupported value"}},
		{"targetPort name", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("Not_A_Name") },
			[]string{"spec.ports[0].targetPort: Invalid value"}},
		{"nodePort on ClusterIP", func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30001 }, []string{"spec.ports[0].nodePort: Forbidden"}},
		{"type", func(s *corev1.Service) { s.Spec.Type = "Magic" }, []string{"spec.type: Unsupported value"}},
		{"bad clusterIP", func(s *corev1.Service) { s.Spec.ClusterIP = "10.43.0.300" }, []string{"spec.clusterIPs[0]: Invalid value"}},
		{"clusterIPs mismatch", func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.43.0.5", []string{"10.43.0.6"}
		}, []string{"spec.clusterIPs: Invalid value"}},
		{"headless NodePort", func(s *corev1.Service) { s.Spec.Type, s.Spec.ClusterIP = corev1.ServiceTypeNodePort, "None" },
			[]string{"spec.clusterIPs[0]: Invalid value"}},
		{"IPv6 family on IPv4 cluster", func(s *corev1.Service) { s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol} },
			[]string{"spec.ipFamilies[0]: Invalid value"}},
		{"require dual stack", func(s *corev1.Service) { s.Spec.IPFamilyPolicy = new(corev1.IPFamilyPolicyRequireDualStack) },
			[]string{"spec.ipFamilyPolicy: Invalid value"}},
		{"selector", func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "not valid!"} }, []string{"spec.selector: Invalid value"}},
		{"externalIPs", func(s *corev1.Service) { s.Spec.ExternalIPs = []string{"1.2.3.4", "nope"} }, []string{"spec.externalIPs[1]: Invalid value"}},
		{"sessionAffinity", func(s *corev1.Service) { s.Spec.SessionAffinity = "Sticky" }, []string{"spec.sessionAffinity: Unsupported value"}},
		{"affinity timeout", func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: new(int32(100000))}}
		}, []string{"spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value"}},
		{"externalTrafficPolicy on ClusterIP", func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal },
			[]string{"spec.externalTrafficPolicy: Invalid value"}},
		{"loadBalancerSourceRanges on ClusterIP", func(s *corev1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8"} },
			[]string{"spec.loadBalancerSourceRanges: Forbidden"}},
		{"healthCheckNodePort without Local", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.HealthCheckNodePort = 30100
		}, []string{"spec.healthCheckNodePort: Invalid value"}},
		{"ExternalName", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "db.example.com."
		}, nil},
		{"ExternalName missing name", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName },
			[]string{"spec.externalName: Required value"}},
		{"ExternalName with clusterIP", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName, s.Spec.ClusterIP = corev1.ServiceTypeExternalName, "db.example.com", "10.43.0.5"
		}, []string{"spec.clusterIPs: Forbidden"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			coreTestCheckErrs(t, validateService(serviceTestService("web", tt.mutate), corev1.IPv4Protocol), tt.want)
		})
	}
}

func TestServicePortMessage(t *testing.T) {
	svc := serviceTestService("web", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromInt32(80) })
	svc.Spec.Ports[0].Port = 0
	got := validateService(svc, corev1.IPv4Protocol).ToAggregate().Error()
	if want := "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}

func TestServiceUpdate(t *testing.T) {
	r := serviceResource(Options{ServiceCIDR: netip.MustParsePrefix("10.43.0.0/16")})
	old := serviceTestService("web", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.ClusterIP = "10.43.0.20"
		s.Spec.Ports[0].NodePort = 30080
	})
	tests := []struct {
		name   string
		mutate func(*corev1.Service)
		want   []string
		check  func(t *testing.T, s *corev1.Service)
	}{
		{"re-apply without allocated values", func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "", nil
			s.Spec.Ports[0].NodePort = 0
		}, nil, func(t *testing.T, s *corev1.Service) {
			if s.Spec.ClusterIP != "10.43.0.20" || s.Spec.Ports[0].NodePort != 30080 {
				t.Errorf("allocated values not kept: %v %d", s.Spec.ClusterIP, s.Spec.Ports[0].NodePort)
			}
		}},
		{"clusterIP changed", func(s *corev1.Service) { s.Spec.ClusterIP = "10.43.0.21" },
			[]string{"spec.clusterIPs[0]: Invalid value"}, nil},
		{"to ClusterIP drops node ports", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeClusterIP
		}, nil, func(t *testing.T, s *corev1.Service) {
			if s.Spec.Ports[0].NodePort != 0 || s.Spec.ExternalTrafficPolicy != "" {
				t.Errorf("nodePort %d / externalTrafficPolicy %q not dropped", s.Spec.Ports[0].NodePort, s.Spec.ExternalTrafficPolicy)
			}
		}},
		{"to ExternalName drops clusterIP", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "example.com"
		}, nil, func(t *testing.T, s *corev1.Service) {
			if s.Spec.ClusterIP != "" || s.Spec.ClusterIPs != nil || s.Spec.IPFamilies != nil {
				t.Errorf("clusterIP fields not dropped: %+v", s.Spec)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := old.DeepCopy()
			tt.mutate(svc)
			r.Default(svc)
			r.PrepareForUpdate(svc, old)
			coreTestCheckErrs(t, r.ValidateUpdate(svc, old), tt.want)
			if tt.check != nil {
				tt.check(t, svc)
			}
		})
	}
}

// serviceTestAllocator returns an allocator over a /28 (14 usable
// addresses) and ports 30000-30004, preloaded with stored.
func serviceTestAllocator(stored ...corev1.Service) *serviceAllocator {
	return newServiceAllocator(Options{
		ServiceCIDR: netip.MustParsePrefix("10.43.0.0/28"),
		NodePortMin: 30000, NodePortMax: 30004,
		ListServices: func(context.Context) ([]corev1.Service, error) { return stored, nil },
	})
}

// serviceTestInvalid returns the "path: message" of an Invalid error.
func serviceTestInvalid(t *testing.T, err error) string {
	t.Helper()
	var status *apierrors.StatusError
	if !errors.As(err, &status) || !apierrors.IsInvalid(err) {
		t.Fatalf("error = %v, want an Invalid StatusError", err)
	}
	return err.Error()
}

func TestServiceAllocateClusterIP(t *testing.T) {
	ctx := t.Context()
	stored := *serviceTestService("dns", func(s *corev1.Service) { s.Spec.ClusterIP = "10.43.0.10" })
	a := serviceTestAllocator(stored)

	// Dynamic allocation: in range, not the stored one, mirrored into clusterIPs.
	svc := serviceTestService("web", nil)
	if _, err := a.Allocate(ctx, svc, nil); err != nil {
		t.Fatalf("allocate: %v", err)
	}
	ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
	if err != nil || !a.inRange(ip) || svc.Spec.ClusterIP == "10.43.0.10" || !slices.Equal(svc.Spec.ClusterIPs, []string{svc.Spec.ClusterIP}) {
		t.Errorf("allocated %q (%v), clusterIPs %v", svc.Spec.ClusterIP, err, svc.Spec.ClusterIPs)
	}

	// Requested, free and in range (the dynamic one above is random).
	free := "10.43.0.1"
	if svc.Spec.ClusterIP == free {
		free = "10.43.0.2"
	}
	req := serviceTestService("req", func(s *corev1.Service) { s.Spec.ClusterIP = free })
	if _, err := a.Allocate(ctx, req, nil); err != nil {
		t.Errorf("requested free IP: %v", err)
	}

	// Requested but taken (by the service loaded from storage).
	dup := serviceTestService("dup", func(s *corev1.Service) { s.Spec.ClusterIP = "10.43.0.10" })
	_, err = a.Allocate(ctx, dup, nil)
	if msg := serviceTestInvalid(t, err); !strings.Contains(msg, "spec.clusterIPs: Invalid value") ||
		!strings.Contains(msg, "failed to allocate IP 10.43.0.10: provided IP is already allocated") {
		t.Errorf("duplicate error = %q", msg)
	}

	// Out of range, and the broadcast address.
	for _, bad := range []string{"10.44.0.1", "10.43.0.15", "10.43.0.0"} {
		out := serviceTestService("out", func(s *corev1.Service) { s.Spec.ClusterIP = bad })
		_, err = a.Allocate(ctx, out, nil)
		if msg := serviceTestInvalid(t, err); !strings.Contains(msg, "is not in the valid range. The range of valid IPs is 10.43.0.0/28") {
			t.Errorf("%s: error = %q", bad, msg)
		}
	}

	// Headless: nothing allocated.
	before := len(a.ips)
	headless := serviceTestService("headless", func(s *corev1.Service) { s.Spec.ClusterIP = "None" })
	if _, err := a.Allocate(ctx, headless, nil); err != nil || len(a.ips) != before ||
		!slices.Equal(headless.Spec.ClusterIPs, []string{"None"}) {
		t.Errorf("headless: err %v, %d -> %d IPs, clusterIPs %v", err, before, len(a.ips), headless.Spec.ClusterIPs)
	}

	// Release, then the address can be requested again.
	a.Release(ctx, req)
	again := serviceTestService("again", func(s *corev1.Service) { s.Spec.ClusterIP = free })
	if _, err := a.Allocate(ctx, again, nil); err != nil {
		t.Errorf("reuse after release: %v", err)
	}
}

func TestServiceAllocateExhaustionAndRollback(t *testing.T) {
	ctx := t.Context()
	a := serviceTestAllocator()
	var rollbacks []func()
	for i := range 14 {
		svc := serviceTestService("s"+string(rune('a'+i)), nil)
		rb, err := a.Allocate(ctx, svc, nil)
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		rollbacks = append(rollbacks, rb)
	}
	full := serviceTestService("full", nil)
	if _, err := a.Allocate(ctx, full, nil); !apierrors.IsInternalError(err) {
		t.Errorf("allocation in a full range: err = %v, want internal error", err)
	}
	rollbacks[3]()
	if _, err := a.Allocate(ctx, full, nil); err != nil {
		t.Errorf("allocation after a rollback: %v", err)
	}
}

func TestServiceAllocateNodePorts(t *testing.T) {
	ctx := t.Context()
	stored := *serviceTestService("old", func(s *corev1.Service) {
		s.Spec.Type, s.Spec.ClusterIP = corev1.ServiceTypeNodePort, "10.43.0.2"
		s.Spec.Ports[0].NodePort = 30000
	})
	a := serviceTestAllocator(stored)

	dns := serviceTestService("dns", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports = []corev1.ServicePort{{Name: "tcp", Port: 53}, {Name: "udp", Port: 53, Protocol: corev1.ProtocolUDP}}
	})
	if _, err := a.Allocate(ctx, dns, nil); err != nil {
		t.Fatalf("allocate: %v", err)
	}
	np := dns.Spec.Ports[0].NodePort
	if np < 30001 || np > 30004 || dns.Spec.Ports[1].NodePort != np {
		t.Errorf("node ports = %d, %d; want one shared port in 30001-30004", np, dns.Spec.Ports[1].NodePort)
	}

	taken := serviceTestService("taken", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = 30000
	})
	_, err := a.Allocate(ctx, taken, nil)
	if msg := serviceTestInvalid(t, err); !strings.Contains(msg, "spec.ports[0].nodePort: Invalid value: 30000: provided port is already allocated") {
		t.Errorf("taken error = %q", msg)
	}
	if len(a.ips) != 2 {
		t.Errorf("failed allocation kept its ClusterIP: %d IPs held, want 2", len(a.ips))
	}

	out := serviceTestService("out", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = 32000
	})
	_, err = a.Allocate(ctx, out, nil)
	if msg := serviceTestInvalid(t, err); !strings.Contains(msg, "provided port is not in the valid range. The range of valid ports is 30000-30004") {
		t.Errorf("out of range error = %q", msg)
	}

	// Update of the stored service: type ClusterIP frees its node port.
	updated := stored.DeepCopy()
	updated.Spec.Type = corev1.ServiceTypeClusterIP
	updated.Spec.Ports[0].NodePort = 0
	updated.Spec.ExternalTrafficPolicy = ""
	rollback, err := a.Allocate(ctx, updated, &stored)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if _, held := a.ports[30000]; held {
		t.Errorf("node port 30000 still held after the type change")
	}
	rollback()
	if a.ports[30000] != "default/old" {
		t.Errorf("rollback did not restore node port 30000: %q", a.ports[30000])
	}

	// A LoadBalancer with Local traffic gets a health check port too.
	lb := serviceTestService("lb", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	})
	if _, err := a.Allocate(ctx, lb, nil); err != nil {
		t.Fatalf("lb: %v", err)
	}
	if lb.Spec.HealthCheckNodePort == 0 || lb.Spec.Ports[0].NodePort == 0 || lb.Spec.HealthCheckNodePort == lb.Spec.Ports[0].NodePort {
		t.Errorf("lb ports: nodePort %d healthCheckNodePort %d", lb.Spec.Ports[0].NodePort, lb.Spec.HealthCheckNodePort)
	}

	// Delete releases everything.
	a.Release(ctx, lb)
	for _, p := range []int32{lb.Spec.HealthCheckNodePort, lb.Spec.Ports[0].NodePort} {
		if _, held := a.ports[p]; held {
			t.Errorf("port %d held after release", p)
		}
	}
}

func TestServiceAllocatorLoadError(t *testing.T) {
	calls := 0
	a := newServiceAllocator(Options{
		ServiceCIDR: netip.MustParsePrefix("10.43.0.0/16"), NodePortMin: 30000, NodePortMax: 32767,
		ListServices: func(context.Context) ([]corev1.Service, error) {
			calls++
			if calls == 1 {
				return nil, errors.New("storage down")
			}
			return nil, nil
		},
	})
	if _, err := a.Allocate(t.Context(), serviceTestService("web", nil), nil); err == nil {
		t.Errorf("allocation succeeded without state")
	}
	if _, err := a.Allocate(t.Context(), serviceTestService("web", nil), nil); err != nil {
		t.Errorf("second attempt: %v", err)
	}
}

func TestServiceAddrArithmetic(t *testing.T) {
	base := netip.MustParseAddr("10.43.0.1")
	for _, off := range []uint64{0, 1, 254, 255, 256, 65533} {
		ip := serviceAddrAdd(base, off)
		got, ok := serviceOffset(base, ip)
		if !ok || got != off {
			t.Errorf("offset(add(%d)) = %d, %v (ip %s)", off, got, ok, ip)
		}
	}
	if got := serviceAddrAdd(base, 255).String(); got != "10.43.1.0" {
		t.Errorf("10.43.0.1 + 255 = %s", got)
	}
	v6 := netip.MustParseAddr("fd00::1")
	if got := serviceAddrAdd(v6, 0x10000).String(); got != "fd00::1:1" {
		t.Errorf("fd00::1 + 0x10000 = %s", got)
	}
}

func TestServiceTable(t *testing.T) {
	tests := []struct {
		name string
		svc  *corev1.Service
		want []any
	}{
		{"cluster ip", serviceTestService("web", func(s *corev1.Service) { s.Spec.ClusterIP = "10.43.0.5" }),
			[]any{"ClusterIP", "10.43.0.5", "<none>", "80/TCP", "app=web"}},
		{"node port", serviceTestService("np", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ClusterIP = corev1.ServiceTypeNodePort, "10.43.0.6"
			s.Spec.Ports = []corev1.ServicePort{{Name: "a", Port: 80, NodePort: 30080}, {Name: "b", Port: 53, Protocol: corev1.ProtocolUDP}}
			s.Spec.Selector = nil
		}), []any{"NodePort", "10.43.0.6", "<none>", "80:30080/TCP,53/UDP", "<none>"}},
		{"pending lb", serviceTestService("lb", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ClusterIP = corev1.ServiceTypeLoadBalancer, "10.43.0.7"
		}), []any{"LoadBalancer", "10.43.0.7", "<pending>", "80/TCP", "app=web"}},
		{"lb with ingress", serviceTestService("lb", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ClusterIP = corev1.ServiceTypeLoadBalancer, "10.43.0.7"
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.168.1.10"}, {Hostname: "lb.example.com"}}
		}), []any{"LoadBalancer", "10.43.0.7", "192.168.1.10,lb.example.com", "80/TCP", "app=web"}},
		{"external name", serviceTestService("ext", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName, s.Spec.Ports = corev1.ServiceTypeExternalName, "db.example.com", nil
		}), []any{"ExternalName", "<none>", "db.example.com", "<none>", "app=web"}},
	}
	table := serviceTable()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row := table.Row(tt.svc)
			if len(row) != len(table.Columns) {
				t.Fatalf("row has %d cells for %d columns", len(row), len(table.Columns))
			}
			got := append(slices.Clone(row[:4]), row[5])
			if !slices.Equal(got, tt.want) {
				t.Errorf("row = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestServiceRollbackDoesNotStealReleasedPort(t *testing.T) {
	ctx := t.Context()
	stored := *serviceTestService("old", func(s *corev1.Service) {
		s.Spec.Type, s.Spec.ClusterIP = corev1.ServiceTypeNodePort, "10.43.0.2"
		s.Spec.Ports[0].NodePort = 30000
	})
	a := serviceTestAllocator(stored)
	updated := stored.DeepCopy()
	updated.Spec.Type = corev1.ServiceTypeClusterIP
	updated.Spec.Ports[0].NodePort = 0
	updated.Spec.ExternalTrafficPolicy = ""
	rollback, err := a.Allocate(ctx, updated, &stored)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	other := serviceTestService("other", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = 30000
	})
	if _, err := a.Allocate(ctx, other, nil); err != nil {
		t.Fatalf("claiming the freed port: %v", err)
	}
	rollback()
	if got := a.ports[30000]; got != "default/other" {
		t.Errorf("port 30000 owner after the failed update's rollback = %q, want default/other", got)
	}
}

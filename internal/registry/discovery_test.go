package registry

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func discoveryTestSlice(mutate func(*discoveryv1.EndpointSlice)) *discoveryv1.EndpointSlice {
	es := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-abc12", Namespace: "default"},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.42.0.5"}, NodeName: new("node-1"), Hostname: new("web-0")},
			{Addresses: []string{"10.42.0.6"}},
		},
		Ports: []discoveryv1.EndpointPort{{Name: new("http"), Port: new(int32(8080))}},
	}
	if mutate != nil {
		mutate(es)
	}
	return es
}

func TestEndpointSlice(t *testing.T) {
	r := groupTestResource(t, "discovery.k8s.io", "endpointslices")
	es := discoveryTestSlice(func(es *discoveryv1.EndpointSlice) {
		es.Ports = append(es.Ports, discoveryv1.EndpointPort{Port: new(int32(9090))})
	})
	r.Default(es)
	if p := es.Ports[1]; p.Name == nil || *p.Name != "" || p.Protocol == nil || *p.Protocol != corev1.ProtocolTCP {
		t.Errorf("defaulted port = %+v, want name \"\" and protocol TCP", p)
	}

	for _, tc := range []struct {
		name   string
		mutate func(*discoveryv1.EndpointSlice)
		want   []string
	}{
		{name: "valid"},
		{name: "no addressType", mutate: func(es *discoveryv1.EndpointSlice) { es.AddressType = "" },
			want: []string{"addressType: Required value"}},
		{name: "bad addressType", mutate: func(es *discoveryv1.EndpointSlice) { es.AddressType = "IPv5" },
			want: []string{"addressType: Unsupported value"}},
		{name: "no addresses", mutate: func(es *discoveryv1.EndpointSlice) { es.Endpoints[1].Addresses = nil },
			want: []string{"endpoints[1].addresses: Required value"}},
		{name: "IPv6 in an IPv4 slice", mutate: func(es *discoveryv1.EndpointSlice) { es.Endpoints[0].Addresses[0] = "fd00::5" },
			want: []string{"endpoints[0].addresses[0]: Invalid value"}},
		{name: "not an IP", mutate: func(es *discoveryv1.EndpointSlice) { es.Endpoints[0].Addresses[0] = "web.local" },
			want: []string{"endpoints[0].addresses[0]: Invalid value"}},
		{name: "loopback", mutate: func(es *discoveryv1.EndpointSlice) { es.Endpoints[0].Addresses[0] = "127.0.0.1" }},
		{name: "link-local", mutate: func(es *discoveryv1.EndpointSlice) { es.Endpoints[0].Addresses[0] = "169.254.1.1" },
			want: []string{"endpoints[0].addresses[0]: Invalid value"}},
		{name: "FQDN", mutate: func(es *discoveryv1.EndpointSlice) {
			es.AddressType = discoveryv1.AddressTypeFQDN
			es.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{"db.example.com"}}}
		}},
		{name: "bad hostname", mutate: func(es *discoveryv1.EndpointSlice) { es.Endpoints[0].Hostname = new("web.0") },
			want: []string{"endpoints[0].hostname: Invalid value"}},
		{name: "bad port name", mutate: func(es *discoveryv1.EndpointSlice) { es.Ports[0].Name = new("HTTP") },
			want: []string{"ports[0].name: Invalid value"}},
		{name: "duplicate port name", mutate: func(es *discoveryv1.EndpointSlice) { es.Ports = append(es.Ports, es.Ports[0]) },
			want: []string{"ports[1].name: Duplicate value"}},
		{name: "bad protocol", mutate: func(es *discoveryv1.EndpointSlice) { es.Ports[0].Protocol = new(corev1.Protocol("ICMP")) },
			want: []string{"ports[0].protocol: Unsupported value"}},
		{name: "bad appProtocol", mutate: func(es *discoveryv1.EndpointSlice) { es.Ports[0].AppProtocol = new("not a name") },
			want: []string{"ports[0].appProtocol: Invalid value"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es := discoveryTestSlice(tc.mutate)
			r.Default(es)
			groupTestCheckErrs(t, r.Validate(es), tc.want)
		})
	}

	old := discoveryTestSlice(nil)
	r.Default(old)
	upd := old.DeepCopy()
	upd.AddressType = discoveryv1.AddressTypeIPv6
	upd.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{"fd00::5"}}}
	groupTestCheckErrs(t, r.ValidateUpdate(upd, old), []string{"addressType: Invalid value"})

	wide := discoveryTestSlice(func(es *discoveryv1.EndpointSlice) {
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.42.0.7", "10.42.0.8"}})
	})
	groupTestCheckTable(t, r.Table, wide, "AddressType,Ports,Endpoints,Age",
		[]any{"IPv4", "8080", "10.42.0.5,10.42.0.6,10.42.0.7 + 1 more...", "<unknown>"})
	groupTestCheckTable(t, r.Table, &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4},
		"AddressType,Ports,Endpoints,Age", []any{"IPv4", "<unset>", "<unset>", "<unknown>"})
}

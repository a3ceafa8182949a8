package dns

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestForwarderBusy(t *testing.T) {
	up := startUpstream(t)
	f := newForwarder([]string{up.addr}, newMetrics(func() int { return 0 }))
	q := dns.Question{Name: "example.com.", Qtype: dns.TypeA, Qclass: dns.ClassINET}
	f.slots = make(chan struct{}) // no free slot
	if _, err := f.forward(t.Context(), q, false, false); !errors.Is(err, errBusy) {
		t.Errorf("forward with no free slot: %v, want errBusy", err)
	}
	f.slots = make(chan struct{}, 1)
	m, err := f.forward(t.Context(), q, false, false)
	if err != nil || len(m.Answer) != 1 {
		t.Fatalf("forward = %v, %v", m, err)
	}
	if len(f.slots) != 0 {
		t.Error("slot not given back")
	}
}

func TestUpstreams(t *testing.T) {
	got, err := parseUpstreams([]string{"1.2.3.4", "1.2.3.4:5353", "::1", "[fd00::1]:53", ""})
	if err != nil {
		t.Fatal(err)
	}
	if want := "1.2.3.4:53 1.2.3.4:5353 [::1]:53 [fd00::1]:53"; strings.Join(got, " ") != want {
		t.Errorf("parseUpstreams = %v, want %s", got, want)
	}
	if _, err := parseUpstreams([]string{"dns.example"}); err == nil {
		t.Error("a host name upstream was accepted")
	}
	path := t.TempDir() + "/resolv.conf"
	if err := os.WriteFile(path, []byte("# comment\nsearch example\nnameserver 192.0.2.53\nnameserver fd00::53\noptions ndots:2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err = resolvConfUpstreams(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "192.0.2.53:53 [fd00::53]:53"; strings.Join(got, " ") != want {
		t.Errorf("resolvConfUpstreams = %v, want %s", got, want)
	}
}

package dns

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

func msgWith(rcode int, answer, ns []string) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion("q.example.", dns.TypeA)
	m.Rcode = rcode
	for _, s := range answer {
		rr, err := dns.NewRR(s)
		if err != nil {
			panic(err)
		}
		m.Answer = append(m.Answer, rr)
	}
	for _, s := range ns {
		rr, err := dns.NewRR(s)
		if err != nil {
			panic(err)
		}
		m.Ns = append(m.Ns, rr)
	}
	return m
}

func TestCacheTTL(t *testing.T) {
	soa := "example. 600 IN SOA ns.example. h.example. 1 2 3 4 20"
	truncated := msgWith(dns.RcodeSuccess, []string{"q.example. 60 IN A 1.2.3.4"}, nil)
	truncated.Truncated = true
	tests := []struct {
		name string
		msg  *dns.Msg
		want time.Duration // 0: not cached
	}{
		{"lowest answer TTL", msgWith(dns.RcodeSuccess, []string{"q.example. 60 IN CNAME r.example.", "r.example. 30 IN A 1.2.3.4"}, nil), 30 * time.Second},
		{"capped at an hour", msgWith(dns.RcodeSuccess, []string{"q.example. 86400 IN A 1.2.3.4"}, nil), time.Hour},
		{"zero TTL", msgWith(dns.RcodeSuccess, []string{"q.example. 0 IN A 1.2.3.4"}, nil), 0},
		{"NXDOMAIN from SOA minimum", msgWith(dns.RcodeNameError, nil, []string{soa}), 20 * time.Second},
		{"NODATA capped", msgWith(dns.RcodeSuccess, nil, []string{"example. 600 IN SOA ns.example. h.example. 1 2 3 4 3600"}), maxNegativeTTL},
		{"NXDOMAIN without SOA", msgWith(dns.RcodeNameError, nil, nil), 0},
		{"SERVFAIL", msgWith(dns.RcodeServerFailure, nil, nil), 0},
		{"truncated", truncated, 0},
	}
	for _, tt := range tests {
		got, ok := cacheTTL(tt.msg)
		if !ok {
			got = 0
		}
		if got != tt.want {
			t.Errorf("%s: cacheTTL = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCacheExpiryAndCountdown(t *testing.T) {
	c := newAnswerCache(10)
	now := time.Unix(1000, 0)
	key := keyOf(dns.Question{Name: "Q.example.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, false, false)
	c.put(key, msgWith(dns.RcodeSuccess, []string{"q.example. 30 IN A 1.2.3.4"}, nil), now)

	m, ok := c.get(keyOf(dns.Question{Name: "q.EXAMPLE.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, false, false), now.Add(10*time.Second))
	if !ok {
		t.Fatal("miss after 10s of 30s")
	}
	if got := m.Answer[0].Header().Ttl; got != 20 {
		t.Errorf("TTL after 10s = %d, want 20", got)
	}
	m.Answer[0].Header().Ttl = 999 // the caller's copy
	if m, _ := c.get(key, now.Add(10*time.Second)); m.Answer[0].Header().Ttl != 20 {
		t.Errorf("cached answer changed through a returned copy")
	}
	if _, ok := c.get(key, now.Add(30*time.Second)); ok {
		t.Error("hit after the TTL")
	}
	if c.len() != 0 {
		t.Errorf("len = %d after expiry, want 0", c.len())
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := newAnswerCache(2)
	now := time.Unix(1000, 0)
	k := func(name string) cacheKey {
		return keyOf(dns.Question{Name: name, Qtype: dns.TypeA, Qclass: dns.ClassINET}, false, false)
	}
	m := msgWith(dns.RcodeSuccess, []string{"q.example. 30 IN A 1.2.3.4"}, nil)
	c.put(k("a."), m, now)
	c.put(k("b."), m, now)
	c.get(k("a."), now) // b is now the least recently used
	c.put(k("c."), m, now)
	for name, want := range map[string]bool{"a.": true, "b.": false, "c.": true} {
		if _, ok := c.get(k(name), now); ok != want {
			t.Errorf("%s cached = %v, want %v", name, ok, want)
		}
	}
}

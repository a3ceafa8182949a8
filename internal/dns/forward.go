package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sync/singleflight"
)

const (
	// upstreamTimeout bounds one exchange with one upstream.
	upstreamTimeout = 2 * time.Second
	// forwardTimeout bounds a whole forwarded question, all upstreams tried.
	forwardTimeout = 5 * time.Second
	// upstreamUDPSize is the EDNS0 buffer size offered to upstreams (the
	// DNS flag day 2020 value, which avoids IP fragmentation).
	upstreamUDPSize = 1232
	// cacheEntries bounds the forwarding cache.
	cacheEntries = 10000
	// maxForwards bounds the upstream exchanges in flight, so that a flood
	// of distinct names fails fast instead of piling up goroutines.
	maxForwards = 1000
)

// errBusy: maxForwards exchanges are already in flight.
var errBusy = errors.New("too many forwarded questions in flight")

// forwarder sends questions outside the cluster zone to upstream
// resolvers and caches their answers.
type forwarder struct {
	upstreams []string // host:port
	udp, tcp  *dns.Client
	next      atomic.Uint32
	inflight  singleflight.Group
	slots     chan struct{} // one per exchange in flight
	cache     *answerCache
	now       func() time.Time
	metrics   *metrics
}

func newForwarder(upstreams []string, m *metrics) *forwarder {
	return &forwarder{
		upstreams: upstreams,
		udp:       &dns.Client{Net: "udp", Timeout: upstreamTimeout, UDPSize: upstreamUDPSize},
		tcp:       &dns.Client{Net: "tcp", Timeout: upstreamTimeout},
		cache:     newAnswerCache(cacheEntries),
		slots:     make(chan struct{}, maxForwards),
		now:       time.Now,
		metrics:   m,
	}
}

// forward answers q from the cache or an upstream. The returned message is
// shared: callers must not modify it.
func (f *forwarder) forward(ctx context.Context, q dns.Question, do, cd bool) (*dns.Msg, error) {
	key := keyOf(q, do, cd)
	if m, ok := f.cache.get(key, f.now()); ok {
		f.metrics.cacheHits.Inc()
		return m, nil
	}
	f.metrics.cacheMisses.Inc()
	v, err, _ := f.inflight.Do(fmt.Sprint(key), func() (any, error) {
		select {
		case f.slots <- struct{}{}:
			defer func() { <-f.slots }()
		default:
			return nil, errBusy
		}
		// Not the caller's ctx: the exchange is shared with other callers.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), forwardTimeout)
		defer cancel()
		m, err := f.exchange(ctx, q, do, cd)
		if err != nil {
			return nil, err
		}
		f.cache.put(key, m, f.now())
		return m, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*dns.Msg), nil
}

// exchange asks the upstreams in turn, starting with a different one each
// time, until one answers; a truncated UDP answer is asked again over TCP.
func (f *forwarder) exchange(ctx context.Context, q dns.Question, do, cd bool) (*dns.Msg, error) {
	req := new(dns.Msg)
	req.SetQuestion(q.Name, q.Qtype)
	req.Question[0].Qclass = q.Qclass
	req.RecursionDesired = true
	req.CheckingDisabled = cd
	req.SetEdns0(upstreamUDPSize, do)
	start := int(f.next.Add(1))
	var errs []error
	for i := range f.upstreams {
		up := f.upstreams[(start+i)%len(f.upstreams)]
		m, _, err := f.udp.ExchangeContext(ctx, req, up)
		if err == nil && m.Truncated {
			m, _, err = f.tcp.ExchangeContext(ctx, req, up)
		}
		if err == nil {
			return m, nil
		}
		f.metrics.upstreamErrors.WithLabelValues(up).Inc()
		errs = append(errs, fmt.Errorf("upstream %s: %w", up, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// parseUpstreams normalizes resolver addresses to ip:port, port 53 when
// none is given. Upstreams must be IP addresses: resolving a name would
// need a resolver.
func parseUpstreams(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s == "" {
			continue
		}
		if ap, err := netip.ParseAddrPort(s); err == nil {
			out = append(out, ap.String())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("upstream %q: not an IP address or IP:port", s)
		}
		out = append(out, net.JoinHostPort(a.String(), "53"))
	}
	return out, nil
}

// resolvConfUpstreams reads the nameservers of a resolv.conf file.
func resolvConfUpstreams(path string) ([]string, error) {
	cfg, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("read upstreams: %w", err)
	}
	out := make([]string, 0, len(cfg.Servers))
	for _, s := range cfg.Servers {
		out = append(out, net.JoinHostPort(s, cfg.Port))
	}
	return parseUpstreams(out)
}

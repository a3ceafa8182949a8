package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Options configure a Server.
type Options struct {
	// Client reads Services and EndpointSlices. Required.
	Client kubernetes.Interface
	// Domain is the cluster domain (default "cluster.local").
	Domain string
	// Listen is the UDP and TCP address to serve DNS on (default ":53").
	// With port 0 both get the same free port.
	Listen string
	// HealthAddr, when set, serves /healthz, /readyz and /metrics over HTTP.
	HealthAddr string
	// Upstreams are the resolvers (IP or IP:port) for names outside the
	// cluster (default: the nameservers of /etc/resolv.conf).
	Upstreams []string
	// TTL of cluster answers (default 5s).
	TTL time.Duration
	// Log receives the server's logs (default slog.Default()).
	Log *slog.Logger
}

const (
	defaultDomain     = "cluster.local"
	defaultListen     = ":53"
	defaultTTL        = 5 * time.Second
	defaultResolvConf = "/etc/resolv.conf"
	// maxChase bounds how many CNAMEs of ExternalName Services are followed.
	maxChase = 8
)

func (o *Options) defaults() error {
	if o.Client == nil {
		return errors.New("dns: Options.Client is required")
	}
	if o.Domain == "" {
		o.Domain = defaultDomain
	}
	if _, ok := dns.IsDomainName(o.Domain); !ok {
		return fmt.Errorf("dns: domain %q is not a domain name", o.Domain)
	}
	if o.Listen == "" {
		o.Listen = defaultListen
	}
	switch {
	case o.TTL == 0:
		o.TTL = defaultTTL
	case o.TTL < time.Second || o.TTL > 24*time.Hour:
		return fmt.Errorf("dns: TTL %v is not between 1s and 24h", o.TTL)
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	var err error
	if len(o.Upstreams) == 0 {
		o.Upstreams, err = resolvConfUpstreams(defaultResolvConf)
	} else {
		o.Upstreams, err = parseUpstreams(o.Upstreams)
	}
	if err != nil {
		return fmt.Errorf("dns: %w", err)
	}
	if len(o.Upstreams) == 0 {
		return errors.New("dns: no upstream resolvers")
	}
	return nil
}

// Server is the cluster DNS server.
type Server struct {
	o       Options
	zone    *zone
	catalog *informerCatalog
	fwd     *forwarder
	metrics *metrics
	synced  atomic.Bool

	udp    net.PacketConn
	tcp    net.Listener
	health net.Listener // nil without HealthAddr
}

// New checks and defaults o and binds the DNS (and health) listeners, so
// that the addresses are known and in use when it returns. Run serves
// them and closes them when it returns.
func New(o Options) (*Server, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	cat, err := newInformerCatalog(o.Client)
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	s := &Server{
		o:       o,
		zone:    newZone(o.Domain, uint32(o.TTL/time.Second), uint32(time.Now().Unix())),
		catalog: cat,
	}
	s.metrics = newMetrics(func() int { return s.fwd.cache.len() })
	s.fwd = newForwarder(o.Upstreams, s.metrics)
	s.udp, s.tcp, err = listenDNS(o.Listen)
	if err != nil {
		return nil, err
	}
	if o.HealthAddr != "" {
		if s.health, err = net.Listen("tcp", o.HealthAddr); err != nil {
			s.udp.Close()
			s.tcp.Close()
			return nil, fmt.Errorf("dns: health listener: %w", err)
		}
	}
	return s, nil
}

// listenDNS binds UDP and TCP on addr; with port 0, on one free port.
func listenDNS(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dns: listen address %q: %w", addr, err)
	}
	var lastErr error
	for range 20 {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("dns: listen tcp: %w", err)
		}
		p := port
		if p == "0" {
			p = strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		}
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, p))
		if err == nil {
			return pc, ln, nil
		}
		ln.Close()
		lastErr = err
		if port != "0" {
			break
		}
	}
	return nil, nil, fmt.Errorf("dns: listen udp: %w", lastErr)
}

// Addr is the address DNS is served on (UDP and TCP).
func (s *Server) Addr() string { return s.udp.LocalAddr().String() }

// HealthAddr is the address of the HTTP health and metrics endpoint, or ""
// without one.
func (s *Server) HealthAddr() string {
	if s.health == nil {
		return ""
	}
	return s.health.Addr().String()
}

// Ready reports whether the informer caches have synced.
func (s *Server) Ready() bool { return s.synced.Load() }

// Run serves DNS until ctx ends, then stops the listeners and informers
// and returns nil; it returns an error if a listener fails.
func (s *Server) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	s.catalog.factory.Start(ctx.Done())
	defer s.catalog.factory.Shutdown()
	g.Go(func() error {
		if !cache.WaitForCacheSync(ctx.Done(), s.catalog.services.HasSynced, s.catalog.slices.HasSynced) {
			return nil // ctx ended
		}
		s.synced.Store(true)
		s.o.Log.Info("dns: caches synced, serving the cluster zone", "domain", s.o.Domain, "addr", s.Addr())
		return nil
	})
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) { s.serveDNS(ctx, w, req) })
	for _, srv := range []*dns.Server{
		{PacketConn: s.udp, Handler: handler},
		{Listener: s.tcp, Handler: handler, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second, IdleTimeout: idleTimeout},
	} {
		g.Go(func() error { return serveUntil(ctx, srv) })
	}
	if s.health != nil {
		hs := &http.Server{Handler: s.healthHandler(), ReadHeaderTimeout: 5 * time.Second}
		g.Go(func() error {
			if err := hs.Serve(s.health); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("dns: health server: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			return hs.Shutdown(sctx)
		})
	}
	s.o.Log.Info("dns: listening", "addr", s.Addr(), "upstreams", s.o.Upstreams)
	return g.Wait()
}

func idleTimeout() time.Duration { return 10 * time.Second }

// serveUntil serves one miekg/dns server until ctx ends.
func serveUntil(ctx context.Context, srv *dns.Server) error {
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	done := make(chan error, 1)
	go func() { done <- srv.ActivateAndServe() }()
	select {
	case err := <-done: // failed before ctx ended
		return fmt.Errorf("dns: serve: %w", err)
	case <-ctx.Done():
	}
	select {
	case <-started:
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := srv.ShutdownContext(sctx); err != nil {
			return fmt.Errorf("dns: shutdown: %w", err)
		}
	case err := <-done:
		return fmt.Errorf("dns: serve: %w", err)
	}
	<-done
	return nil
}

func (s *Server) healthHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.Ready() {
			http.Error(w, "informer caches not synced", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("/metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
	return mux
}

// serveDNS answers one request. Request-level problems are answered with
// an rcode; nothing is logged per request except upstream failures at debug.
func (s *Server) serveDNS(ctx context.Context, w dns.ResponseWriter, req *dns.Msg) {
	start := time.Now()
	resp := new(dns.Msg)
	source := "cluster"
	switch {
	case req.Opcode != dns.OpcodeQuery:
		resp.SetRcode(req, dns.RcodeNotImplemented)
	case len(req.Question) != 1:
		resp.SetRcode(req, dns.RcodeFormatError)
	default:
		resp.SetReply(req)
		if s.answer(ctx, req, resp) {
			source = "forward"
		}
	}
	resp.RecursionAvailable = true
	resp.Compress = true
	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		size = max(int(opt.UDPSize()), dns.MinMsgSize)
		resp.SetEdns0(upstreamUDPSize, opt.Do())
	}
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		resp.Truncate(size)
	}
	s.metrics.requests.WithLabelValues(source, dns.RcodeToString[resp.Rcode]).Inc()
	s.metrics.duration.WithLabelValues(source).Observe(time.Since(start).Seconds())
	_ = w.WriteMsg(resp) // the client went away; nothing to do
}

// answer fills resp for its one question and reports whether it was
// forwarded.
func (s *Server) answer(ctx context.Context, req, resp *dns.Msg) (forwarded bool) {
	q := req.Question[0]
	do := false
	if opt := req.IsEdns0(); opt != nil {
		do = opt.Do()
	}
	var r result
	if q.Qclass == dns.ClassINET || q.Qclass == dns.ClassANY {
		r = s.zone.resolve(s.catalog, q.Name, q.Qtype)
	} else {
		r.forward = true
	}
	if r.forward {
		m, err := s.fwd.forward(ctx, q, do, req.CheckingDisabled)
		if err != nil {
			s.o.Log.Debug("dns: forward failed", "name", q.Name, "type", dns.TypeToString[q.Qtype], "err", err)
			resp.Rcode = dns.RcodeServerFailure
			return true
		}
		copyAnswer(resp, m)
		return true
	}
	if !s.Ready() {
		resp.Rcode = dns.RcodeServerFailure // not NXDOMAIN: clients would cache that
		return false
	}
	resp.Authoritative = true
	resp.Rcode, resp.Answer, resp.Ns, resp.Extra = r.rcode, r.answer, r.ns, r.extra
	for i := 0; r.chase != "" && i < maxChase; i++ {
		target := dns.Question{Name: r.chase, Qtype: q.Qtype, Qclass: q.Qclass}
		r = s.zone.resolve(s.catalog, target.Name, target.Qtype)
		if !r.forward {
			resp.Rcode, resp.Ns, resp.Extra = r.rcode, r.ns, r.extra
			resp.Answer = append(resp.Answer, r.answer...)
			continue
		}
		m, err := s.fwd.forward(ctx, target, do, req.CheckingDisabled)
		if err != nil {
			s.o.Log.Debug("dns: forward failed", "name", target.Name, "type", dns.TypeToString[q.Qtype], "err", err)
			resp.Rcode = dns.RcodeServerFailure
			return false
		}
		answer := resp.Answer
		copyAnswer(resp, m)
		resp.Answer = append(answer, m.Answer...)
	}
	return false
}

// copyAnswer copies an upstream answer into resp, without its OPT record.
func copyAnswer(resp, m *dns.Msg) {
	resp.Rcode = m.Rcode
	resp.AuthenticatedData = m.AuthenticatedData
	resp.Answer = append([]dns.RR(nil), m.Answer...)
	resp.Ns = append([]dns.RR(nil), m.Ns...)
	resp.Extra = nil
	for _, rr := range m.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			resp.Extra = append(resp.Extra, rr)
		}
	}
}

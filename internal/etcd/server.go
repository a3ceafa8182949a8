package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap/zapcore"
)

// Tuning for a small development cluster.
const (
	memberName          = "k1s"
	clusterToken        = "k1s"
	quotaBackendBytes   = 2 << 30 // 2 GiB
	autoCompactionEvery = "5m"
	snapshotCount       = 10000
	tickMs              = 20
	electionMs          = 100
	// dialTimeout bounds how long Run waits for its own client to connect
	// to the member it has just started.
	dialTimeout = 5 * time.Second
	// defaultURL makes the kernel pick a free loopback port.
	defaultURL = "http://127.0.0.1:0"
)

// Config configures the embedded member. The zero value of every field but
// DataDir is usable.
type Config struct {
	// DataDir is the k1s data directory; etcd keeps its files in DataDir/etcd.
	DataDir string
	// ClientURL is where etcd serves clients: "http://127.0.0.1:2379",
	// "unix:///run/k1s/etcd.sock", or empty for a free loopback port picked
	// at start (see Server.Endpoints).
	ClientURL string
	// PeerURL is the raft peer listener. A single member never dials it,
	// but etcd needs one. Empty picks a free loopback port.
	PeerURL string
	// Logger receives etcd's errors. Nil discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.DataDir == "" {
		return c, errors.New("etcd: Config.DataDir is required")
	}
	if c.ClientURL == "" {
		c.ClientURL = defaultURL
	}
	if c.PeerURL == "" {
		c.PeerURL = defaultURL
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Server is one embedded etcd member. Run it once.
type Server struct {
	cfg   Config
	ready chan struct{}

	mu        sync.Mutex
	started   bool
	endpoints []string
	client    *clientv3.Client
}

// New returns a Server for cfg. Nothing is started until Run.
func New(cfg Config) *Server {
	return &Server{cfg: cfg, ready: make(chan struct{})}
}

// Ready is closed once the member serves requests and Client is connected.
// It is never closed if Run fails before that.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Endpoints returns the client URLs to dial, with the real port when the
// Config asked for a free one. Nil before Ready.
func (s *Server) Endpoints() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.endpoints...)
}

// Client returns a client connected to the member. It is nil before Ready
// and closed when Run returns; callers must not Close it.
func (s *Server) Client() *clientv3.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.client
}

// Run starts the member, closes Ready once it serves, and blocks until ctx
// ends or etcd fails. It returns after the client and the member are closed
// and their goroutines have exited. A cancelled ctx is a clean stop and
// returns nil.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("etcd: Run called twice")
	}
	s.started = true
	s.mu.Unlock()

	cfg, err := s.cfg.withDefaults()
	if err != nil {
		return err
	}
	var stopping atomic.Bool
	ecfg, err := embedConfig(cfg, &stopping)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(ecfg.Dir, 0o700); err != nil {
		return fmt.Errorf("etcd: create data dir: %w", err)
	}

	e, err := embed.StartEtcd(ecfg)
	if err != nil {
		return fmt.Errorf("etcd: start: %w", err)
	}
	defer func() {
		stopping.Store(true)
		e.Close()
	}()

	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		return fmt.Errorf("etcd: before ready: %w", serveError(err))
	case <-e.Server.StopNotify():
		return errors.New("etcd: member stopped before ready")
	case <-ctx.Done():
		return nil
	}

	endpoints := clientEndpoints(cfg.ClientURL, e)
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: dialTimeout,
		Logger:      newZapLogger(cfg.Logger.With("component", "etcd-client"), zapcore.ErrorLevel, &stopping),
	})
	if err != nil {
		return fmt.Errorf("etcd: connect client: %w", err)
	}
	// Closed before the member (defers run last-in first-out) so that the
	// member does not wait for this client's watch streams.
	defer cli.Close()

	s.mu.Lock()
	s.endpoints = endpoints
	s.client = cli
	s.mu.Unlock()
	close(s.ready)

	select {
	case <-ctx.Done():
		return nil
	case err := <-e.Err():
		return fmt.Errorf("etcd: %w", serveError(err))
	case <-e.Server.StopNotify():
		return errors.New("etcd: member stopped")
	}
}

func embedConfig(cfg Config, stopping *atomic.Bool) (*embed.Config, error) {
	clientURL, err := url.Parse(cfg.ClientURL)
	if err != nil {
		return nil, fmt.Errorf("etcd: client URL %q: %w", cfg.ClientURL, err)
	}
	peerURL, err := url.Parse(cfg.PeerURL)
	if err != nil {
		return nil, fmt.Errorf("etcd: peer URL %q: %w", cfg.PeerURL, err)
	}

	ec := embed.NewConfig()
	ec.Name = memberName
	ec.Dir = filepath.Join(cfg.DataDir, "etcd")
	ec.InitialClusterToken = clusterToken
	ec.ListenClientUrls = []url.URL{*clientURL}
	ec.AdvertiseClientUrls = []url.URL{*clientURL}
	if clientURL.Scheme == "unix" || clientURL.Scheme == "unixs" {
		// etcd insists that advertised URLs be host:port. The advertised
		// URL only lands in the member list, which nothing here reads;
		// Endpoints reports the real socket.
		ec.AdvertiseClientUrls = []url.URL{{Scheme: clientURL.Scheme, Host: "localhost:0"}}
	}
	ec.ListenPeerUrls = []url.URL{*peerURL}
	ec.AdvertisePeerUrls = []url.URL{*peerURL}
	ec.InitialCluster = ec.InitialClusterFromName(ec.Name)

	ec.QuotaBackendBytes = quotaBackendBytes
	ec.AutoCompactionMode = embed.CompactorModePeriodic
	ec.AutoCompactionRetention = autoCompactionEvery
	ec.SnapshotCount = snapshotCount

	// A lone member has no peers to heartbeat; the election timeout only
	// decides how long it waits before electing itself at start. With
	// etcd's defaults (100 ms / 1 s) Ready took 0.5-1 s; with these it
	// takes 30-120 ms, on a new data dir and on a restart alike.
	ec.TickMs = tickMs
	ec.ElectionMs = electionMs

	// No metrics listener, no HTTP/JSON gateway: clients speak gRPC.
	ec.ListenMetricsUrls = nil
	ec.EnableGRPCGateway = false

	ec.LogLevel = "error"
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(
		newZapLogger(cfg.Logger.With("component", "etcd"), zapcore.ErrorLevel, stopping))
	return ec, nil
}

// serveError names the nil that e.Err yields once etcd has closed it.
func serveError(err error) error {
	if err == nil {
		return errors.New("stopped serving")
	}
	return err
}

// clientEndpoints returns what a client should dial: the listener's real
// address for TCP (the port may have been 0), the URL as given for unix
// sockets.
func clientEndpoints(clientURL string, e *embed.Etcd) []string {
	u, err := url.Parse(clientURL)
	if err != nil || u.Scheme == "unix" || u.Scheme == "unixs" || len(e.Clients) == 0 {
		return []string{clientURL}
	}
	eps := make([]string, 0, len(e.Clients))
	for _, l := range e.Clients {
		eps = append(eps, u.Scheme+"://"+l.Addr().String())
	}
	return eps
}

package controllermanager

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/k1s/k1s/internal/leader"
)

// The Lease contended for and its timing, as in kube-controller-manager.
const (
	leaseNamespace = metav1.NamespaceSystem
	leaseName      = "kube-controller-manager"

	userAgent = "k1s-controller-manager"
	// resyncPeriod re-delivers every cached object to the controllers now
	// and then, a safety net for a missed event.
	resyncPeriod = 12 * time.Hour
)

// Options configure Run.
type Options struct {
	Kubeconfig *rest.Config // required: how to reach the api-server
	Logger     *slog.Logger
	// LeaderElect runs the controllers only while holding the Lease
	// kube-system/kube-controller-manager.
	LeaderElect bool
	// Identity names this process in the Lease; default HOSTNAME_RANDOM.
	Identity string
	// NodeMonitorGracePeriod is how long a node may stay silent before it
	// is marked Unknown and tainted unreachable; default 40s.
	NodeMonitorGracePeriod time.Duration
	// DefaultTolerationSeconds is how long pods without a toleration for
	// not-ready or unreachable stay on such a node; default 300.
	DefaultTolerationSeconds int64
	// TerminatedPodGCThreshold is how many terminated pods may exist
	// before the pod garbage collector deletes the oldest, as
	// --terminated-pod-gc-threshold; 0 means the default 12500, negative
	// disables (cmd maps the flag's values <= 0 to -1, as upstream's
	// "<= 0 disables").
	TerminatedPodGCThreshold int
	// ClusterCIDR is the pod address range nodes get their pod CIDRs
	// (/24 each) from; default 10.42.0.0/16.
	ClusterCIDR string
}

func (o *Options) defaults() error {
	if o.Kubeconfig == nil {
		return errors.New("controller-manager: a kubeconfig is required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.TerminatedPodGCThreshold == 0 {
		o.TerminatedPodGCThreshold = 12500
	}
	if o.Identity == "" {
		host, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("controller-manager: identity: %w", err)
		}
		var b [8]byte
		_, _ = rand.Read(b[:])
		o.Identity = host + "_" + hex.EncodeToString(b[:])
	}
	return nil
}

// Run runs the controllers until ctx ends.
func Run(ctx context.Context, o Options) error {
	if err := o.defaults(); err != nil {
		return err
	}
	cfg := rest.CopyConfig(o.Kubeconfig)
	cfg.UserAgent = userAgent
	if cfg.QPS == 0 {
		// Deleting a namespace lists every resource; client-go's default
		// of 5 per second would make that take many seconds.
		cfg.QPS, cfg.Burst = 50, 100
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("controller-manager: client: %w", err)
	}
	meta, err := metadata.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("controller-manager: metadata client: %w", err)
	}
	m := &manager{client: client, metadata: meta, log: o.Logger, options: o}
	if !o.LeaderElect {
		return m.runControllers(ctx)
	}
	return m.runElected(logr.NewContextWithSlogLogger(ctx, o.Logger), o.Identity)
}

// manager holds what every term of leadership shares.
type manager struct {
	options  Options
	client   kubernetes.Interface
	metadata metadata.Interface
	log      *slog.Logger
}

// runElected runs the controllers while holding the
// kube-controller-manager Lease.
func (m *manager) runElected(ctx context.Context, identity string) error {
	return leader.Run(ctx, leader.Config{
		Client: m.client.CoordinationV1(), Namespace: leaseNamespace, Name: leaseName,
		Identity: identity, Logger: m.log, What: "controllers",
	}, m.runControllers)
}

// runControllers starts every controller with a new informer factory and
// waits until ctx ends or one fails.
func (m *manager) runControllers(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	factory := informers.NewSharedInformerFactory(m.client, resyncPeriod)
	defer factory.Shutdown()
	cc := &controllerContext{
		Options:   m.options,
		Client:    m.client,
		Metadata:  m.metadata,
		Informers: factory,
		run:       func(f func(context.Context) error) { g.Go(func() error { return f(gctx) }) },
	}
	for _, c := range controllers() {
		cc := *cc
		cc.Logger = m.log.With("controller", c.name)
		if err := c.start(gctx, &cc); err != nil {
			err = fmt.Errorf("controller-manager: starting %s controller: %w", c.name, err)
			g.Go(func() error { return err })
			break
		}
	}
	factory.Start(gctx.Done())
	return g.Wait()
}

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
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// The Lease contended for and its timing, as in kube-controller-manager.
const (
	leaseNamespace = metav1.NamespaceSystem
	leaseName      = "kube-controller-manager"
	leaseDuration  = 15 * time.Second
	renewDeadline  = 10 * time.Second
	retryPeriod    = 2 * time.Second

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
}

func (o *Options) defaults() error {
	if o.Kubeconfig == nil {
		return errors.New("controller-manager: a kubeconfig is required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
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

// runElected campaigns for the Lease and runs the controllers while it is
// held, campaigning again after a lost lease, until ctx ends.
func (m *manager) runElected(ctx context.Context, identity string) error {
	log := m.log.With("identity", identity)
	for ctx.Err() == nil {
		// The election's context outlives ctx so the lease is released
		// only after the controllers stopped.
		ectx, ecancel := context.WithCancel(context.WithoutCancel(ctx))
		leading := make(chan context.Context, 1)
		elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: &resourcelock.LeaseLock{
				LeaseMeta:  metav1.ObjectMeta{Namespace: leaseNamespace, Name: leaseName},
				Client:     m.client.CoordinationV1(),
				LockConfig: resourcelock.ResourceLockConfig{Identity: identity},
			},
			LeaseDuration:   leaseDuration,
			RenewDeadline:   renewDeadline,
			RetryPeriod:     retryPeriod,
			ReleaseOnCancel: true,
			Name:            leaseName,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(lctx context.Context) { leading <- lctx },
				OnStoppedLeading: func() {},
			},
		})
		if err != nil {
			ecancel()
			return fmt.Errorf("controller-manager: leader election: %w", err)
		}
		elected := make(chan struct{})
		go func() {
			defer close(elected)
			elector.Run(ectx)
		}()

		var runErr error
		select {
		case lctx := <-leading:
			log.Info("leading: starting controllers")
			cctx, ccancel := context.WithCancel(lctx)
			stop := context.AfterFunc(ctx, ccancel)
			runErr = m.runControllers(cctx)
			stop()
			ccancel()
			if ctx.Err() == nil && lctx.Err() != nil {
				log.Warn("lost the lease: controllers stopped, campaigning again")
			}
		case <-ctx.Done():
		}
		ecancel()
		<-elected
		if runErr != nil {
			return runErr
		}
	}
	return nil
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

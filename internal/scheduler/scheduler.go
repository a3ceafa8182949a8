package scheduler

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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
)

// DefaultSchedulerName is the spec.schedulerName a pod gets by default.
const DefaultSchedulerName = corev1.DefaultSchedulerName

// The Lease contended for and its timing, as in kube-scheduler.
const (
	leaseNamespace = metav1.NamespaceSystem
	leaseName      = "kube-scheduler"
	leaseDuration  = 15 * time.Second
	renewDeadline  = 10 * time.Second
	retryPeriod    = 2 * time.Second

	userAgent = "k1s-scheduler"
)

// Options configure a Scheduler.
type Options struct {
	Kubeconfig *rest.Config // required: how to reach the api-server
	Logger     *slog.Logger
	// LeaderElect schedules only while holding the Lease
	// kube-system/kube-scheduler.
	LeaderElect bool
	// Identity names this process in the Lease; default HOSTNAME_RANDOM.
	Identity string
	// SchedulerName selects the pods to schedule by spec.schedulerName;
	// default "default-scheduler". It is also the events' source.
	SchedulerName string
}

func (o *Options) defaults() error {
	if o.Kubeconfig == nil {
		return errors.New("scheduler: a kubeconfig is required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.SchedulerName == "" {
		o.SchedulerName = DefaultSchedulerName
	}
	if o.Identity == "" {
		host, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("scheduler: identity: %w", err)
		}
		var b [8]byte
		_, _ = rand.Read(b[:])
		o.Identity = host + "_" + hex.EncodeToString(b[:])
	}
	return nil
}

// Scheduler assigns pending pods to nodes through the api-server.
type Scheduler struct {
	o      Options
	client kubernetes.Interface
}

// New validates the options and builds the api-server client.
func New(o Options) (*Scheduler, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	cfg := rest.CopyConfig(o.Kubeconfig)
	cfg.UserAgent = userAgent
	if cfg.QPS == 0 {
		// Each placement is a binding and an event; a client-side limit
		// would cap throughput far below what the api-server takes. The
		// number of writes in flight is bounded instead (maxInFlight).
		cfg.QPS = -1
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("scheduler: client: %w", err)
	}
	return &Scheduler{o: o, client: client}, nil
}

// Run schedules pods until ctx ends; with leader election, only while it
// holds the lease. It returns nil once ctx ended and every binding in
// flight finished.
func (s *Scheduler) Run(ctx context.Context) error {
	// The broadcaster outlives ctx until Run returns, so the events of
	// bindings finishing during shutdown are still sent; its own errors go
	// to the slog logger.
	bctx, stop := context.WithCancel(logr.NewContextWithSlogLogger(context.WithoutCancel(ctx), s.o.Logger))
	defer stop()
	broadcaster := record.NewBroadcaster(record.WithContext(bctx))
	defer broadcaster.Shutdown()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: s.client.CoreV1().Events("")})
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: s.o.SchedulerName})
	if !s.o.LeaderElect {
		return s.schedule(ctx, recorder)
	}
	return s.runElected(logr.NewContextWithSlogLogger(ctx, s.o.Logger), recorder)
}

func (s *Scheduler) schedule(ctx context.Context, recorder record.EventRecorder) error {
	return newShell(s.client, recorder, s.o.SchedulerName, s.o.Logger).run(ctx)
}

// runElected campaigns for the Lease and schedules while it is held,
// campaigning again after a lost lease, until ctx ends.
func (s *Scheduler) runElected(ctx context.Context, recorder record.EventRecorder) error {
	log := s.o.Logger.With("identity", s.o.Identity)
	for ctx.Err() == nil {
		// The election's context outlives ctx so the lease is released
		// only after scheduling stopped.
		ectx, ecancel := context.WithCancel(context.WithoutCancel(ctx))
		leading := make(chan context.Context, 1)
		elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: &resourcelock.LeaseLock{
				LeaseMeta:  metav1.ObjectMeta{Namespace: leaseNamespace, Name: leaseName},
				Client:     s.client.CoordinationV1(),
				LockConfig: resourcelock.ResourceLockConfig{Identity: s.o.Identity},
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
			return fmt.Errorf("scheduler: leader election: %w", err)
		}
		elected := make(chan struct{})
		go func() {
			defer close(elected)
			elector.Run(ectx)
		}()

		var runErr error
		select {
		case lctx := <-leading:
			log.Info("leading: starting to schedule")
			sctx, scancel := context.WithCancel(lctx)
			stop := context.AfterFunc(ctx, scancel)
			runErr = s.schedule(sctx, recorder)
			stop()
			scancel()
			if ctx.Err() == nil && lctx.Err() != nil {
				log.Warn("lost the lease: scheduling stopped, campaigning again")
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

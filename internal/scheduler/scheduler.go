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
	"k8s.io/client-go/tools/record"

	"github.com/k1s/k1s/internal/leader"
)

// DefaultSchedulerName is the spec.schedulerName a pod gets by default.
const DefaultSchedulerName = corev1.DefaultSchedulerName

// The Lease contended for and its timing, as in kube-scheduler.
const (
	leaseNamespace = metav1.NamespaceSystem
	leaseName      = "kube-scheduler"

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
	// VolumeBindTimeout bounds how long a pod's binding waits for its
	// WaitForFirstConsumer claims to be bound; default 30s.
	VolumeBindTimeout time.Duration
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
	if o.VolumeBindTimeout <= 0 {
		o.VolumeBindTimeout = defaultVolumeBindTimeout
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
	sh := newShell(s.client, recorder, s.o.SchedulerName, s.o.Logger)
	sh.volumeBindTimeout = s.o.VolumeBindTimeout
	return sh.run(ctx)
}

// runElected schedules while holding the kube-scheduler Lease.
func (s *Scheduler) runElected(ctx context.Context, recorder record.EventRecorder) error {
	return leader.Run(ctx, leader.Config{
		Client: s.client.CoordinationV1(), Namespace: leaseNamespace, Name: leaseName,
		Identity: s.o.Identity, Logger: s.o.Logger, What: "scheduling",
	}, func(ctx context.Context) error { return s.schedule(ctx, recorder) })
}

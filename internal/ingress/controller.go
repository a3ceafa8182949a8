package ingress

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/k1s/k1s/internal/controller/worker"
)

// shutdownGrace is how long in-flight requests may finish once Run's
// context ends.
const shutdownGrace = 10 * time.Second

// Options configure a Controller.
type Options struct {
	Client kubernetes.Interface // required
	// NodeName is the node whose InternalIP and ExternalIP addresses are
	// published in the Ingresses' status, unless PublishAddresses is set.
	NodeName         string
	PublishAddresses []string
	// HTTPAddr and HTTPSAddr are where the proxies listen (default :80
	// and :443); HealthAddr serves /healthz and /metrics (default :10254).
	HTTPAddr, HTTPSAddr, HealthAddr string
	// ClassName is the IngressClass served (default k1s).
	ClassName string
	Log       *slog.Logger
}

func (o *Options) defaults() error {
	if o.Client == nil {
		return errors.New("ingress: a client is required")
	}
	if o.HTTPAddr == "" {
		o.HTTPAddr = ":80"
	}
	if o.HTTPSAddr == "" {
		o.HTTPSAddr = ":443"
	}
	if o.HealthAddr == "" {
		o.HealthAddr = ":10254"
	}
	if o.ClassName == "" {
		o.ClassName = DefaultClassName
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return nil
}

// Controller serves the Ingresses of one IngressClass.
type Controller struct {
	o           Options
	table       atomic.Pointer[table]
	metrics     *metrics
	defaultCert *tls.Certificate
	dialer      *net.Dialer
	buffers     *sync.Pool

	ready                        chan struct{}
	httpAddr, httpsAddr, healthA net.Addr

	ingresses networkinglisters.IngressLister
	classes   networkinglisters.IngressClassLister
	services  corelisters.ServiceLister
	slices    discoverylisters.EndpointSliceLister
	secrets   corelisters.SecretLister
	nodes     corelisters.NodeLister
}

// New validates the options and makes the default certificate. Nothing
// runs and nothing listens until Run.
func New(o Options) (*Controller, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	cert, err := selfSigned(time.Now())
	if err != nil {
		return nil, fmt.Errorf("ingress: %w", err)
	}
	c := &Controller{o: o, metrics: newMetrics(), defaultCert: cert, ready: make(chan struct{}),
		dialer:  &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second},
		buffers: newBufferPool(),
	}
	c.table.Store(buildTable(input{className: o.ClassName}, nil))
	return c, nil
}

// Ready is closed once the caches are synced and the listeners open.
func (c *Controller) Ready() <-chan struct{} { return c.ready }

// HTTPAddr, HTTPSAddr and HealthAddr are the listeners' addresses once
// Ready is closed.
func (c *Controller) HTTPAddr() string   { return c.httpAddr.String() }
func (c *Controller) HTTPSAddr() string  { return c.httpsAddr.String() }
func (c *Controller) HealthAddr() string { return c.healthA.String() }

// Run watches the cluster, serves until ctx ends, then lets in-flight
// requests finish (up to 10s) and returns.
func (c *Controller) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	factory := informers.NewSharedInformerFactory(c.o.Client, 0)
	var nodeFactory informers.SharedInformerFactory
	defer func() {
		cancel()
		factory.Shutdown()
		if nodeFactory != nil {
			nodeFactory.Shutdown()
		}
	}()

	tableQ := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "ingress-table"})
	statusQ := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "ingress-status"})
	defer tableQ.ShutDown()
	defer statusQ.ShutDown()

	const tableKey = "table"
	rebuild := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { tableQ.Add(tableKey) },
		UpdateFunc: func(any, any) { tableQ.Add(tableKey) },
		DeleteFunc: func(any) { tableQ.Add(tableKey) },
	}
	allStatus := func() {
		list, _ := c.ingresses.List(labels.Everything())
		for _, ing := range list {
			statusQ.Add(ing.Namespace + "/" + ing.Name)
		}
	}
	statusOf := func(obj any) {
		if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
			statusQ.Add(key)
		}
	}

	ings := factory.Networking().V1().Ingresses()
	classes := factory.Networking().V1().IngressClasses()
	c.ingresses, c.classes = ings.Lister(), classes.Lister()
	c.services = factory.Core().V1().Services().Lister()
	c.slices = factory.Discovery().V1().EndpointSlices().Lister()
	c.secrets = factory.Core().V1().Secrets().Lister()
	for _, inf := range []cache.SharedIndexInformer{
		ings.Informer(), classes.Informer(), factory.Core().V1().Services().Informer(),
		factory.Discovery().V1().EndpointSlices().Informer(), factory.Core().V1().Secrets().Informer(),
	} {
		if _, err := inf.AddEventHandler(rebuild); err != nil {
			return fmt.Errorf("ingress: %w", err)
		}
	}
	if _, err := ings.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: statusOf, UpdateFunc: func(_, obj any) { statusOf(obj) },
	}); err != nil {
		return fmt.Errorf("ingress: %w", err)
	}
	if _, err := classes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { allStatus() }, UpdateFunc: func(any, any) { allStatus() }, DeleteFunc: func(any) { allStatus() },
	}); err != nil {
		return fmt.Errorf("ingress: %w", err)
	}
	if len(c.o.PublishAddresses) == 0 && c.o.NodeName != "" {
		// All nodes: other nodes' readiness decides which of their
		// addresses stay in the status.
		nodeFactory = informers.NewSharedInformerFactory(c.o.Client, 0)
		nodes := nodeFactory.Core().V1().Nodes()
		c.nodes = nodes.Lister()
		if _, err := nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: func(any) { allStatus() }, DeleteFunc: func(any) { allStatus() },
			UpdateFunc: func(old, obj any) {
				o, n := old.(*corev1.Node), obj.(*corev1.Node)
				if !equality.Semantic.DeepEqual(nodeAddresses(o), nodeAddresses(n)) ||
					!equality.Semantic.DeepEqual(readyNodeAddresses([]*corev1.Node{o}), readyNodeAddresses([]*corev1.Node{n})) {
					allStatus() // not on every heartbeat
				}
			},
		}); err != nil {
			return fmt.Errorf("ingress: %w", err)
		}
		nodeFactory.Start(ctx.Done())
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	if nodeFactory != nil {
		nodeFactory.WaitForCacheSync(ctx.Done())
	}
	if ctx.Err() != nil {
		return nil // stopped before the caches synced
	}
	if err := c.rebuild(); err != nil {
		return err
	}

	l, err := c.listen()
	if err != nil {
		return err
	}
	// Connections, including upgraded ones, and dials end with serveCtx:
	// after the graceful shutdown has had its chance.
	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	g, gctx := errgroup.WithContext(ctx)
	for i, f := range l.frontends {
		g.Go(func() error { return f.serve(serveCtx, l.proxyLns[i]) })
	}
	g.Go(func() error {
		if err := l.health.Serve(l.healthLn); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("ingress: serve %s: %w", l.healthLn.Addr(), err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, scancel := context.WithTimeout(context.WithoutCancel(gctx), shutdownGrace)
		defer scancel()
		var wg sync.WaitGroup
		for i, f := range l.frontends {
			wg.Go(func() { f.shutdown(sctx, l.proxyLns[i]) })
		}
		if err := l.health.Shutdown(sctx); err != nil {
			l.health.Close()
		}
		wg.Wait()
		stopServing()
		for _, e := range c.table.Load().endpoints {
			e.retire()
		}
		return nil
	})
	g.Go(func() error {
		// Idle connections to endpoints are closed after idleConnTimeout
		// even when no request comes to notice.
		tick := time.NewTicker(idleConnTimeout / 2)
		defer tick.Stop()
		for {
			select {
			case <-gctx.Done():
				return nil
			case now := <-tick.C:
				for _, e := range c.table.Load().endpoints {
					e.expire(now)
				}
			}
		}
	})
	g.Go(func() error {
		<-gctx.Done()
		tableQ.ShutDown()
		statusQ.ShutDown()
		return nil
	})
	g.Go(func() error {
		for c.processNext(gctx, tableQ, func(context.Context, string) error { return c.rebuild() }) {
		}
		return nil
	})
	g.Go(func() error {
		for c.processNext(gctx, statusQ, c.syncStatus) {
		}
		return nil
	})
	allStatus()
	close(c.ready)
	c.o.Log.Info("ingress controller serving", "class", c.o.ClassName,
		"http", c.httpAddr.String(), "https", c.httpsAddr.String(), "health", c.healthA.String())
	err = g.Wait()
	if err == nil && ctx.Err() != nil {
		return nil
	}
	return err
}

// listeners are the open listeners and what serves them.
type listeners struct {
	frontends []*frontend // HTTP, HTTPS
	proxyLns  []net.Listener
	health    *http.Server
	healthLn  net.Listener
}

// listen opens the HTTP, HTTPS and health listeners; on failure none is
// left open.
func (c *Controller) listen() (*listeners, error) {
	var lns []net.Listener
	for _, addr := range []string{c.o.HTTPAddr, c.o.HTTPSAddr, c.o.HealthAddr} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, ln := range lns {
				ln.Close()
			}
			return nil, fmt.Errorf("ingress: %w", err)
		}
		lns = append(lns, ln)
	}
	c.httpAddr, c.httpsAddr, c.healthA = lns[0].Addr(), lns[1].Addr(), lns[2].Addr()

	newFrontend := func(proto string, ln net.Listener, tlsConfig *tls.Config) *frontend {
		return &frontend{table: &c.table, log: c.o.Log.With("component", "ingress-access"), metrics: c.metrics,
			dialer: c.dialer, buffers: c.buffers, tls: tlsConfig, proto: proto, port: listenerPort(ln)}
	}
	health := http.NewServeMux()
	health.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		io.WriteString(w, "ok\n")
	})
	health.Handle("/metrics", c.metrics.handler())
	return &listeners{
		frontends: []*frontend{newFrontend("http", lns[0], nil), newFrontend("https", lns[1], serverTLS(&c.table, c.defaultCert))},
		proxyLns:  lns[:2],
		health: &http.Server{Handler: health, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(c.o.Log.Handler(), slog.LevelDebug)},
		healthLn: lns[2],
	}, nil
}

// processNext handles one key; false once the queue is shut down.
func (c *Controller) processNext(ctx context.Context, q workqueue.TypedRateLimitingInterface[string], sync func(context.Context, string) error) bool {
	key, quit := q.Get()
	if quit {
		return false
	}
	defer q.Done(key)
	worker.Handle(ctx, q, key, sync(ctx, key), c.o.Log, "key")
	return true
}

// rebuild makes a new snapshot from the caches and swaps it in; requests
// in flight keep the one they started with.
func (c *Controller) rebuild() error {
	var in input
	var err error
	in.className = c.o.ClassName
	if in.classes, err = c.classes.List(labels.Everything()); err != nil {
		return fmt.Errorf("ingress: list classes: %w", err)
	}
	if in.ingresses, err = c.ingresses.List(labels.Everything()); err != nil {
		return fmt.Errorf("ingress: list ingresses: %w", err)
	}
	if in.services, err = c.services.List(labels.Everything()); err != nil {
		return fmt.Errorf("ingress: list services: %w", err)
	}
	if in.slices, err = c.slices.List(labels.Everything()); err != nil {
		return fmt.Errorf("ingress: list endpointslices: %w", err)
	}
	secrets, err := c.secrets.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("ingress: list secrets: %w", err)
	}
	for _, s := range secrets {
		if _, ok := s.Data[corev1.TLSCertKey]; ok {
			in.secrets = append(in.secrets, s)
		}
	}
	prev := c.table.Load()
	t := buildTable(in, prev)
	c.table.Store(t)
	// Endpoints that left keep serving the requests they have, then
	// their connections close.
	for addr, e := range prev.endpoints {
		if t.endpoints[addr] != e {
			e.retire()
		}
	}
	c.o.Log.Debug("ingress routing table rebuilt", "ingresses", len(t.ours), "endpoints", len(t.endpoints))
	return nil
}

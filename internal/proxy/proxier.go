package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Options configure a Proxier.
type Options struct {
	// Client reaches the api-server. Required.
	Client kubernetes.Interface
	// NodeName is the node this proxy runs on. Required; today only
	// logged, it is what node-local traffic policies will filter on.
	NodeName string
	// ClusterCIDR is the pod address range (e.g. 10.42.0.0/16): service
	// traffic from outside it is masqueraded. Empty: none is.
	ClusterCIDR string
	// MetricsAddr, when set, serves /metrics and /healthz there.
	MetricsAddr string
	// NetNSPath, when set, is the network namespace whose table is
	// programmed (e.g. /run/netns/NAME); default the process's own.
	NetNSPath string
	// ResyncPeriod is how often the whole table is rewritten from the
	// informer caches, repairing any drift. Default 15 minutes.
	ResyncPeriod time.Duration
	// Log receives the proxy's logs. Default: discarded.
	Log *slog.Logger
}

func (o *Options) validate() (netip.Prefix, error) {
	if o.Client == nil {
		return netip.Prefix{}, errors.New("proxy: Options.Client is required")
	}
	if o.NodeName == "" {
		return netip.Prefix{}, errors.New("proxy: Options.NodeName is required")
	}
	var cidr netip.Prefix
	if o.ClusterCIDR != "" {
		p, err := netip.ParsePrefix(o.ClusterCIDR)
		if err != nil || !p.Addr().Is4() {
			return cidr, fmt.Errorf("proxy: ClusterCIDR %q is not an IPv4 prefix", o.ClusterCIDR)
		}
		cidr = p.Masked()
	}
	if o.NetNSPath != "" {
		if _, err := os.Stat(o.NetNSPath); err != nil {
			return cidr, fmt.Errorf("proxy: NetNSPath: %w", err)
		}
	}
	if o.ResyncPeriod <= 0 {
		o.ResyncPeriod = 15 * time.Minute
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return cidr, nil
}

// fullSyncKey in the queue asks for a rewrite of the whole table.
const fullSyncKey = ""

// Proxier keeps a node's nftables table in step with the cluster's
// Services and EndpointSlices.
type Proxier struct {
	opts        Options
	clusterCIDR netip.Prefix
	queue       workqueue.TypedRateLimitingInterface[string]
	services    corelisters.ServiceLister
	slices      discoverylisters.EndpointSliceLister

	listed  atomic.Bool // the informers' initial lists were delivered
	mu      sync.Mutex
	trigger map[string]time.Time // service key -> earliest endpoint change not yet applied

	// Owned by the sync loop.
	applier *applier
	applied *model // what the kernel has; nil until the first full sync
	healthy atomic.Bool

	registry           *prometheus.Registry
	programmingLatency prometheus.Histogram
	syncDuration       prometheus.Histogram
	syncErrors         prometheus.Counter
}

// New validates opts and returns a Proxier; it starts nothing.
func New(opts Options) (*Proxier, error) {
	cidr, err := opts.validate()
	if err != nil {
		return nil, err
	}
	p := &Proxier{
		opts:        opts,
		clusterCIDR: cidr,
		trigger:     map[string]time.Time{},
		registry:    prometheus.NewRegistry(),
		programmingLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "k1s_proxy_network_programming_duration_seconds",
			Help:    "Time from an endpoint change (its EndpointSlice's last-change-trigger-time, else when it was seen) to the rules being applied.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 18),
		}),
		syncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "k1s_proxy_sync_duration_seconds",
			Help:    "Time to compute and apply one change of the nftables table.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18),
		}),
		syncErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "k1s_proxy_sync_errors_total",
			Help: "Syncs of the nftables table that failed.",
		}),
	}
	p.registry.MustRegister(p.programmingLatency, p.syncDuration, p.syncErrors)
	return p, nil
}

// Run programs the table until ctx ends. It leaves the table in place (a
// restarting proxy keeps traffic flowing); Cleanup removes it.
func (p *Proxier) Run(ctx context.Context) error {
	fd := -1
	if p.opts.NetNSPath != "" {
		f, err := os.Open(p.opts.NetNSPath)
		if err != nil {
			return fmt.Errorf("proxy: open netns: %w", err)
		}
		defer f.Close()
		fd = int(f.Fd())
	}
	p.applier = newApplier(fd)
	p.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](100*time.Millisecond, 30*time.Second),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "proxy"})
	defer p.queue.ShutDown()

	factory := informers.NewSharedInformerFactory(p.opts.Client, 0)
	svcInf := factory.Core().V1().Services()
	sliceInf := factory.Discovery().V1().EndpointSlices()
	p.services, p.slices = svcInf.Lister(), sliceInf.Lister()
	svcReg, err := svcInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    p.onService,
		UpdateFunc: func(_, obj any) { p.onService(obj) },
		DeleteFunc: p.onService,
	})
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	sliceReg, err := sliceInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { p.onSlice(nil, obj) },
		UpdateFunc: p.onSlice,
		DeleteFunc: func(obj any) { p.onSlice(nil, obj) },
	})
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer factory.Shutdown() // waits for the informers, which stop on cancel
	defer cancel()
	factory.Start(ctx.Done())

	if p.opts.MetricsAddr != "" {
		ln, err := net.Listen("tcp", p.opts.MetricsAddr)
		if err != nil {
			return fmt.Errorf("proxy: metrics: %w", err)
		}
		srv := &http.Server{Handler: p.httpHandler(), ReadHeaderTimeout: 10 * time.Second}
		wg.Add(2)
		go func() { defer wg.Done(); _ = srv.Serve(ln) }()
		go func() { defer wg.Done(); <-ctx.Done(); _ = srv.Close() }()
	}

	// The handlers' HasSynced: the initial objects' trigger times are
	// recorded before the first sync, so it observes them.
	if !cache.WaitForCacheSync(ctx.Done(), svcReg.HasSynced, sliceReg.HasSynced) {
		return ctx.Err()
	}
	p.listed.Store(true)
	p.queue.Add(fullSyncKey)
	wg.Add(2)
	go func() {
		defer wg.Done()
		t := time.NewTicker(p.opts.ResyncPeriod)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.queue.Add(fullSyncKey)
			}
		}
	}()
	go func() { defer wg.Done(); <-ctx.Done(); p.queue.ShutDown() }()
	p.opts.Log.Info("proxy started", "node", p.opts.NodeName, "clusterCIDR", p.opts.ClusterCIDR, "netns", p.opts.NetNSPath)
	for p.processBatch() {
	}
	return nil
}

// httpHandler serves /metrics and /healthz (200 once the table matches
// the last state seen, 503 while the last sync failed or none ran yet).
func (p *Proxier) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(p.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !p.healthy.Load() {
			http.Error(w, "not synced", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	return mux
}

func (p *Proxier) onService(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err == nil {
		p.queue.Add(key)
	}
}

func (p *Proxier) onSlice(oldObj, obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	name := s.Labels[discoveryv1.LabelServiceName]
	if name == "" {
		return
	}
	when := time.Now()
	if !p.listed.Load() {
		// Part of the initial list: the change happened before this
		// proxy ran, so its latency is not this proxy's to measure.
		p.queue.Add(serviceKey(s.Namespace, name))
		return
	}
	if v, ok := s.Annotations[v1.EndpointsLastChangeTriggerTime]; ok {
		old, _ := oldObj.(*discoveryv1.EndpointSlice)
		if old != nil && old.Annotations[v1.EndpointsLastChangeTriggerTime] == v {
			// The same trigger was already counted; this update is
			// something else (e.g. a label) and costs nothing to apply.
			v = ""
		}
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil && t.Before(when) {
			when = t
		}
	}
	key := serviceKey(s.Namespace, name)
	p.mu.Lock()
	if t, ok := p.trigger[key]; !ok || when.Before(t) {
		p.trigger[key] = when
	}
	p.mu.Unlock()
	p.queue.Add(key)
}

// processBatch takes every key waiting in the queue and applies them in
// one transaction. It returns false once the queue shuts down.
func (p *Proxier) processBatch() bool {
	key, quit := p.queue.Get()
	if quit {
		return false
	}
	keys := []string{key}
	for p.queue.Len() > 0 {
		k, quit := p.queue.Get()
		if quit {
			break
		}
		keys = append(keys, k)
	}
	err := p.sync(keys)
	if err != nil {
		p.syncErrors.Inc()
		p.healthy.Store(false)
		p.opts.Log.Error("sync of nftables table failed", "services", len(keys), "err", err)
	}
	for _, k := range keys {
		if err != nil {
			p.queue.AddRateLimited(k)
		} else {
			p.queue.Forget(k)
		}
		p.queue.Done(k)
	}
	return true
}

// sync applies the given service keys, or the whole table when fullSyncKey
// is among them or nothing was applied yet.
func (p *Proxier) sync(keys []string) error {
	start := time.Now()
	// Only changes seen before this sync read the caches are applied by it.
	p.mu.Lock()
	pending := make(map[string]time.Time, len(p.trigger))
	for k, t := range p.trigger {
		pending[k] = t
	}
	p.mu.Unlock()
	full := p.applied == nil
	for _, k := range keys {
		full = full || k == fullSyncKey
	}
	var err error
	var done []string // service keys whose changes are now in the kernel
	if full {
		err = p.syncAll()
	} else {
		done, err = p.syncServices(keys)
	}
	if err != nil {
		return err
	}
	now := time.Now()
	p.syncDuration.Observe(now.Sub(start).Seconds())
	p.opts.Log.Debug("nftables table synced", "full", full, "keys", len(keys), "took", now.Sub(start))
	p.healthy.Store(true)
	if !full {
		applied := map[string]time.Time{}
		for _, k := range done {
			if t, ok := pending[k]; ok {
				applied[k] = t
			}
		}
		pending = applied
	}
	p.mu.Lock()
	for k, t := range pending {
		if p.trigger[k].Equal(t) {
			p.programmingLatency.Observe(now.Sub(t).Seconds())
			delete(p.trigger, k)
		}
	}
	p.mu.Unlock()
	return nil
}

// syncAll rewrites the whole table: the first time by replacing any table
// left behind, later in place (keeping session-affinity state), falling
// back to replacing it.
func (p *Proxier) syncAll() error {
	services, err := p.services.List(labels.Everything())
	if err != nil {
		return err
	}
	slices, err := p.slices.List(labels.Everything())
	if err != nil {
		return err
	}
	m := buildModel(services, slices, p.clusterCIDR)
	if p.applied != nil {
		err = p.applier.resync(*p.applied, m)
		if err == nil {
			p.applied = &m
			return nil
		}
		p.opts.Log.Warn("in-place resync failed; replacing the table", "err", err)
	}
	if err := p.applier.replace(m); err != nil {
		p.applied = nil
		return err
	}
	p.applied = &m
	return nil
}

// syncServices applies the parts of the given services that changed.
func (p *Proxier) syncServices(keys []string) ([]string, error) {
	var changes []change
	next := map[string]part{}
	for _, k := range keys {
		ns, name, err := cache.SplitMetaNamespaceKey(k)
		if err != nil {
			continue
		}
		var np part
		svc, err := p.services.Services(ns).Get(name)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return nil, err
		default:
			sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name})
			slices, err := p.slices.EndpointSlices(ns).List(sel)
			if err != nil {
				return nil, err
			}
			np = servicePart(svc, slices, p.clusterCIDR)
		}
		op := p.applied.Services[k]
		if op.String() == np.String() {
			continue
		}
		changes = append(changes, change{Old: op, New: np})
		next[k] = np
	}
	if len(changes) > 0 {
		if err := p.applier.update(changes); err != nil {
			p.applied = nil // the next sync replaces the table
			return nil, err
		}
	}
	for k, np := range next {
		if np.empty() {
			delete(p.applied.Services, k)
		} else {
			p.applied.Services[k] = np
		}
	}
	return keys, nil
}

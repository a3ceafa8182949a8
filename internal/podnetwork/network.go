package podnetwork

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// RouteProtocol marks the routes a Network writes (rtm_protocol); it is
// how they are told from everyone else's. Unassigned in iproute2's
// rt_protos.
const RouteProtocol netlink.RouteProtocol = 0x6b

// resyncPeriod is how often the whole state is rewritten without a change.
const resyncPeriod = 30 * time.Second

// Options configure a Network. Client and NodeName are required.
type Options struct {
	Client   kubernetes.Interface
	NodeName string
	// ClusterCIDR holds every node's pod range (default 10.42.0.0/16).
	ClusterCIDR string
	// NetNSPath, if set, programs that network namespace instead of the
	// process's own (tests; a node in a namespace of its own).
	NetNSPath string
	Log       *slog.Logger
}

func (o *Options) defaults() (netip.Prefix, error) {
	if o.Client == nil || o.NodeName == "" {
		return netip.Prefix{}, errors.New("podnetwork: client and node name are required")
	}
	if o.ClusterCIDR == "" {
		o.ClusterCIDR = "10.42.0.0/16"
	}
	cluster, err := netip.ParsePrefix(o.ClusterCIDR)
	if err != nil || !cluster.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("podnetwork: cluster CIDR %q: want an IPv4 prefix", o.ClusterCIDR)
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return cluster.Masked(), nil
}

// Network keeps this node's routes and masquerade rules in step with the
// cluster's Nodes.
type Network struct {
	opts    Options
	cluster netip.Prefix
	log     *slog.Logger

	factory informers.SharedInformerFactory
	nodes   corelisters.NodeLister
	synced  cache.InformerSynced
	queue   workqueue.TypedRateLimitingInterface[string]

	// lastTable is the ruleset last written, to skip identical rewrites.
	lastTable tableSpec
}

// syncKey is the only queue item: every change re-evaluates everything.
const syncKey = "nodes"

// New validates opts; Run starts the Network.
func New(opts Options) (*Network, error) {
	cluster, err := opts.defaults()
	if err != nil {
		return nil, err
	}
	n := &Network{opts: opts, cluster: cluster, log: opts.Log}
	n.factory = informers.NewSharedInformerFactory(opts.Client, 0)
	inf := n.factory.Core().V1().Nodes()
	n.nodes = inf.Lister()
	n.synced = inf.Informer().HasSynced
	n.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](500*time.Millisecond, resyncPeriod),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "podnetwork"})
	enqueue := func(any) { n.queue.Add(syncKey) }
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	}); err != nil {
		return nil, fmt.Errorf("podnetwork: %w", err)
	}
	return n, nil
}

// Run programs the namespace until ctx ends. Routes and rules stay when it
// returns.
func (n *Network) Run(ctx context.Context) error {
	defer n.queue.ShutDown()
	if err := inNetNS(n.opts.NetNSPath, enableForwarding); err != nil {
		return fmt.Errorf("podnetwork: %w", err)
	}
	n.factory.Start(ctx.Done())
	defer n.factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), n.synced) {
		return nil
	}
	n.queue.Add(syncKey)
	go func() {
		<-ctx.Done()
		n.queue.ShutDown()
	}()
	n.log.Info("pod network started", "node", n.opts.NodeName, "clusterCIDR", n.cluster)
	for {
		key, shutdown := n.queue.Get()
		if shutdown {
			return nil
		}
		err := n.sync()
		switch {
		case ctx.Err() != nil:
		case err != nil:
			n.log.Error("programming the pod network", "err", err)
			n.queue.AddRateLimited(key)
		default:
			n.queue.Forget(key)
			n.queue.AddAfter(key, resyncPeriod)
		}
		n.queue.Done(key)
	}
}

// sync makes routes and table match the Nodes in the cache.
func (n *Network) sync() error {
	nodes, err := n.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	spec := tableSpec{cluster: n.cluster}
	if self, err := n.nodes.Get(n.opts.NodeName); err == nil {
		spec.podCIDR, _ = nodePodCIDR(self)
	}
	return errors.Join(
		n.syncRoutes(desiredRoutes(nodes, n.opts.NodeName)),
		n.syncTable(spec),
	)
}

func (n *Network) syncRoutes(desired map[netip.Prefix]route) error {
	h, err := netlinkHandle(n.opts.NetNSPath)
	if err != nil {
		return err
	}
	defer h.Close()
	all, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("listing routes: %w", err)
	}
	var ours []route
	foreign := map[netip.Prefix]bool{}
	for _, r := range all {
		dst, ok := prefixOf(r.Dst)
		if !ok {
			continue
		}
		if r.Protocol != RouteProtocol {
			foreign[dst] = true
			continue
		}
		gw, _ := netip.AddrFromSlice(r.Gw.To4())
		ours = append(ours, route{dst: dst, gw: gw})
	}
	put, del := routeChanges(ours, foreign, desired)
	var errs []error
	for _, r := range del {
		if err := h.RouteDel(netlinkRoute(r)); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("deleting route %s via %s: %w", r.dst, r.gw, err))
			continue
		}
		n.log.Info("removed pod route", "cidr", r.dst, "via", r.gw)
	}
	for _, r := range put {
		if err := h.RouteReplace(netlinkRoute(r)); err != nil {
			errs = append(errs, fmt.Errorf("route %s via %s: %w", r.dst, r.gw, err))
			continue
		}
		n.log.Info("set pod route", "cidr", r.dst, "via", r.gw)
	}
	return errors.Join(errs...)
}

func prefixOf(ipn *net.IPNet) (netip.Prefix, bool) {
	if ipn == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(ipn.IP.To4())
	if !ok {
		return netip.Prefix{}, false
	}
	ones, bits := ipn.Mask.Size()
	if bits != 32 {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, ones), true
}

func netlinkRoute(r route) *netlink.Route {
	return &netlink.Route{
		Dst:      &net.IPNet{IP: r.dst.Addr().AsSlice(), Mask: net.CIDRMask(r.dst.Bits(), 32)},
		Gw:       r.gw.AsSlice(),
		Protocol: RouteProtocol,
		Table:    unix.RT_TABLE_MAIN,
	}
}

// netlinkHandle opens a handle in the namespace at path ("" = our own).
func netlinkHandle(path string) (*netlink.Handle, error) {
	if path == "" {
		return netlink.NewHandle(unix.NETLINK_ROUTE)
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("network namespace %s: %w", path, err)
	}
	defer ns.Close()
	return netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
}

// enableForwarding sets net.ipv4.ip_forward in the calling thread's
// network namespace.
func enableForwarding() error {
	const path = "/proc/sys/net/ipv4/ip_forward"
	if b, err := os.ReadFile(path); err == nil && len(b) > 0 && b[0] == '1' {
		return nil
	}
	if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("enabling IP forwarding: %w", err)
	}
	return nil
}

// inNetNS runs f on a thread in the namespace at path ("" = our own).
// The thread is discarded afterwards unless it is back in its original
// namespace.
func inNetNS(path string, f func() error) error {
	if path == "" {
		return f()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return // the locked thread exits with the goroutine
		}
		defer orig.Close()
		target, err := netns.GetFromPath(path)
		if err != nil {
			errc <- fmt.Errorf("network namespace %s: %w", path, err)
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			errc <- fmt.Errorf("entering %s: %w", path, err)
			return
		}
		ferr := f()
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

// Cleanup removes what a Network made in the process's namespace: the
// nftables table and the routes marked with RouteProtocol.
func Cleanup() error {
	return cleanupAt("")
}

func cleanupAt(path string) error {
	var errs []error
	if err := deleteTable(path, TableName); err != nil {
		errs = append(errs, err)
	}
	h, err := netlinkHandle(path)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	defer h.Close()
	routes, err := h.RouteListFiltered(netlink.FAMILY_V4,
		&netlink.Route{Table: unix.RT_TABLE_MAIN, Protocol: RouteProtocol}, netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("listing routes: %w", err))...)
	}
	for _, r := range routes {
		if err := h.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("deleting route %s: %w", r.Dst, err))
		}
	}
	return errors.Join(errs...)
}

package kubelet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/k1s/k1s/internal/controller/worker"
	"github.com/k1s/k1s/internal/kubelet/volume"
	"github.com/k1s/k1s/internal/runtime"
)

// defaultCgroupRoot is the cgroupfs parent of every pod's cgroup.
const defaultCgroupRoot = "/k1s"

// VolumeManager prepares and removes a pod's volumes on the host.
// volume.Manager is the real one; hollow nodes pass one that mounts nothing.
type VolumeManager interface {
	SetUp(ctx context.Context, pod *corev1.Pod, podIP string) (volume.Volumes, error)
	TearDown(ctx context.Context, podUID types.UID) error
	CleanupOrphans(ctx context.Context, active map[types.UID]bool) error
}

// Options configure a Kubelet. NodeName, Client and Runtime are required.
type Options struct {
	NodeName string
	Client   kubernetes.Interface
	Runtime  runtime.Runtime
	// RootDir holds pod directories (volumes, hosts files) and container
	// logs. Default /var/lib/k1s/agent/kubelet.
	RootDir string
	// NodeIP is the node's InternalIP. Default: the first non-loopback
	// address, else 127.0.0.1.
	NodeIP string
	// Port is the kubelet's HTTPS port, advertised in the Node's
	// DaemonEndpoints (the api-server proxies logs/exec there).
	Port int
	// PodCIDR is written to spec.podCIDR at registration when set.
	PodCIDR string
	// Capacity overrides detected capacity entries (hollow nodes).
	Capacity corev1.ResourceList
	// Reserved is subtracted from capacity to give allocatable.
	// Default cpu 100m, memory 256Mi, ephemeral-storage 1Gi.
	Reserved corev1.ResourceList
	Labels   map[string]string
	// Volumes defaults to volume.New over the api-server.
	Volumes VolumeManager
	// Prober runs httpGet and tcpSocket probes; default dials the pod IP.
	Prober NetworkProber
	// CgroupRoot is the cgroupfs parent of pod cgroups (default /k1s);
	// "-" leaves the cgroup parent to the runtime (hollow nodes).
	CgroupRoot string
	// ClusterDNS and ClusterDomain go into pods' resolv.conf when set.
	ClusterDNS    []string
	ClusterDomain string
	// ResolvConf is the node's resolver configuration, the base of pods'
	// resolv.conf for dnsPolicy Default (default /etc/resolv.conf; "-":
	// none, such pods resolve through 127.0.0.1).
	ResolvConf string
	// HostsFile is the node's hosts file, the base of host-network pods'
	// /etc/hosts (default /etc/hosts).
	HostsFile string
	// Services, if set, gives the Services of pods' environment variables
	// and must be synced by its owner (hollow nodes share one); by default
	// the kubelet watches all Services itself.
	Services corelisters.ServiceLister

	Workers        int           // pod sync workers (default 16)
	RelistPeriod   time.Duration // how often runtime state is compared (default 1s)
	StatusPeriod   time.Duration // node status at least this often (default 1m)
	LeaseDuration  time.Duration // default 40s, renewed every quarter
	BackoffInitial time.Duration // CrashLoopBackOff start (default 10s)
	BackoffMax     time.Duration // CrashLoopBackOff cap (default 5m)
	Recorder       record.EventRecorder
	Clock          clock.WithTicker
	Log            *slog.Logger
	OnPodCIDR      func(cidr string) // called when the node's podCIDR is known
	// WaitLocalImage, if set, is called before pulling an image the
	// runtime does not have, and returns once an image the node is
	// still loading into the runtime itself (the add-ons', while the node
	// starts) is there, or at once for any other image. ctx ends the wait.
	WaitLocalImage func(ctx context.Context, image string) error
}

func (o *Options) defaults() error {
	if o.NodeName == "" {
		return errors.New("kubelet: node name is required")
	}
	if o.Client == nil || o.Runtime == nil {
		return errors.New("kubelet: client and runtime are required")
	}
	if o.RootDir == "" {
		o.RootDir = "/var/lib/k1s/agent/kubelet"
	}
	if o.NodeIP == "" {
		o.NodeIP = defaultNodeIP()
	}
	if o.CgroupRoot == "" {
		o.CgroupRoot = defaultCgroupRoot
	}
	if o.ClusterDomain == "" {
		o.ClusterDomain = "cluster.local"
	}
	if o.ResolvConf == "" {
		o.ResolvConf = "/etc/resolv.conf"
	}
	if o.HostsFile == "" {
		o.HostsFile = "/etc/hosts"
	}
	if o.Reserved == nil {
		o.Reserved = corev1.ResourceList{
			corev1.ResourceCPU:              resource.MustParse("100m"),
			corev1.ResourceMemory:           resource.MustParse("256Mi"),
			corev1.ResourceEphemeralStorage: resource.MustParse("1Gi"),
		}
	}
	if o.Workers <= 0 {
		o.Workers = 16
	}
	if o.RelistPeriod <= 0 {
		o.RelistPeriod = time.Second
	}
	if o.StatusPeriod <= 0 {
		o.StatusPeriod = time.Minute
	}
	if o.LeaseDuration <= 0 {
		o.LeaseDuration = 40 * time.Second
	}
	if o.BackoffInitial <= 0 {
		o.BackoffInitial = 10 * time.Second
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 5 * time.Minute
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	o.Log = o.Log.With("node", o.NodeName)
	return nil
}

// Kubelet runs the pods bound to one node.
type Kubelet struct {
	opts     Options
	client   kubernetes.Interface
	rt       runtime.Runtime
	log      *slog.Logger
	clock    clock.WithTicker
	recorder record.EventRecorder

	factory informers.SharedInformerFactory
	pods    cache.SharedIndexInformer
	// nodeFactory watches this node's Node object only: other writers
	// (the node lifecycle controller marking it Unknown) must be seen.
	nodeFactory informers.SharedInformerFactory
	nodes       cache.SharedIndexInformer
	// svcFactory watches all Services for pods' Service variables
	// (nil with Options.Services).
	svcFactory     informers.SharedInformerFactory
	services       corelisters.ServiceLister
	servicesSynced cache.InformerSynced
	statusNow      chan struct{} // poked when the Node changed under us
	queue          workqueue.TypedRateLimitingInterface[types.UID]
	backoff        *flowcontrol.Backoff
	probes         *probeManager
	volumes        VolumeManager

	runtimeName    string // "containerd", for containerID URLs
	runtimeVersion string

	mu sync.Mutex
	// waiting holds why a container is not running when the runtime
	// cannot say (image pull errors, config errors, back-off), keyed by
	// pod UID and container name.
	waiting map[types.UID]map[string]waitingReason
	// seen is the relister's last view: container/sandbox ID -> state.
	seen      map[string]string
	seenOwner map[string]types.UID
	// startTimes remember when this kubelet first acted on a pod.
	startTimes map[types.UID]metav1.Time
	node       *corev1.Node // last node object written or read
	podCIDR    string       // last pod CIDR handed to OnPodCIDR
	// podIPs are the addresses of the pods' current sandboxes, as the
	// runtime gave them (the probes' target; the API's may be older).
	podIPs map[types.UID]string
	lease  *coordinationv1.Lease // last lease written; only leaseLoop uses it
	ready  chan struct{}
}

type waitingReason struct {
	reason, message string
}

const podUIDIndex = "uid"

// New validates opts and builds a Kubelet; Run starts it.
func New(opts Options) (*Kubelet, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	k := &Kubelet{
		opts:       opts,
		client:     opts.Client,
		rt:         opts.Runtime,
		log:        opts.Log,
		clock:      opts.Clock,
		recorder:   opts.Recorder,
		waiting:    map[types.UID]map[string]waitingReason{},
		seen:       map[string]string{},
		startTimes: map[types.UID]metav1.Time{},
		podIPs:     map[types.UID]string{},
		ready:      make(chan struct{}),
	}
	if k.recorder == nil {
		k.recorder = &record.FakeRecorder{} // nil channel: events are dropped
	}
	k.backoff = flowcontrol.NewBackOffWithJitter(opts.BackoffInitial, opts.BackoffMax, 0)
	k.volumes = opts.Volumes
	if k.volumes == nil {
		src := &apiSource{client: opts.Client}
		vm, err := volume.New(volume.Options{RootDir: filepath.Join(opts.RootDir), Source: src, Log: opts.Log})
		if err != nil {
			return nil, fmt.Errorf("kubelet: %w", err)
		}
		k.volumes = vm
	}
	k.factory = informers.NewSharedInformerFactoryWithOptions(opts.Client, 0,
		informers.WithTweakListOptions(func(lo *metav1.ListOptions) {
			lo.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", opts.NodeName).String()
		}))
	k.pods = k.factory.Core().V1().Pods().Informer()
	k.nodeFactory = informers.NewSharedInformerFactoryWithOptions(opts.Client, 0,
		informers.WithTweakListOptions(func(lo *metav1.ListOptions) {
			lo.FieldSelector = fields.OneTermEqualSelector("metadata.name", opts.NodeName).String()
		}))
	k.nodes = k.nodeFactory.Core().V1().Nodes().Informer()
	k.services, k.servicesSynced = opts.Services, func() bool { return true }
	if k.services == nil {
		k.svcFactory = informers.NewSharedInformerFactory(opts.Client, 0)
		svcInformer := k.svcFactory.Core().V1().Services()
		k.services = svcInformer.Lister()
		k.servicesSynced = svcInformer.Informer().HasSynced
	}
	k.statusNow = make(chan struct{}, 1)
	if err := k.pods.AddIndexers(cache.Indexers{podUIDIndex: func(obj any) ([]string, error) {
		return []string{string(obj.(*corev1.Pod).UID)}, nil
	}}); err != nil {
		return nil, fmt.Errorf("kubelet: %w", err)
	}
	k.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[types.UID](200*time.Millisecond, 30*time.Second),
		workqueue.TypedRateLimitingQueueConfig[types.UID]{Name: "kubelet-" + opts.NodeName})
	prober := opts.Prober
	if prober == nil {
		prober = netProber{}
	}
	k.probes = newProbeManager(k, prober)
	return k, nil
}

// Ready is closed once the node is registered and the pod cache synced.
func (k *Kubelet) Ready() <-chan struct{} { return k.ready }

// Run registers the node and runs its pods until ctx ends. Containers are
// left running when Run returns: a restarted kubelet adopts them.
func (k *Kubelet) Run(ctx context.Context) error {
	if err := os.MkdirAll(k.opts.RootDir, 0o750); err != nil {
		return fmt.Errorf("kubelet: %w", err)
	}
	if err := k.waitRuntime(ctx); err != nil {
		return err
	}
	if err := k.registerNode(ctx); err != nil {
		return err
	}
	k.pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { k.enqueue(obj) },
		UpdateFunc: func(_, obj any) { k.enqueue(obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			k.enqueue(obj)
		},
	})
	k.nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) {
			select {
			case k.statusNow <- struct{}{}:
			default:
			}
		},
	})
	k.factory.Start(ctx.Done())
	defer k.factory.Shutdown()
	k.nodeFactory.Start(ctx.Done())
	defer k.nodeFactory.Shutdown()
	if k.svcFactory != nil {
		k.svcFactory.Start(ctx.Done())
		defer k.svcFactory.Shutdown()
	}
	// Service variables are fixed at container start: wait for the
	// Services, as upstream's kubelet does, so that none is missing.
	if !cache.WaitForCacheSync(ctx.Done(), k.pods.HasSynced, k.nodes.HasSynced, k.servicesSynced) {
		return ctx.Err()
	}
	close(k.ready)
	k.log.Info("kubelet started", "runtime", k.runtimeName, "ip", k.opts.NodeIP)

	var wg sync.WaitGroup
	wg.Go(func() { k.leaseLoop(ctx) })
	wg.Go(func() { k.nodeStatusLoop(ctx) })
	wg.Go(func() { k.relistLoop(ctx) })
	wg.Go(func() { k.housekeepingLoop(ctx) })
	// Workers until ctx ends; then the queue is shut down.
	worker.Run(ctx, k.opts.Workers, k.queue, k.processNext)
	k.probes.stopAll()
	wg.Wait()
	return nil
}

func (k *Kubelet) enqueue(obj any) {
	if pod, ok := obj.(*corev1.Pod); ok {
		k.queue.Add(pod.UID)
	}
}

func (k *Kubelet) processNext(ctx context.Context) bool {
	uid, shutdown := k.queue.Get()
	if shutdown {
		return false
	}
	defer k.queue.Done(uid)
	requeue, err := k.syncPod(ctx, uid)
	switch {
	case ctx.Err() != nil:
	case err != nil:
		k.log.Info("syncing pod", "uid", uid, "err", err)
		k.queue.AddRateLimited(uid)
	default:
		k.queue.Forget(uid)
		if requeue > 0 {
			k.queue.AddAfter(uid, requeue)
		}
	}
	return true
}

// podByUID returns the cached pod with uid, or nil.
func (k *Kubelet) podByUID(uid types.UID) *corev1.Pod {
	objs, err := k.pods.GetIndexer().ByIndex(podUIDIndex, string(uid))
	if err != nil || len(objs) == 0 {
		return nil
	}
	return objs[0].(*corev1.Pod)
}

// waitRuntime waits until the runtime answers Version.
func (k *Kubelet) waitRuntime(ctx context.Context) error {
	t := k.clock.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		v, err := k.rt.Version(ctx)
		if err == nil {
			k.runtimeName = v.RuntimeName
			k.runtimeVersion = v.RuntimeVersion
			return nil
		}
		k.log.Info("waiting for the container runtime", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C():
		}
	}
}

package hollow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/k1s/k1s/internal/kubelet"
	"github.com/k1s/k1s/internal/kubelet/volume"
	"github.com/k1s/k1s/internal/runtime/fake"
)

// Options configure a set of hollow nodes.
type Options struct {
	Config *rest.Config // reaches the api-server; required
	Nodes  int          // how many (required, > 0)
	// NamePrefix names nodes <prefix>-<i> (default "hollow").
	NamePrefix string
	// Capacity of each node (default cpu 4, memory 16Gi, pods 110).
	Capacity corev1.ResourceList
	// NodesPerConnection shares one api-server connection (default 100).
	NodesPerConnection int
	// RootDir holds the kubelets' (nearly empty) pod directories.
	RootDir string
	// StartsPerSecond paces node starts (default 100/s), so that
	// thousands of nodes do not register in the same second.
	StartsPerSecond int
	// OnReady, if set, is called once every node is registered.
	OnReady func()
	Log     *slog.Logger
}

// Run runs the nodes until ctx ends.
func Run(ctx context.Context, o Options) error {
	if o.Config == nil || o.Nodes <= 0 {
		return errors.New("hollow: a config and a positive node count are required")
	}
	if o.NamePrefix == "" {
		o.NamePrefix = "hollow"
	}
	if o.StartsPerSecond <= 0 {
		o.StartsPerSecond = 100
	}
	if o.NodesPerConnection <= 0 {
		o.NodesPerConnection = 100
	}
	if o.Capacity == nil {
		o.Capacity = corev1.ResourceList{
			corev1.ResourceCPU:              resource.MustParse("4"),
			corev1.ResourceMemory:           resource.MustParse("16Gi"),
			corev1.ResourcePods:             resource.MustParse("110"),
			corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
		}
	}
	if o.RootDir == "" {
		dir, err := os.MkdirTemp("", "k1s-hollow")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.RootDir = dir
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	var clients []kubernetes.Interface
	for i := 0; i < o.Nodes; i += o.NodesPerConnection {
		cfg := rest.CopyConfig(o.Config)
		cfg.QPS, cfg.Burst = -1, 0 // the api-server's own limits apply
		cfg.ContentType = "application/vnd.kubernetes.protobuf"
		cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
		// A wrapped transport is never shared from client-go's cache:
		// each group gets its own connection.
		cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return rt }
		c, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return err
		}
		clients = append(clients, c)
	}
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: clients[0].CoreV1().Events("")})
	defer broadcaster.Shutdown()

	// One Service informer for every hollow kubelet's pod environment,
	// instead of one watch of all Services per node.
	svcFactory := informers.NewSharedInformerFactory(clients[0], 0)
	services := svcFactory.Core().V1().Services()
	services.Informer()
	svcFactory.Start(ctx.Done())
	defer svcFactory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), services.Informer().HasSynced) {
		return ctx.Err()
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	ready := make(chan struct{}, o.Nodes)
	pace := time.NewTicker(time.Second / time.Duration(o.StartsPerSecond))
	defer pace.Stop()
	for i := range o.Nodes {
		if i > 0 {
			select {
			case <-pace.C:
			case <-ctx.Done():
				wg.Wait()
				return errors.Join(errs...)
			}
		}
		name := fmt.Sprintf("%s-%d", o.NamePrefix, i)
		rt, err := fake.New(fake.Options{PodCIDR: podCIDR(i)})
		if err != nil {
			return err
		}
		kl, err := kubelet.New(kubelet.Options{
			NodeName: name, Client: clients[i/o.NodesPerConnection], Runtime: rt,
			RootDir: filepath.Join(o.RootDir, name), NodeIP: "127.0.0.1", PodCIDR: podCIDR(i),
			Capacity: o.Capacity, Reserved: corev1.ResourceList{},
			Labels:  map[string]string{"k1s.io/hollow": "true"},
			Volumes: noVolumes{dir: filepath.Join(o.RootDir, name, "volumes")}, Prober: okProber{}, CgroupRoot: "-",
			Workers: 1, RelistPeriod: 5 * time.Second, Services: services.Lister(),
			Recorder: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: name}),
			Log:      o.Log,
		})
		if err != nil {
			return err
		}
		wg.Go(func() {
			if err := kl.Run(ctx); err != nil && ctx.Err() == nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				mu.Unlock()
			}
		})
		wg.Go(func() {
			select {
			case <-kl.Ready():
				ready <- struct{}{}
			case <-ctx.Done():
			}
		})
	}
	go func() {
		for range o.Nodes {
			select {
			case <-ready:
			case <-ctx.Done():
				return
			}
		}
		o.Log.Info("hollow nodes ready", "nodes", o.Nodes)
		if o.OnReady != nil {
			o.OnReady()
		}
	}()
	wg.Wait()
	return errors.Join(errs...)
}

// podCIDR gives node i a /24 of 10.64.0.0/10 (16,384 nodes).
func podCIDR(i int) string {
	return fmt.Sprintf("10.%d.%d.0/24", 64+i/256%64, i%256)
}

// noVolumes mounts nothing (hollow pods run no processes): every volume
// of a pod is one empty directory of the node, so that volumeMounts
// resolve as on a real node.
type noVolumes struct{ dir string }

func (v noVolumes) SetUp(_ context.Context, pod *corev1.Pod, _ string) (volume.Volumes, error) {
	vols := make(volume.Volumes, len(pod.Spec.Volumes))
	if len(pod.Spec.Volumes) > 0 {
		if err := os.MkdirAll(v.dir, 0o755); err != nil {
			return nil, err
		}
	}
	for _, vol := range pod.Spec.Volumes {
		vols[vol.Name] = volume.Volume{HostPath: v.dir}
	}
	return vols, nil
}
func (noVolumes) TearDown(context.Context, types.UID) error                { return nil }
func (noVolumes) CleanupOrphans(context.Context, map[types.UID]bool) error { return nil }

// okProber answers every network probe and hook as successful.
type okProber struct{}

func (okProber) HTTPGet(context.Context, string, []corev1.HTTPHeader) (bool, string, error) {
	return true, "", nil
}
func (okProber) TCP(context.Context, string) (bool, string, error) { return true, "", nil }

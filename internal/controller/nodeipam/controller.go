package nodeipam

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/netip"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/k1s/k1s/internal/controller/worker"
)

// Options configure a Controller.
type Options struct {
	Client      kubernetes.Interface       // required
	Nodes       coreinformers.NodeInformer // required
	ClusterCIDR string                     // default 10.42.0.0/16
	MaskSize    int                        // per-node prefix length, default 24
	Logger      *slog.Logger
}

// Controller allocates node pod CIDRs.
type Controller struct {
	client kubernetes.Interface
	lister corelisters.NodeLister
	synced cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[string]
	log    *slog.Logger

	mu    sync.Mutex
	alloc *allocator
	owner map[int]string // range index -> node name
}

// New registers the controller's handlers on the node informer.
func New(o Options) (*Controller, error) {
	if o.Client == nil || o.Nodes == nil {
		return nil, errors.New("nodeipam controller: Client and Nodes are required")
	}
	if o.ClusterCIDR == "" {
		o.ClusterCIDR = "10.42.0.0/16"
	}
	if o.MaskSize == 0 {
		o.MaskSize = 24
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	a, err := newAllocator(o.ClusterCIDR, o.MaskSize)
	if err != nil {
		return nil, err
	}
	c := &Controller{
		client: o.Client, lister: o.Nodes.Lister(), synced: o.Nodes.Informer().HasSynced,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "nodeipam"}),
		log: o.Logger, alloc: a, owner: map[int]string{},
	}
	_, err = o.Nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if n, ok := obj.(*corev1.Node); ok {
				c.release(n.Name)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("nodeipam controller: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueue(obj any) {
	if n, ok := obj.(*corev1.Node); ok {
		c.queue.Add(n.Name)
	}
}

// release frees the ranges held by a deleted node.
func (c *Controller) release(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, owner := range c.owner {
		if owner == name {
			delete(c.owner, i)
		}
	}
}

// Run waits for the node cache, marks every range in use, then allocates.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return nil
	}
	nodes, err := c.lister.List(labels.Everything())
	if err != nil {
		return err
	}
	c.mu.Lock()
	for _, n := range nodes {
		c.markLocked(n)
	}
	c.mu.Unlock()
	worker.Run(ctx, 1, c.queue, worker.Next(c.queue, c.reconcile, c.log, "node"))
	return nil
}

// markLocked records the ranges a node's spec holds.
func (c *Controller) markLocked(n *corev1.Node) {
	for _, cidr := range podCIDRs(n) {
		if i, ok := c.alloc.index(cidr); ok {
			c.owner[i] = n.Name
		}
	}
}

func podCIDRs(n *corev1.Node) []string {
	if len(n.Spec.PodCIDRs) > 0 {
		return n.Spec.PodCIDRs
	}
	if n.Spec.PodCIDR != "" {
		return []string{n.Spec.PodCIDR}
	}
	return nil
}

func (c *Controller) reconcile(ctx context.Context, name string) error {
	n, err := c.lister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	if len(podCIDRs(n)) > 0 {
		c.markLocked(n)
		c.mu.Unlock()
		return nil
	}
	i, ok := c.alloc.free(c.owner)
	if !ok {
		c.mu.Unlock()
		return fmt.Errorf("no pod CIDR left in %s for node %s", c.alloc.cluster, name)
	}
	c.owner[i] = name // reserved while the write is in flight
	c.mu.Unlock()

	cidr := c.alloc.cidr(i)
	n = n.DeepCopy()
	n.Spec.PodCIDR, n.Spec.PodCIDRs = cidr, []string{cidr}
	if _, err := c.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		c.mu.Lock()
		if c.owner[i] == name {
			delete(c.owner, i)
		}
		c.mu.Unlock()
		return err
	}
	c.log.Info("allocated pod CIDR", "node", name, "cidr", cidr)
	return nil
}

// allocator numbers the per-node ranges of the cluster CIDR.
type allocator struct {
	cluster netip.Prefix
	bits    int // per-node prefix length
	count   int
}

func newAllocator(cidr string, bits int) (*allocator, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil, fmt.Errorf("cluster CIDR: %w", err)
	}
	p = p.Masked()
	if bits < p.Bits() || bits > p.Addr().BitLen() || bits-p.Bits() > 20 {
		return nil, fmt.Errorf("node mask /%d does not fit cluster CIDR %s", bits, p)
	}
	return &allocator{cluster: p, bits: bits, count: 1 << (bits - p.Bits())}, nil
}

func (a *allocator) cidr(i int) string {
	base := new(big.Int).SetBytes(a.cluster.Addr().AsSlice())
	step := new(big.Int).Lsh(big.NewInt(int64(i)), uint(a.cluster.Addr().BitLen()-a.bits))
	b := base.Add(base, step).Bytes()
	buf := make([]byte, a.cluster.Addr().BitLen()/8)
	copy(buf[len(buf)-len(b):], b)
	addr, _ := netip.AddrFromSlice(buf)
	return netip.PrefixFrom(addr, a.bits).String()
}

// index returns the range number of cidr, if it is one of ours.
func (a *allocator) index(cidr string) (int, bool) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || p.Bits() != a.bits || !a.cluster.Contains(p.Addr()) {
		return 0, false
	}
	base := new(big.Int).SetBytes(a.cluster.Addr().AsSlice())
	off := new(big.Int).Sub(new(big.Int).SetBytes(p.Masked().Addr().AsSlice()), base)
	return int(off.Rsh(off, uint(a.cluster.Addr().BitLen()-a.bits)).Int64()), true
}

// free returns the lowest range not in used.
func (a *allocator) free(used map[int]string) (int, bool) {
	for i := range a.count {
		if _, ok := used[i]; !ok {
			return i, true
		}
	}
	return 0, false
}

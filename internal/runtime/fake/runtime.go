package fake

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"

	"github.com/k1s/k1s/internal/runtime"
)

// Name and version reported by Version.
const (
	RuntimeName    = "k1s-fake"
	RuntimeVersion = "0.1.0"
)

// Options configure a fake runtime. The zero value is usable: real clock, no
// pod IPs, every image pullable.
type Options struct {
	// PodCIDR is the range pod-network sandboxes get IPs from, e.g.
	// "10.244.3.0/24". Empty: sandboxes get no IP.
	PodCIDR string
	// Clock gives timestamps and decides when containers exit. Default: the
	// real clock.
	Clock clock.PassiveClock
	// MissingImages are references PullImage fails for, besides those
	// containing "doesnotexist".
	MissingImages []string
}

// Runtime is the in-memory runtime. It is safe for concurrent use.
type Runtime struct {
	clock    clock.PassiveClock
	missing  map[string]struct{} // normalised references
	idPrefix uint64              // random per runtime, so IDs differ across hollow nodes

	mu         sync.Mutex
	nextID     uint64
	ips        *ipPool           // nil without PodCIDR
	images     map[string]string // normalised reference -> image ID
	sandboxes  map[string]*sandbox
	containers map[string]*container
}

var _ runtime.Runtime = (*Runtime)(nil)

type sandbox struct {
	id          string
	metadata    *runtimeapi.PodSandboxMetadata
	labels      map[string]string // shared with the caller's config, never written
	annotations map[string]string // likewise
	handler     string
	createdAt   int64 // unix nanoseconds
	ready       bool
	network     runtimeapi.NamespaceMode
	ip          int32 // offset in the pool, -1 for none
	containers  []*container
}

// New returns an empty fake runtime.
func New(opts Options) (*Runtime, error) {
	r := &Runtime{
		clock:      opts.Clock,
		missing:    make(map[string]struct{}, len(opts.MissingImages)),
		idPrefix:   rand.Uint64(),
		images:     make(map[string]string),
		sandboxes:  make(map[string]*sandbox),
		containers: make(map[string]*container),
	}
	if r.clock == nil {
		r.clock = clock.RealClock{}
	}
	for _, ref := range opts.MissingImages {
		r.missing[normalizeImage(ref)] = struct{}{}
	}
	if opts.PodCIDR != "" {
		prefix, err := netip.ParsePrefix(opts.PodCIDR)
		if err != nil {
			return nil, fmt.Errorf("fake runtime: PodCIDR: %w", err)
		}
		r.ips, err = newIPPool(prefix)
		if err != nil {
			return nil, fmt.Errorf("fake runtime: PodCIDR: %w", err)
		}
	}
	return r, nil
}

// newID returns a 32-hex-digit ID never returned before by this runtime.
// Callers hold r.mu.
func (r *Runtime) newID() string {
	r.nextID++
	return fmt.Sprintf("%016x%016x", r.idPrefix, r.nextID)
}

func (r *Runtime) now() int64 { return r.clock.Now().UnixNano() }

func notFound(kind, id string) error {
	return fmt.Errorf("fake runtime: %s %q: %w", kind, id, runtime.ErrNotFound)
}

// Status reports the fake runtime and its network as always ready.
func (r *Runtime) Status(ctx context.Context) (*runtimeapi.RuntimeStatus, error) {
	return &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{
		{Type: runtimeapi.RuntimeReady, Status: true},
		{Type: runtimeapi.NetworkReady, Status: true},
	}}, nil
}

func (r *Runtime) Version(ctx context.Context) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{
		Version:           "0.1.0",
		RuntimeName:       RuntimeName,
		RuntimeVersion:    RuntimeVersion,
		RuntimeApiVersion: "v1",
	}, nil
}

func (r *Runtime) RunPodSandbox(ctx context.Context, config *runtimeapi.PodSandboxConfig, runtimeHandler string) (string, error) {
	if config.GetMetadata() == nil {
		return "", status.Error(codes.InvalidArgument, "fake runtime: sandbox config has no metadata")
	}
	network := config.GetLinux().GetSecurityContext().GetNamespaceOptions().GetNetwork()
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &sandbox{
		id:          r.newID(),
		metadata:    config.Metadata,
		labels:      config.Labels,
		annotations: config.Annotations,
		handler:     runtimeHandler,
		createdAt:   r.now(),
		ready:       true,
		network:     network,
		ip:          -1,
	}
	if r.ips != nil && network != runtimeapi.NamespaceMode_NODE {
		ip, ok := r.ips.allocate()
		if !ok {
			return "", fmt.Errorf("fake runtime: no free IP in %s", r.ips.prefix)
		}
		s.ip = ip
	}
	r.sandboxes[s.id] = s
	return s.id, nil
}

func (r *Runtime) StopPodSandbox(ctx context.Context, podSandboxID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sandboxes[podSandboxID]
	if !ok {
		return notFound("sandbox", podSandboxID)
	}
	r.stopSandbox(s)
	return nil
}

// stopSandbox exits the sandbox's containers and marks it not ready.
// Callers hold r.mu.
func (r *Runtime) stopSandbox(s *sandbox) {
	now := r.now()
	for _, c := range s.containers {
		c.kill(now)
	}
	s.ready = false
}

func (r *Runtime) RemovePodSandbox(ctx context.Context, podSandboxID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sandboxes[podSandboxID]
	if !ok {
		return nil
	}
	r.stopSandbox(s)
	for _, c := range s.containers {
		delete(r.containers, c.id)
	}
	if s.ip >= 0 {
		r.ips.release(s.ip)
	}
	delete(r.sandboxes, s.id)
	return nil
}

func (r *Runtime) PodSandboxStatus(ctx context.Context, podSandboxID string) (*runtimeapi.PodSandboxStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sandboxes[podSandboxID]
	if !ok {
		return nil, notFound("sandbox", podSandboxID)
	}
	st := &runtimeapi.PodSandboxStatus{
		Id:        s.id,
		Metadata:  copySandboxMetadata(s.metadata),
		State:     s.state(),
		CreatedAt: s.createdAt,
		Network:   &runtimeapi.PodSandboxNetworkStatus{},
		Linux: &runtimeapi.LinuxPodSandboxStatus{
			Namespaces: &runtimeapi.Namespace{
				Options: &runtimeapi.NamespaceOption{Network: s.network},
			},
		},
		Labels:         maps.Clone(s.labels),
		Annotations:    maps.Clone(s.annotations),
		RuntimeHandler: s.handler,
	}
	if s.ip >= 0 {
		st.Network.Ip = r.ips.addr(s.ip).String()
	}
	return st, nil
}

func (r *Runtime) ListPodSandbox(ctx context.Context, filter *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*runtimeapi.PodSandbox
	for _, s := range r.sandboxes {
		if filter != nil {
			if filter.Id != "" && filter.Id != s.id {
				continue
			}
			if filter.State != nil && filter.State.State != s.state() {
				continue
			}
			if !matchLabels(s.labels, filter.LabelSelector) {
				continue
			}
		}
		out = append(out, &runtimeapi.PodSandbox{
			Id:             s.id,
			Metadata:       copySandboxMetadata(s.metadata),
			State:          s.state(),
			CreatedAt:      s.createdAt,
			Labels:         maps.Clone(s.labels),
			Annotations:    maps.Clone(s.annotations),
			RuntimeHandler: s.handler,
		})
	}
	// IDs of one runtime share a prefix and end in a fixed-width counter,
	// so this is creation order.
	slices.SortFunc(out, func(a, b *runtimeapi.PodSandbox) int { return strings.Compare(a.Id, b.Id) })
	return out, nil
}

func (s *sandbox) state() runtimeapi.PodSandboxState {
	if s.ready {
		return runtimeapi.PodSandboxState_SANDBOX_READY
	}
	return runtimeapi.PodSandboxState_SANDBOX_NOTREADY
}

func (r *Runtime) Exec(ctx context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	return nil, streamingUnsupported("exec")
}

func (r *Runtime) Attach(ctx context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	return nil, streamingUnsupported("attach")
}

func (r *Runtime) PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	return nil, streamingUnsupported("port-forward")
}

func streamingUnsupported(op string) error {
	return fmt.Errorf("fake runtime: %s: %w", op, status.Error(codes.Unimplemented, "hollow nodes do not stream"))
}

func matchLabels(labels, selector map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func copySandboxMetadata(m *runtimeapi.PodSandboxMetadata) *runtimeapi.PodSandboxMetadata {
	return &runtimeapi.PodSandboxMetadata{Name: m.Name, Uid: m.Uid, Namespace: m.Namespace, Attempt: m.Attempt}
}

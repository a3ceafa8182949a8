package volume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// Source gives the API objects volumes refer to. Missing objects are
// reported with apierrors NotFound errors.
type Source interface {
	ConfigMap(ctx context.Context, namespace, name string) (*v1.ConfigMap, error)
	Secret(ctx context.Context, namespace, name string) (*v1.Secret, error)
	PersistentVolumeClaim(ctx context.Context, namespace, name string) (*v1.PersistentVolumeClaim, error)
	PersistentVolume(ctx context.Context, name string) (*v1.PersistentVolume, error)
	// ServiceAccountToken issues a token for service account saName
	// (the serviceaccounts/token subresource).
	ServiceAccountToken(ctx context.Context, namespace, saName string, req *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error)
}

// Options configures a Manager.
type Options struct {
	// RootDir is the kubelet's root; pod directories are RootDir/pods/<uid>.
	RootDir string
	Source  Source
	Log     *slog.Logger
	// Clock decides when service account tokens are refreshed. Default: real time.
	Clock clock.PassiveClock
	// NodeAllocatable fills unset limits in downwardAPI resourceFieldRefs.
	NodeAllocatable v1.ResourceList
	// DisableTmpfs puts secret, projected and Memory emptyDir volumes on plain
	// directories. For unprivileged runs; Secrets then touch the disk.
	DisableTmpfs bool
}

// Manager sets up and tears down pod volumes. It is safe for concurrent use
// for different pods; calls for one pod must not overlap.
type Manager struct {
	root    string
	src     Source
	log     *slog.Logger
	clock   clock.PassiveClock
	alloc   v1.ResourceList
	noTmpfs bool

	mu     sync.Mutex
	tokens map[types.UID]map[tokenKey]*authenticationv1.TokenRequest
}

// New validates and defaults opts and returns a Manager.
func New(opts Options) (*Manager, error) {
	if opts.RootDir == "" || !filepath.IsAbs(opts.RootDir) {
		return nil, fmt.Errorf("volume: RootDir must be an absolute path, got %q", opts.RootDir)
	}
	if opts.Source == nil {
		return nil, errors.New("volume: Source is required")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	// Mount points in /proc/self/mountinfo are resolved paths; so must ours be.
	if err := os.MkdirAll(filepath.Join(opts.RootDir, "pods"), 0o750); err != nil {
		return nil, fmt.Errorf("volume: %w", err)
	}
	root, err := filepath.EvalSymlinks(opts.RootDir)
	if err != nil {
		return nil, fmt.Errorf("volume: %w", err)
	}
	return &Manager{
		root:    root,
		src:     opts.Source,
		log:     opts.Log,
		clock:   opts.Clock,
		alloc:   opts.NodeAllocatable,
		noTmpfs: opts.DisableTmpfs,
		tokens:  map[types.UID]map[tokenKey]*authenticationv1.TokenRequest{},
	}, nil
}

// PodDir is the directory the pod's volumes (and other per-pod files the
// kubelet keeps) live in; TearDown removes it.
func (m *Manager) PodDir(uid types.UID) string {
	return filepath.Join(m.root, "pods", string(uid))
}

// Volume is one prepared volume.
type Volume struct {
	// HostPath is the path on the node a container mount binds.
	HostPath string
	// ReadOnly forces mounts read-only: configMap, secret, downwardAPI and
	// projected volumes, and claims marked readOnly.
	ReadOnly bool
}

// Volumes maps a pod's volume names to what SetUp prepared.
type Volumes map[string]Volume

// ErrClaimNotBound is matched (errors.Is) by a SetUpError for a claim that has
// no bound PersistentVolume yet; the kubelet retries on a later sync.
var ErrClaimNotBound = errors.New("persistentvolumeclaim is not bound")

// SetUpError reports that a volume could not be prepared. The kubelet emits
// it as a FailedMount event and keeps the pod in ContainerCreating.
type SetUpError struct {
	Volume string
	Err    error
}

func (e *SetUpError) Error() string {
	return fmt.Sprintf("MountVolume.SetUp failed for volume %q : %v", e.Volume, e.Err)
}
func (e *SetUpError) Unwrap() error { return e.Err }

// objectError words a failed fetch like upstream (`configmap "x" not found`)
// while keeping the cause for errors.Is/As (apierrors.IsNotFound).
type objectError struct {
	msg string
	err error
}

func (e *objectError) Error() string { return e.msg }
func (e *objectError) Unwrap() error { return e.err }

// SetUp prepares every volume of pod and returns them; it is idempotent. On
// failure it still prepares the other volumes, returns those, and returns the
// failures joined, each a *SetUpError.
func (m *Manager) SetUp(ctx context.Context, pod *v1.Pod, podIP string) (Volumes, error) {
	if pod.UID == "" {
		return nil, errors.New("volume: pod has no UID")
	}
	vols := make(Volumes, len(pod.Spec.Volumes))
	var errs []error
	for i := range pod.Spec.Volumes {
		spec := &pod.Spec.Volumes[i]
		vol, err := m.setUpVolume(ctx, pod, podIP, spec)
		if err != nil {
			errs = append(errs, &SetUpError{Volume: spec.Name, Err: err})
			continue
		}
		vols[spec.Name] = vol
	}
	return vols, errors.Join(errs...)
}

func (m *Manager) volumeDir(pod *v1.Pod, kind, name string) string {
	return filepath.Join(m.PodDir(pod.UID), "volumes", "kubernetes.io~"+kind, name)
}

func (m *Manager) setUpVolume(ctx context.Context, pod *v1.Pod, podIP string, spec *v1.Volume) (Volume, error) {
	if spec.Name == "" || spec.Name == "." || spec.Name == ".." || strings.ContainsRune(spec.Name, '/') {
		return Volume{}, fmt.Errorf("invalid volume name %q", spec.Name)
	}
	fsGroup := -1
	if sc := pod.Spec.SecurityContext; sc != nil && sc.FSGroup != nil {
		fsGroup = int(*sc.FSGroup)
	}
	src := &spec.VolumeSource
	switch {
	case src.EmptyDir != nil:
		dir := m.volumeDir(pod, "empty-dir", spec.Name)
		return Volume{HostPath: dir}, m.setUpEmptyDir(dir, src.EmptyDir, fsGroup)
	case src.HostPath != nil:
		return Volume{HostPath: src.HostPath.Path}, checkHostPath(src.HostPath.Path, src.HostPath.Type)
	case src.ConfigMap != nil:
		dir := m.volumeDir(pod, "configmap", spec.Name)
		payload, err := m.configMapPayload(ctx, pod.Namespace, src.ConfigMap.Name, src.ConfigMap.Items,
			src.ConfigMap.Optional, mode(src.ConfigMap.DefaultMode))
		if err != nil {
			return Volume{}, err
		}
		return Volume{HostPath: dir, ReadOnly: true}, m.writeVolume(dir, false, payload, fsGroup)
	case src.Secret != nil:
		dir := m.volumeDir(pod, "secret", spec.Name)
		payload, err := m.secretPayload(ctx, pod.Namespace, src.Secret.SecretName, src.Secret.Items,
			src.Secret.Optional, mode(src.Secret.DefaultMode))
		if err != nil {
			return Volume{}, err
		}
		return Volume{HostPath: dir, ReadOnly: true}, m.writeVolume(dir, true, payload, fsGroup)
	case src.DownwardAPI != nil:
		dir := m.volumeDir(pod, "downward-api", spec.Name)
		payload, err := m.downwardAPIPayload(pod, podIP, src.DownwardAPI.Items, mode(src.DownwardAPI.DefaultMode))
		if err != nil {
			return Volume{}, err
		}
		return Volume{HostPath: dir, ReadOnly: true}, m.writeVolume(dir, false, payload, fsGroup)
	case src.Projected != nil:
		dir := m.volumeDir(pod, "projected", spec.Name)
		payload, err := m.projectedPayload(ctx, pod, podIP, src.Projected)
		if err != nil {
			return Volume{}, err
		}
		return Volume{HostPath: dir, ReadOnly: true}, m.writeVolume(dir, true, payload, fsGroup)
	case src.PersistentVolumeClaim != nil:
		return m.setUpClaim(ctx, pod.Namespace, src.PersistentVolumeClaim)
	}
	return Volume{}, errors.New("volume type not supported by k1s")
}

func mode(m *int32) int32 {
	if m == nil {
		return v1.ConfigMapVolumeSourceDefaultMode // 0644, the default of every kind
	}
	return *m
}

// setUpEmptyDir creates a world-writable directory, on tmpfs for medium Memory.
func (m *Manager) setUpEmptyDir(dir string, src *v1.EmptyDirVolumeSource, fsGroup int) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	if src.Medium == v1.StorageMediumMemory && !m.noTmpfs {
		var size int64
		if src.SizeLimit != nil {
			size = src.SizeLimit.Value()
		}
		if err := m.mountTmpfs(dir, size); err != nil {
			return err
		}
	} else if src.Medium != v1.StorageMediumDefault && src.Medium != v1.StorageMediumMemory {
		return fmt.Errorf("emptyDir medium %q not supported by k1s", src.Medium)
	}
	perm := os.FileMode(0o777)
	if fsGroup >= 0 {
		if err := os.Lchown(dir, -1, fsGroup); err != nil {
			return err
		}
		perm |= os.ModeSetgid
	}
	return os.Chmod(dir, perm) // explicit: the umask must not narrow it
}

// writeVolume (re)writes an atomically updated volume, on tmpfs when memory is
// set.
func (m *Manager) writeVolume(dir string, memory bool, payload map[string]file, fsGroup int) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	if memory && !m.noTmpfs {
		if err := m.mountTmpfs(dir, 0); err != nil {
			return err
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	return writeAtomic(dir, payload, fsGroup)
}

// TearDown unmounts everything mounted under the pod's directory and removes
// it. It is idempotent: a pod without a directory is not an error.
func (m *Manager) TearDown(ctx context.Context, podUID types.UID) error {
	m.forgetTokens(podUID)
	if podUID == "" || strings.ContainsRune(string(podUID), '/') || podUID == "." || podUID == ".." {
		return fmt.Errorf("volume: invalid pod UID %q", podUID)
	}
	dir := m.PodDir(podUID)
	if err := unmountAll(dir); err != nil {
		return fmt.Errorf("tear down volumes of pod %s: %w", podUID, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("tear down volumes of pod %s: %w", podUID, err)
	}
	return nil
}

// CleanupOrphans tears down the directories of pods not in active, such as
// the pods deleted while the kubelet was down.
func (m *Manager) CleanupOrphans(ctx context.Context, active map[types.UID]bool) error {
	m.mu.Lock()
	for uid := range m.tokens {
		if !active[uid] {
			delete(m.tokens, uid)
		}
	}
	m.mu.Unlock()
	entries, err := os.ReadDir(filepath.Join(m.root, "pods"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("volume: list pod dirs: %w", err)
	}
	var errs []error
	for _, e := range entries {
		uid := types.UID(e.Name())
		if !e.IsDir() || active[uid] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		m.log.Info("removing volumes of orphaned pod", "podUID", uid)
		if err := m.TearDown(ctx, uid); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

package fake

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Environment variables that script a fake container; see the package doc.
const (
	EnvRunFor       = "K1S_FAKE_RUN_FOR"
	EnvExitCode     = "K1S_FAKE_EXIT_CODE"
	EnvOOM          = "K1S_FAKE_OOM"
	EnvExecExitCode = "K1S_FAKE_EXEC_EXIT_CODE"
	EnvExecFails    = "K1S_FAKE_EXEC_FAILS"
)

type container struct {
	id          string
	sandbox     *sandbox
	metadata    *runtimeapi.ContainerMetadata
	image       *runtimeapi.ImageSpec // the caller's, never written
	imageID     string
	labels      map[string]string // shared with the caller's config, never written
	annotations map[string]string // likewise
	logPath     string

	state      runtimeapi.ContainerState
	createdAt  int64 // unix nanoseconds
	startedAt  int64
	finishedAt int64
	exitCode   int32
	reason     string

	script
}

// script is how a container behaves, read from its environment at create.
type script struct {
	exits        bool          // exits on its own runFor after start
	runFor       time.Duration //
	exitCode     int32         // when it exits on its own
	oom          bool          //
	execExitCode int32         // of every ExecSync after the first execFails
	execFails    int           // ExecSyncs that exit 1 first (counted down)
}

func parseScript(envs []*runtimeapi.KeyValue) (script, error) {
	var s script
	for _, kv := range envs {
		v := string(kv.GetValue())
		switch kv.GetKey() {
		case EnvRunFor:
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return s, fmt.Errorf("%s=%q: want a non-negative duration", EnvRunFor, v)
			}
			s.exits, s.runFor = true, d
		case EnvExitCode:
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return s, fmt.Errorf("%s=%q: %w", EnvExitCode, v, err)
			}
			s.exits, s.exitCode = true, int32(n)
		case EnvOOM:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return s, fmt.Errorf("%s=%q: %w", EnvOOM, v, err)
			}
			s.oom = b
		case EnvExecExitCode:
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return s, fmt.Errorf("%s=%q: %w", EnvExecExitCode, v, err)
			}
			s.execExitCode = int32(n)
		case EnvExecFails:
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return s, fmt.Errorf("%s=%q: want a non-negative count", EnvExecFails, v)
			}
			s.execFails = n
		}
	}
	if s.oom {
		if !hasEnv(envs, EnvExitCode) {
			s.exitCode = 137
		}
		s.exits = true
	}
	return s, nil
}

func hasEnv(envs []*runtimeapi.KeyValue, key string) bool {
	return slices.ContainsFunc(envs, func(kv *runtimeapi.KeyValue) bool { return kv.GetKey() == key })
}

// refresh exits a running container whose scripted run time is over, as of
// now. Callers hold r.mu.
func (c *container) refresh(now int64) {
	if c.state != runtimeapi.ContainerState_CONTAINER_RUNNING || !c.exits {
		return
	}
	end := c.startedAt + int64(c.runFor)
	if now < end {
		return
	}
	reason := "Completed"
	switch {
	case c.oom:
		reason = "OOMKilled"
	case c.script.exitCode != 0:
		reason = "Error"
	}
	c.exit(end, c.script.exitCode, reason)
}

// kill exits a created or running container with code 0, as a process that
// honours SIGTERM does. Callers hold r.mu.
func (c *container) kill(now int64) {
	c.refresh(now)
	if c.state == runtimeapi.ContainerState_CONTAINER_CREATED || c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
		c.exit(now, 0, "Completed")
	}
}

func (c *container) exit(at int64, code int32, reason string) {
	c.state = runtimeapi.ContainerState_CONTAINER_EXITED
	c.finishedAt = at
	c.exitCode = code
	c.reason = reason
}

func (r *Runtime) CreateContainer(ctx context.Context, podSandboxID string, config *runtimeapi.ContainerConfig, sandboxConfig *runtimeapi.PodSandboxConfig) (string, error) {
	if config.GetMetadata() == nil || config.GetImage().GetImage() == "" {
		return "", status.Error(codes.InvalidArgument, "fake runtime: container config needs metadata and an image")
	}
	sc, err := parseScript(config.Envs)
	if err != nil {
		return "", status.Errorf(codes.InvalidArgument, "fake runtime: container %q: %v", config.Metadata.Name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sandboxes[podSandboxID]
	if !ok {
		return "", notFound("sandbox", podSandboxID)
	}
	if !s.ready {
		return "", fmt.Errorf("fake runtime: sandbox %q is not ready", podSandboxID)
	}
	imageID, ok := r.lookupImage(config.Image.Image)
	if !ok {
		return "", fmt.Errorf("fake runtime: create container %q: image %q: %w", config.Metadata.Name, config.Image.Image, errImageNotFound)
	}
	c := &container{
		id:          r.newID(),
		sandbox:     s,
		metadata:    config.Metadata,
		image:       config.Image,
		imageID:     imageID,
		labels:      config.Labels,
		annotations: config.Annotations,
		state:       runtimeapi.ContainerState_CONTAINER_CREATED,
		createdAt:   r.now(),
		script:      sc,
	}
	if config.LogPath != "" {
		c.logPath = filepath.Join(sandboxConfig.GetLogDirectory(), config.LogPath)
	}
	r.containers[c.id] = c
	s.containers = append(s.containers, c)
	return c.id, nil
}

func (r *Runtime) StartContainer(ctx context.Context, containerID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[containerID]
	if !ok {
		return notFound("container", containerID)
	}
	if c.state != runtimeapi.ContainerState_CONTAINER_CREATED {
		return fmt.Errorf("fake runtime: start container %q: it is %s, not created", containerID, c.state)
	}
	if !c.sandbox.ready {
		return fmt.Errorf("fake runtime: start container %q: sandbox %q is not ready", containerID, c.sandbox.id)
	}
	now := r.now()
	c.state = runtimeapi.ContainerState_CONTAINER_RUNNING
	c.startedAt = now
	c.refresh(now)
	return nil
}

// StopContainer exits a running container at once with code 0; see the
// package doc. The timeout does not matter.
func (r *Runtime) StopContainer(ctx context.Context, containerID string, timeout time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[containerID]
	if !ok {
		return notFound("container", containerID)
	}
	now := r.now()
	c.refresh(now)
	if c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
		c.exit(now, 0, "Completed")
	}
	return nil
}

func (r *Runtime) RemoveContainer(ctx context.Context, containerID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[containerID]
	if !ok {
		return nil
	}
	if c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
		// Like containerd, removing a running container kills it first.
		c.exit(r.now(), 137, "Error")
	}
	delete(r.containers, containerID)
	c.sandbox.containers = slices.DeleteFunc(c.sandbox.containers, func(o *container) bool { return o == c })
	return nil
}

func (r *Runtime) ListContainers(ctx context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	var out []*runtimeapi.Container
	for _, c := range r.containers {
		c.refresh(now)
		if filter != nil {
			if filter.Id != "" && filter.Id != c.id {
				continue
			}
			if filter.PodSandboxId != "" && filter.PodSandboxId != c.sandbox.id {
				continue
			}
			if filter.State != nil && filter.State.State != c.state {
				continue
			}
			if !matchLabels(c.labels, filter.LabelSelector) {
				continue
			}
		}
		out = append(out, &runtimeapi.Container{
			Id:           c.id,
			PodSandboxId: c.sandbox.id,
			Metadata:     copyContainerMetadata(c.metadata),
			Image:        copyImageSpec(c.image),
			ImageRef:     c.imageID,
			ImageId:      c.imageID,
			State:        c.state,
			CreatedAt:    c.createdAt,
			Labels:       maps.Clone(c.labels),
			Annotations:  maps.Clone(c.annotations),
		})
	}
	slices.SortFunc(out, func(a, b *runtimeapi.Container) int { return strings.Compare(a.Id, b.Id) })
	return out, nil
}

func (r *Runtime) ContainerStatus(ctx context.Context, containerID string) (*runtimeapi.ContainerStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[containerID]
	if !ok {
		return nil, notFound("container", containerID)
	}
	c.refresh(r.now())
	return &runtimeapi.ContainerStatus{
		Id:          c.id,
		Metadata:    copyContainerMetadata(c.metadata),
		State:       c.state,
		CreatedAt:   c.createdAt,
		StartedAt:   c.startedAt,
		FinishedAt:  c.finishedAt,
		ExitCode:    c.exitCode,
		Image:       copyImageSpec(c.image),
		ImageRef:    c.imageID,
		ImageId:     c.imageID,
		Reason:      c.reason,
		Labels:      maps.Clone(c.labels),
		Annotations: maps.Clone(c.annotations),
		LogPath:     c.logPath,
	}, nil
}

// ExecSync returns no output and exit code 1 for the container's first
// K1S_FAKE_EXEC_FAILS calls, then its K1S_FAKE_EXEC_EXIT_CODE.
func (r *Runtime) ExecSync(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (stdout, stderr []byte, exitCode int32, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[containerID]
	if !ok {
		return nil, nil, 0, notFound("container", containerID)
	}
	c.refresh(r.now())
	if c.state != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return nil, nil, 0, fmt.Errorf("fake runtime: exec in container %q: it is %s, not running", containerID, c.state)
	}
	if c.execFails > 0 {
		c.execFails--
		return nil, nil, 1, nil
	}
	return nil, nil, c.execExitCode, nil
}

func copyContainerMetadata(m *runtimeapi.ContainerMetadata) *runtimeapi.ContainerMetadata {
	return &runtimeapi.ContainerMetadata{Name: m.Name, Attempt: m.Attempt}
}

func copyImageSpec(s *runtimeapi.ImageSpec) *runtimeapi.ImageSpec {
	return &runtimeapi.ImageSpec{
		Image:              s.Image,
		Annotations:        maps.Clone(s.Annotations),
		UserSpecifiedImage: s.UserSpecifiedImage,
		RuntimeHandler:     s.RuntimeHandler,
	}
}

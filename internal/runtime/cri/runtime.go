package cri

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/k1s/k1s/internal/runtime"
)

// maxMessageSize bounds one CRI response. ListContainers on a busy node and
// ExecSync output can exceed gRPC's 4 MiB default; the kubelet uses 16 MiB.
const maxMessageSize = 16 << 20

// Runtime is a CRI v1 client. It is safe for concurrent use.
type Runtime struct {
	conn    *grpc.ClientConn
	runtime runtimeapi.RuntimeServiceClient
	images  runtimeapi.ImageServiceClient
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns a client for the CRI runtime at endpoint, a unix socket path
// with or without the "unix://" scheme. It does not dial: the first call
// connects, so New succeeds before the runtime is up.
func New(endpoint string) (*Runtime, error) {
	if endpoint == "" {
		return nil, errors.New("cri: empty endpoint")
	}
	target := endpoint
	if !strings.HasPrefix(target, "unix://") {
		if strings.Contains(target, "://") {
			return nil, fmt.Errorf("cri: endpoint %q: only unix sockets are supported", endpoint)
		}
		target = "unix://" + target
	}
	conn, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(maxMessageSize),
			grpc.MaxCallSendMsgSize(maxMessageSize),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("cri: connect %s: %w", endpoint, err)
	}
	return &Runtime{
		conn:    conn,
		runtime: runtimeapi.NewRuntimeServiceClient(conn),
		images:  runtimeapi.NewImageServiceClient(conn),
	}, nil
}

// Close closes the connection. Calls in flight fail.
func (r *Runtime) Close() error {
	return r.conn.Close()
}

// wrap turns a gRPC error into this package's error contract: NotFound wraps
// runtime.ErrNotFound, everything else keeps its status.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if status.Code(err) == codes.NotFound {
		return &notFoundError{op: op, status: err}
	}
	return fmt.Errorf("cri %s: %w", op, err)
}

// notFoundError is both runtime.ErrNotFound and the original gRPC status
// error, so errors.Is(err, runtime.ErrNotFound) and status.Code(err) both
// work.
type notFoundError struct {
	op     string
	status error
}

func (e *notFoundError) Error() string {
	return fmt.Sprintf("cri %s: %s: %s", e.op, runtime.ErrNotFound, status.Convert(e.status).Message())
}

func (e *notFoundError) Unwrap() []error { return []error{runtime.ErrNotFound, e.status} }

// GRPCStatus lets status.Code and status.FromError see through the wrapper.
func (e *notFoundError) GRPCStatus() *status.Status { return status.Convert(e.status) }

func (r *Runtime) Version(ctx context.Context) (*runtimeapi.VersionResponse, error) {
	resp, err := r.runtime.Version(ctx, &runtimeapi.VersionRequest{Version: "v1"})
	return resp, wrap("Version", err)
}

func (r *Runtime) Status(ctx context.Context) (*runtimeapi.RuntimeStatus, error) {
	resp, err := r.runtime.Status(ctx, &runtimeapi.StatusRequest{})
	if err != nil {
		return nil, wrap("Status", err)
	}
	return resp.Status, nil
}

func (r *Runtime) RunPodSandbox(ctx context.Context, config *runtimeapi.PodSandboxConfig, runtimeHandler string) (string, error) {
	resp, err := r.runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: config, RuntimeHandler: runtimeHandler})
	if err != nil {
		return "", wrap("RunPodSandbox", err)
	}
	if resp.PodSandboxId == "" {
		return "", errors.New("cri RunPodSandbox: runtime returned an empty sandbox ID")
	}
	return resp.PodSandboxId, nil
}

func (r *Runtime) StopPodSandbox(ctx context.Context, podSandboxID string) error {
	_, err := r.runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: podSandboxID})
	return wrap("StopPodSandbox", err)
}

func (r *Runtime) RemovePodSandbox(ctx context.Context, podSandboxID string) error {
	_, err := r.runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podSandboxID})
	return wrap("RemovePodSandbox", err)
}

func (r *Runtime) PodSandboxStatus(ctx context.Context, podSandboxID string) (*runtimeapi.PodSandboxStatus, error) {
	resp, err := r.runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: podSandboxID})
	if err != nil {
		return nil, wrap("PodSandboxStatus", err)
	}
	if resp.Status == nil {
		return nil, fmt.Errorf("cri PodSandboxStatus %s: runtime returned no status", podSandboxID)
	}
	return resp.Status, nil
}

func (r *Runtime) ListPodSandbox(ctx context.Context, filter *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error) {
	resp, err := r.runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: filter})
	if err != nil {
		return nil, wrap("ListPodSandbox", err)
	}
	return resp.Items, nil
}

func (r *Runtime) CreateContainer(ctx context.Context, podSandboxID string, config *runtimeapi.ContainerConfig, sandboxConfig *runtimeapi.PodSandboxConfig) (string, error) {
	resp, err := r.runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId:  podSandboxID,
		Config:        config,
		SandboxConfig: sandboxConfig,
	})
	if err != nil {
		return "", wrap("CreateContainer", err)
	}
	if resp.ContainerId == "" {
		return "", errors.New("cri CreateContainer: runtime returned an empty container ID")
	}
	return resp.ContainerId, nil
}

func (r *Runtime) StartContainer(ctx context.Context, containerID string) error {
	_, err := r.runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: containerID})
	return wrap("StartContainer", err)
}

// StopContainer passes timeout to the runtime in whole seconds, rounded up so
// that a sub-second grace period is not turned into an immediate kill.
func (r *Runtime) StopContainer(ctx context.Context, containerID string, timeout time.Duration) error {
	_, err := r.runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{
		ContainerId: containerID,
		Timeout:     seconds(timeout),
	})
	return wrap("StopContainer", err)
}

func (r *Runtime) RemoveContainer(ctx context.Context, containerID string) error {
	_, err := r.runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: containerID})
	return wrap("RemoveContainer", err)
}

func (r *Runtime) ListContainers(ctx context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	resp, err := r.runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: filter})
	if err != nil {
		return nil, wrap("ListContainers", err)
	}
	return resp.Containers, nil
}

func (r *Runtime) ContainerStatus(ctx context.Context, containerID string) (*runtimeapi.ContainerStatus, error) {
	resp, err := r.runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: containerID})
	if err != nil {
		return nil, wrap("ContainerStatus", err)
	}
	if resp.Status == nil {
		return nil, fmt.Errorf("cri ContainerStatus %s: runtime returned no status", containerID)
	}
	return resp.Status, nil
}

// ExecSync passes timeout to the runtime in whole seconds, rounded up; zero
// means no timeout.
func (r *Runtime) ExecSync(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (stdout, stderr []byte, exitCode int32, err error) {
	resp, err := r.runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{
		ContainerId: containerID,
		Cmd:         cmd,
		Timeout:     seconds(timeout),
	})
	if err != nil {
		return nil, nil, 0, wrap("ExecSync", err)
	}
	return resp.Stdout, resp.Stderr, resp.ExitCode, nil
}

func (r *Runtime) Exec(ctx context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	resp, err := r.runtime.Exec(ctx, req)
	return resp, wrap("Exec", err)
}

func (r *Runtime) Attach(ctx context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	resp, err := r.runtime.Attach(ctx, req)
	return resp, wrap("Attach", err)
}

func (r *Runtime) PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	resp, err := r.runtime.PortForward(ctx, req)
	return resp, wrap("PortForward", err)
}

func (r *Runtime) PullImage(ctx context.Context, image *runtimeapi.ImageSpec, auth *runtimeapi.AuthConfig, podSandboxConfig *runtimeapi.PodSandboxConfig) (string, error) {
	resp, err := r.images.PullImage(ctx, &runtimeapi.PullImageRequest{
		Image:         image,
		Auth:          auth,
		SandboxConfig: podSandboxConfig,
	})
	if err != nil {
		return "", wrap("PullImage", err)
	}
	return resp.ImageRef, nil
}

func (r *Runtime) ImageStatus(ctx context.Context, image *runtimeapi.ImageSpec) (*runtimeapi.Image, error) {
	resp, err := r.images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: image})
	if err != nil {
		if status.Code(err) == codes.NotFound {
			return nil, nil
		}
		return nil, wrap("ImageStatus", err)
	}
	return resp.Image, nil
}

func (r *Runtime) ListImages(ctx context.Context) ([]*runtimeapi.Image, error) {
	resp, err := r.images.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err != nil {
		return nil, wrap("ListImages", err)
	}
	return resp.Images, nil
}

// seconds rounds d up to whole seconds, as CRI timeouts are in seconds.
func seconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

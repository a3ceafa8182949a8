package cri

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/k1s/k1s/internal/runtime"
)

// scriptedServer answers a few CRI calls the way a runtime does, to check
// the client's error mapping without a real runtime.
type scriptedServer struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	runtimeapi.UnimplementedImageServiceServer
}

func (scriptedServer) ContainerStatus(ctx context.Context, req *runtimeapi.ContainerStatusRequest) (*runtimeapi.ContainerStatusResponse, error) {
	return nil, status.Errorf(codes.NotFound, "an error occurred when try to find container %q: not found", req.ContainerId)
}

func (scriptedServer) PodSandboxStatus(ctx context.Context, req *runtimeapi.PodSandboxStatusRequest) (*runtimeapi.PodSandboxStatusResponse, error) {
	return nil, status.Error(codes.Internal, "boom")
}

func (scriptedServer) ExecSync(ctx context.Context, req *runtimeapi.ExecSyncRequest) (*runtimeapi.ExecSyncResponse, error) {
	return &runtimeapi.ExecSyncResponse{Stdout: []byte(strconv.FormatInt(req.Timeout, 10)), ExitCode: 7}, nil
}

func (scriptedServer) ImageStatus(ctx context.Context, req *runtimeapi.ImageStatusRequest) (*runtimeapi.ImageStatusResponse, error) {
	if req.Image.GetImage() == "gone" {
		return nil, status.Error(codes.NotFound, "image gone")
	}
	return &runtimeapi.ImageStatusResponse{}, nil
}

func newScriptedRuntime(t *testing.T) *Runtime {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "cri.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	runtimeapi.RegisterRuntimeServiceServer(srv, scriptedServer{})
	runtimeapi.RegisterImageServiceServer(srv, scriptedServer{})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	rt, err := New(sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	return rt
}

func TestErrors(t *testing.T) {
	rt := newScriptedRuntime(t)
	ctx := t.Context()

	_, err := rt.ContainerStatus(ctx, "abc")
	if !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("ContainerStatus error %v does not wrap ErrNotFound", err)
	}
	if status.Code(err) != codes.NotFound {
		t.Errorf("status.Code(%v) = %v, want NotFound", err, status.Code(err))
	}
	if !strings.Contains(err.Error(), `container "abc"`) {
		t.Errorf("error %q lost the runtime's message", err)
	}

	_, err = rt.PodSandboxStatus(ctx, "abc")
	if errors.Is(err, runtime.ErrNotFound) || status.Code(err) != codes.Internal {
		t.Errorf("PodSandboxStatus error %v: want Internal, not ErrNotFound", err)
	}

	_, err = rt.Exec(ctx, &runtimeapi.ExecRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("Exec error %v, want Unimplemented", err)
	}

	img, err := rt.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: "gone"})
	if img != nil || err != nil {
		t.Errorf("ImageStatus(NotFound) = %v, %v; want nil, nil", img, err)
	}
	img, err = rt.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: "absent"})
	if img != nil || err != nil {
		t.Errorf("ImageStatus(no image) = %v, %v; want nil, nil", img, err)
	}
}

func TestExecSyncTimeout(t *testing.T) {
	rt := newScriptedRuntime(t)
	tests := []struct {
		timeout time.Duration
		want    string
	}{
		{0, "0"},
		{-time.Second, "0"},
		{time.Millisecond, "1"},
		{time.Second, "1"},
		{1500 * time.Millisecond, "2"},
		{time.Minute, "60"},
	}
	for _, tc := range tests {
		stdout, _, code, err := rt.ExecSync(t.Context(), "c", []string{"true"}, tc.timeout)
		if err != nil {
			t.Fatal(err)
		}
		if string(stdout) != tc.want || code != 7 {
			t.Errorf("ExecSync(timeout %v): runtime got timeout %s, exit code %d; want %s, 7", tc.timeout, stdout, code, tc.want)
		}
	}
}

func TestNewEndpoints(t *testing.T) {
	tests := []struct {
		endpoint string
		valid    bool
	}{
		{"/run/containerd/containerd.sock", true},
		{"unix:///run/containerd/containerd.sock", true},
		{"", false},
		{"tcp://127.0.0.1:1234", false},
	}
	for _, tc := range tests {
		rt, err := New(tc.endpoint)
		if (err == nil) != tc.valid {
			t.Errorf("New(%q) error = %v, want valid=%v", tc.endpoint, err, tc.valid)
		}
		if rt != nil {
			rt.Close()
		}
	}
}

package containerd

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestNodeNetNS runs containerd inside a node network namespace, as a
// second node on this machine would: its pods' bridge is created there,
// not on the host.
func TestNodeNetNS(t *testing.T) {
	requireRuntime(t)
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Skip("nsenter not installed")
	}
	netns := fmt.Sprintf("k1sct%d", os.Getpid()%100000)
	if out, err := exec.Command("ip", "netns", "add", netns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", netns).Run() })
	const podCIDR, bridge = "10.244.218.0/24", "k1sct1"
	dir := shortTempDir(t)
	cgroupParent := fmt.Sprintf("/k1sctest/pod-ns-%d", os.Getpid())
	t.Cleanup(func() { removeCgroup(t, cgroupParent) })

	c, err := New(Options{
		DataDir:    dir,
		PodCIDR:    podCIDR,
		BridgeName: bridge,
		NetNSPath:  filepath.Join("/var/run/netns", netns),
	})
	if err != nil {
		t.Fatal(err)
	}
	startRun(t, c)
	conn, err := grpc.NewClient(c.Endpoint(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	run, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "n", Uid: "uid-k1sctest-ns", Namespace: "default"},
		LogDirectory: filepath.Join(dir, "pods"),
		Linux:        &runtimeapi.LinuxPodSandboxConfig{CgroupParent: cgroupParent},
	}})
	if err != nil {
		log, _ := os.ReadFile(c.LogPath())
		t.Fatalf("RunPodSandbox: %v\n%s", err, log)
	}
	id := run.PodSandboxId
	defer func() {
		if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
			t.Errorf("StopPodSandbox: %v", err)
		}
		if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
			t.Errorf("RemovePodSandbox: %v", err)
		}
	}()
	status, err := rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id})
	if err != nil {
		t.Fatal(err)
	}
	ip, err := netip.ParseAddr(status.GetStatus().GetNetwork().GetIp())
	if err != nil || !netip.MustParsePrefix(podCIDR).Contains(ip) {
		t.Errorf("sandbox IP %q, want one in %s", status.GetStatus().GetNetwork().GetIp(), podCIDR)
	}
	if out, err := exec.Command("ip", "-n", netns, "link", "show", bridge).CombinedOutput(); err != nil {
		t.Errorf("bridge %s not in netns %s: %v: %s", bridge, netns, err, out)
	}
	if err := exec.Command("ip", "link", "show", bridge).Run(); err == nil {
		t.Errorf("bridge %s created on the host", bridge)
		exec.Command("ip", "link", "del", bridge).Run()
	}
}

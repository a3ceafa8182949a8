package node

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/k1s/k1s/internal/runtime/cri"
)

// BenchmarkRuntimeFloor starts 30 pods (sandbox, then one container)
// in parallel straight through CRI, without the kubelet or the
// api-server: the floor under BenchmarkPodStartup's 30-pod burst on this
// machine. The difference between the two is what k1s adds.
func BenchmarkRuntimeFloor(b *testing.B) {
	if skipReason != "" {
		b.Skip(skipReason)
	}
	rt, err := cri.New("unix://" + filepath.Join(agentDir, "containerd", "containerd.sock"))
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	ctx := context.Background()
	const n = 30
	for round := range b.N {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var ids []string
		var sandboxes []time.Duration
		start := time.Now()
		for i := range n {
			wg.Go(func() {
				cfg := &runtimeapi.PodSandboxConfig{
					Metadata: &runtimeapi.PodSandboxMetadata{Name: fmt.Sprintf("floor-%d", i), Namespace: "floor",
						Uid: fmt.Sprintf("floor-%d-%d-%d", round, i, time.Now().UnixNano())},
					LogDirectory: b.TempDir(),
					Linux:        &runtimeapi.LinuxPodSandboxConfig{CgroupParent: cgroupRoot + "/floor"},
				}
				t0 := time.Now()
				id, err := rt.RunPodSandbox(ctx, cfg, "")
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				ids = append(ids, id)
				sandboxes = append(sandboxes, time.Since(t0))
				mu.Unlock()
				cid, err := rt.CreateContainer(ctx, id, &runtimeapi.ContainerConfig{
					Metadata: &runtimeapi.ContainerMetadata{Name: "c"}, Image: &runtimeapi.ImageSpec{Image: busybox},
					Command: []string{"sleep", "3600"}, LogPath: "c.log",
				}, cfg)
				if err == nil {
					err = rt.StartContainer(ctx, cid)
				}
				if err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		b.ReportMetric(time.Since(start).Seconds(), "30-parallel-all-running-s")
		b.ReportMetric(percentile(sandboxes, 50).Seconds(), "sandbox-p50-s")
		for _, id := range ids {
			rt.StopPodSandbox(ctx, id)
			rt.RemovePodSandbox(ctx, id)
		}
	}
	waitRuntimeEmpty(b)
}

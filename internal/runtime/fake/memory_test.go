package fake

import (
	goruntime "runtime"
	"strconv"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	testingclock "k8s.io/utils/clock/testing"
)

// TestMemoryPerPod keeps the fake small enough for 5,000 hollow nodes in
// 4 GiB: a pod with two running containers, including the configs the
// runtime keeps references to, must stay under a few KiB.
func TestMemoryPerPod(t *testing.T) {
	const pods = 2000
	const maxPerPod = 4 << 10
	rt, err := New(Options{PodCIDR: "10.0.0.0/16", Clock: testingclock.NewFakePassiveClock(epoch)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := rt.PullImage(ctx, &runtimeapi.ImageSpec{Image: "app"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	before := heapInUse()
	for i := range pods {
		uid := "0000-" + strconv.Itoa(i)
		sandboxConfig := &runtimeapi.PodSandboxConfig{
			Metadata:     &runtimeapi.PodSandboxMetadata{Name: "pod-" + uid, Uid: uid, Namespace: "default"},
			LogDirectory: "/var/log/pods/default_pod-" + uid + "_" + uid,
			Labels:       map[string]string{"io.kubernetes.pod.name": "pod-" + uid, "io.kubernetes.pod.namespace": "default", "io.kubernetes.pod.uid": uid},
			Annotations:  map[string]string{"kubernetes.io/config.source": "api"},
		}
		sandboxID, err := rt.RunPodSandbox(ctx, sandboxConfig, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"app", "sidecar"} {
			id, err := rt.CreateContainer(ctx, sandboxID, &runtimeapi.ContainerConfig{
				Metadata: &runtimeapi.ContainerMetadata{Name: name},
				Image:    &runtimeapi.ImageSpec{Image: "app"},
				Envs:     []*runtimeapi.KeyValue{{Key: EnvExecExitCode, Value: []byte("0")}},
				Labels:   map[string]string{"io.kubernetes.container.name": name, "io.kubernetes.pod.uid": uid},
				LogPath:  name + "/0.log",
			}, sandboxConfig)
			if err != nil {
				t.Fatal(err)
			}
			if err := rt.StartContainer(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	perPod := (heapInUse() - before) / pods
	t.Logf("%d bytes per pod", perPod)
	if perPod > maxPerPod {
		t.Errorf("%d bytes per pod, want at most %d", perPod, maxPerPod)
	}
	goruntime.KeepAlive(rt)
}

func heapInUse() int64 {
	goruntime.GC()
	var m goruntime.MemStats
	goruntime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

package fake

import (
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/k1s/k1s/internal/runtime"
	"github.com/k1s/k1s/internal/runtime/runtimetest"
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestConformance(t *testing.T) {
	runtimetest.Run(t, func(t *testing.T) (runtime.Runtime, runtimetest.Env) {
		clock := testingclock.NewFakePassiveClock(epoch)
		rt, err := New(Options{PodCIDR: "10.244.1.0/24", Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		return rt, runtimetest.Env{
			Image:        "registry.k1s.test/app:v1",
			MissingImage: "registry.k1s.test/doesnotexist:v1",
			Sandbox: func(t *testing.T, config *runtimeapi.PodSandboxConfig) {
				config.LogDirectory = "/var/log/pods/" + config.Metadata.Uid
			},
			Container:   scriptedContainer,
			ExecCommand: func(string, int32) []string { return []string{"probe"} },
			Advance:     func(d time.Duration) { clock.SetTime(clock.Now().Add(d)) },
		}
	})
}

// scriptedContainer makes a container behave as b through the K1S_FAKE_*
// environment; output cannot be scripted.
func scriptedContainer(b runtimetest.Behaviour) *runtimeapi.ContainerConfig {
	config := &runtimeapi.ContainerConfig{Image: &runtimeapi.ImageSpec{Image: "registry.k1s.test/app:v1"}}
	if b.Exit {
		config.Envs = append(config.Envs,
			env(EnvExitCode, strconv.Itoa(int(b.ExitCode))),
			env(EnvRunFor, "1s"))
	}
	config.Envs = append(config.Envs, env(EnvExecExitCode, strconv.Itoa(int(b.ExecExitCode))))
	return config
}

func env(k, v string) *runtimeapi.KeyValue { return &runtimeapi.KeyValue{Key: k, Value: []byte(v)} }

// newTestRuntime returns a runtime on a fake clock with the image "app"
// pulled and one ready sandbox.
func newTestRuntime(t *testing.T) (*Runtime, *testingclock.FakePassiveClock, string) {
	t.Helper()
	clock := testingclock.NewFakePassiveClock(epoch)
	rt, err := New(Options{PodCIDR: "10.244.1.0/24", Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.PullImage(t.Context(), &runtimeapi.ImageSpec{Image: "app"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	return rt, clock, runSandbox(t, rt, "pod", runtimeapi.NamespaceMode_POD)
}

func runSandbox(t *testing.T, rt *Runtime, name string, network runtimeapi.NamespaceMode) string {
	t.Helper()
	id, err := rt.RunPodSandbox(t.Context(), &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: name, Uid: name, Namespace: "default"},
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Network: network},
		}},
	}, "")
	if err != nil {
		t.Fatalf("RunPodSandbox(%s): %v", name, err)
	}
	return id
}

func TestScriptedContainers(t *testing.T) {
	tests := []struct {
		name       string
		envs       []*runtimeapi.KeyValue
		after      time.Duration // clock advance after start
		wantState  runtimeapi.ContainerState
		wantCode   int32
		wantReason string
		wantRunFor time.Duration // finishedAt - startedAt
	}{
		{"runs forever", nil, time.Hour, runtimeapi.ContainerState_CONTAINER_RUNNING, 0, "", 0},
		{"exit code alone exits at once", []*runtimeapi.KeyValue{env(EnvExitCode, "2")}, 0,
			runtimeapi.ContainerState_CONTAINER_EXITED, 2, "Error", 0},
		{"still running before run-for", []*runtimeapi.KeyValue{env(EnvExitCode, "0"), env(EnvRunFor, "10s")}, 9 * time.Second,
			runtimeapi.ContainerState_CONTAINER_RUNNING, 0, "", 0},
		{"completes after run-for", []*runtimeapi.KeyValue{env(EnvExitCode, "0"), env(EnvRunFor, "10s")}, time.Minute,
			runtimeapi.ContainerState_CONTAINER_EXITED, 0, "Completed", 10 * time.Second},
		{"run-for alone exits 0", []*runtimeapi.KeyValue{env(EnvRunFor, "5s")}, 5 * time.Second,
			runtimeapi.ContainerState_CONTAINER_EXITED, 0, "Completed", 5 * time.Second},
		{"fails after run-for", []*runtimeapi.KeyValue{env(EnvExitCode, "1"), env(EnvRunFor, "3s")}, 3 * time.Second,
			runtimeapi.ContainerState_CONTAINER_EXITED, 1, "Error", 3 * time.Second},
		{"oom", []*runtimeapi.KeyValue{env(EnvOOM, "true"), env(EnvRunFor, "2s")}, 2 * time.Second,
			runtimeapi.ContainerState_CONTAINER_EXITED, 137, "OOMKilled", 2 * time.Second},
		{"oom with exit code", []*runtimeapi.KeyValue{env(EnvOOM, "true"), env(EnvExitCode, "9")}, 0,
			runtimeapi.ContainerState_CONTAINER_EXITED, 9, "OOMKilled", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt, clock, sandboxID := newTestRuntime(t)
			id := createContainer(t, rt, sandboxID, "c", tc.envs)
			clock.SetTime(clock.Now().Add(time.Second))
			if err := rt.StartContainer(t.Context(), id); err != nil {
				t.Fatal(err)
			}
			startedAt := clock.Now()
			clock.SetTime(clock.Now().Add(tc.after))
			st, err := rt.ContainerStatus(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if st.State != tc.wantState || st.ExitCode != tc.wantCode || st.Reason != tc.wantReason {
				t.Errorf("state %v code %d reason %q, want %v %d %q", st.State, st.ExitCode, st.Reason, tc.wantState, tc.wantCode, tc.wantReason)
			}
			if st.CreatedAt != epoch.UnixNano() || st.StartedAt != startedAt.UnixNano() {
				t.Errorf("createdAt %v startedAt %v, want %v %v", time.Unix(0, st.CreatedAt), time.Unix(0, st.StartedAt), epoch, startedAt)
			}
			if tc.wantState == runtimeapi.ContainerState_CONTAINER_EXITED {
				if got := time.Duration(st.FinishedAt - st.StartedAt); got != tc.wantRunFor {
					t.Errorf("ran for %v, want %v", got, tc.wantRunFor)
				}
			}
		})
	}
}

func createContainer(t *testing.T, rt *Runtime, sandboxID, name string, envs []*runtimeapi.KeyValue) string {
	t.Helper()
	id, err := rt.CreateContainer(t.Context(), sandboxID, &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name},
		Image:    &runtimeapi.ImageSpec{Image: "app"},
		Envs:     envs,
	}, nil)
	if err != nil {
		t.Fatalf("CreateContainer(%s): %v", name, err)
	}
	return id
}

func TestListRefreshesExits(t *testing.T) {
	rt, clock, sandboxID := newTestRuntime(t)
	id := createContainer(t, rt, sandboxID, "c", []*runtimeapi.KeyValue{env(EnvRunFor, "1s")})
	if err := rt.StartContainer(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	clock.SetTime(clock.Now().Add(time.Second))
	list, err := rt.ListContainers(t.Context(), &runtimeapi.ContainerFilter{
		State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_EXITED},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Id != id {
		t.Errorf("exited containers = %v, want %s", list, id)
	}
}

func TestStopContainer(t *testing.T) {
	rt, clock, sandboxID := newTestRuntime(t)
	id := createContainer(t, rt, sandboxID, "c", []*runtimeapi.KeyValue{env(EnvExitCode, "5"), env(EnvRunFor, "1h")})
	if err := rt.StartContainer(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	clock.SetTime(clock.Now().Add(time.Minute))
	if err := rt.StopContainer(t.Context(), id, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	st, err := rt.ContainerStatus(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != 0 || st.Reason != "Completed" ||
		st.FinishedAt != clock.Now().UnixNano() {
		t.Errorf("after stop: %v code %d reason %q finished %v; want EXITED 0 Completed now", st.State, st.ExitCode, st.Reason, time.Unix(0, st.FinishedAt))
	}
}

func TestCreateContainerErrors(t *testing.T) {
	rt, _, sandboxID := newTestRuntime(t)
	tests := []struct {
		name  string
		image string
		envs  []*runtimeapi.KeyValue
	}{
		{"image not pulled", "other", nil},
		{"bad run-for", "app", []*runtimeapi.KeyValue{env(EnvRunFor, "soon")}},
		{"negative run-for", "app", []*runtimeapi.KeyValue{env(EnvRunFor, "-1s")}},
		{"bad exit code", "app", []*runtimeapi.KeyValue{env(EnvExitCode, "x")}},
		{"bad oom", "app", []*runtimeapi.KeyValue{env(EnvOOM, "maybe")}},
		{"bad exec exit code", "app", []*runtimeapi.KeyValue{env(EnvExecExitCode, "1.5")}},
		{"bad exec fails", "app", []*runtimeapi.KeyValue{env(EnvExecFails, "-1")}},
	}
	for _, tc := range tests {
		_, err := rt.CreateContainer(t.Context(), sandboxID, &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "c"},
			Image:    &runtimeapi.ImageSpec{Image: tc.image},
			Envs:     tc.envs,
		}, nil)
		if err == nil {
			t.Errorf("%s: CreateContainer succeeded, want an error", tc.name)
		}
	}
	if err := rt.StopPodSandbox(t.Context(), sandboxID); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.CreateContainer(t.Context(), sandboxID, &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "c"},
		Image:    &runtimeapi.ImageSpec{Image: "app"},
	}, nil); err == nil {
		t.Errorf("CreateContainer in a stopped sandbox succeeded, want an error")
	}
}

func TestExecSyncNeedsRunningContainer(t *testing.T) {
	rt, _, sandboxID := newTestRuntime(t)
	id := createContainer(t, rt, sandboxID, "c", nil)
	if _, _, _, err := rt.ExecSync(t.Context(), id, []string{"true"}, time.Second); err == nil {
		t.Errorf("ExecSync in a created container succeeded, want an error")
	}
}

func TestPodIPs(t *testing.T) {
	clock := testingclock.NewFakePassiveClock(epoch)
	rt, err := New(Options{PodCIDR: "10.0.0.0/29", Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	ip := func(id string) string {
		t.Helper()
		st, err := rt.PodSandboxStatus(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		return st.GetNetwork().GetIp()
	}
	// A /29 has .2 to .6 for pods.
	var ids []string
	for i, want := range []string{"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"} {
		id := runSandbox(t, rt, "pod"+strconv.Itoa(i), runtimeapi.NamespaceMode_POD)
		if got := ip(id); got != want {
			t.Errorf("sandbox %d IP = %s, want %s", i, got, want)
		}
		ids = append(ids, id)
	}
	if _, err := rt.RunPodSandbox(t.Context(), &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: "full"}}, ""); err == nil {
		t.Errorf("RunPodSandbox with the range full succeeded")
	}
	host := runSandbox(t, rt, "host", runtimeapi.NamespaceMode_NODE)
	if got := ip(host); got != "" {
		t.Errorf("host-network sandbox IP = %q, want none", got)
	}
	// Stopping keeps the IP; removing frees it for the next sandbox.
	if err := rt.StopPodSandbox(t.Context(), ids[1]); err != nil {
		t.Fatal(err)
	}
	if got := ip(ids[1]); got != "10.0.0.3" {
		t.Errorf("stopped sandbox IP = %q, want 10.0.0.3", got)
	}
	if err := rt.RemovePodSandbox(t.Context(), ids[1]); err != nil {
		t.Fatal(err)
	}
	if got := ip(runSandbox(t, rt, "again", runtimeapi.NamespaceMode_POD)); got != "10.0.0.3" {
		t.Errorf("IP after reuse = %q, want 10.0.0.3", got)
	}
}

func TestIPPoolAddresses(t *testing.T) {
	tests := []struct {
		cidr  string
		off   int32
		want  string
		valid bool
	}{
		{"10.244.0.0/16", 300, "10.244.1.44", true},
		{"10.244.3.0/24", 2, "10.244.3.2", true},
		{"fd00:1::/64", 2, "fd00:1::2", true},
		{"10.0.0.0/31", 0, "", false},
	}
	for _, tc := range tests {
		p, err := newIPPool(netipMustParse(t, tc.cidr))
		if (err == nil) != tc.valid {
			t.Errorf("%s: newIPPool error %v, want valid=%v", tc.cidr, err, tc.valid)
			continue
		}
		if err != nil {
			continue
		}
		if got := p.addr(tc.off).String(); got != tc.want {
			t.Errorf("%s offset %d = %s, want %s", tc.cidr, tc.off, got, tc.want)
		}
	}
}

func TestImages(t *testing.T) {
	rt, err := New(Options{MissingImages: []string{"gone:v1"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pull, status string
		wantErr      bool
	}{
		{"busybox", "docker.io/library/busybox:latest", false},
		{"docker.io/library/nginx:1.27", "nginx:1.27", false},
		{"quay.io/org/app", "quay.io/org/app:latest", false},
		{"localhost:5000/app@sha256:abc", "localhost:5000/app@sha256:abc", false},
		{"gone:v1", "docker.io/library/gone:v1", true},
		{"example.com/doesnotexist", "example.com/doesnotexist:latest", true},
	}
	for _, tc := range tests {
		ref, err := rt.PullImage(t.Context(), &runtimeapi.ImageSpec{Image: tc.pull}, nil, nil)
		if tc.wantErr {
			if !errors.Is(err, runtime.ErrNotFound) {
				t.Errorf("PullImage(%s) = %v, want ErrNotFound", tc.pull, err)
			}
		} else if err != nil {
			t.Errorf("PullImage(%s): %v", tc.pull, err)
		}
		img, err := rt.ImageStatus(t.Context(), &runtimeapi.ImageSpec{Image: tc.status})
		if err != nil {
			t.Fatal(err)
		}
		if tc.wantErr != (img == nil) {
			t.Errorf("ImageStatus(%s) = %v after pulling %s", tc.status, img, tc.pull)
		}
		if img != nil && img.Id != ref {
			t.Errorf("ImageStatus(%s).Id = %s, want %s", tc.status, img.Id, ref)
		}
	}
}

func TestListImages(t *testing.T) {
	rt, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"b:1", "localhost:5000/app@sha256:abc", "a"} {
		if _, err := rt.PullImage(t.Context(), &runtimeapi.ImageSpec{Image: ref}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	imgs, err := rt.ListImages(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, img := range imgs {
		got = append(got, img.Spec.Image)
	}
	want := []string{"docker.io/library/a:latest", "docker.io/library/b:1", "localhost:5000/app@sha256:abc"}
	if !slices.Equal(got, want) {
		t.Errorf("ListImages = %v, want %v", got, want)
	}
	if len(imgs) == 3 && (len(imgs[2].RepoDigests) != 1 || len(imgs[2].RepoTags) != 0) {
		t.Errorf("digest image: tags %v digests %v, want only a digest", imgs[2].RepoTags, imgs[2].RepoDigests)
	}
}

func TestStreamingUnsupported(t *testing.T) {
	rt, _, _ := newTestRuntime(t)
	_, err := rt.Exec(t.Context(), &runtimeapi.ExecRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("Exec: %v, want Unimplemented", err)
	}
	_, err = rt.Attach(t.Context(), &runtimeapi.AttachRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("Attach: %v, want Unimplemented", err)
	}
	_, err = rt.PortForward(t.Context(), &runtimeapi.PortForwardRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("PortForward: %v, want Unimplemented", err)
	}
}

func netipMustParse(t *testing.T, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConcurrentUse is for the race detector: pod workers call the runtime
// in parallel.
func TestConcurrentUse(t *testing.T) {
	rt, _, _ := newTestRuntime(t)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			ctx := t.Context()
			for i := range 20 {
				name := "w" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
				id, err := rt.RunPodSandbox(ctx, &runtimeapi.PodSandboxConfig{
					Metadata: &runtimeapi.PodSandboxMetadata{Name: name, Uid: name},
				}, "")
				if err != nil {
					t.Error(err)
					return
				}
				c, err := rt.CreateContainer(ctx, id, &runtimeapi.ContainerConfig{
					Metadata: &runtimeapi.ContainerMetadata{Name: "c"},
					Image:    &runtimeapi.ImageSpec{Image: "app"},
					Envs:     []*runtimeapi.KeyValue{env(EnvRunFor, "0s")},
				}, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if err := rt.StartContainer(ctx, c); err != nil {
					t.Error(err)
				}
				if _, err := rt.ListContainers(ctx, nil); err != nil {
					t.Error(err)
				}
				if err := rt.RemovePodSandbox(ctx, id); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	list, err := rt.ListPodSandbox(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 { // newTestRuntime's
		t.Errorf("%d sandboxes left, want 1", len(list))
	}
}

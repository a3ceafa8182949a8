package runtimetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/k1s/k1s/internal/runtime"
)

// Env is what the suite needs to know about one implementation.
type Env struct {
	// Image is a reference PullImage succeeds for; it is the image of the
	// containers Container describes.
	Image string
	// MissingImage is a reference PullImage fails for, quickly.
	MissingImage string
	// Sandbox completes a sandbox config the suite built (name, UID,
	// labels, annotations set): log directory, cgroup parent, network.
	// Optional.
	Sandbox func(t *testing.T, config *runtimeapi.PodSandboxConfig)
	// Container returns the config of a container that behaves as b, with
	// Image and whatever Command, Args and Envs it takes; the suite adds
	// metadata, labels, annotations and log path.
	Container func(b Behaviour) *runtimeapi.ContainerConfig
	// ExecCommand returns a command that prints stdout and exits with
	// exitCode, for ExecSync in a container made with
	// Behaviour{ExecExitCode: exitCode}.
	ExecCommand func(stdout string, exitCode int32) []string
	// ExecOutput says the runtime returns ExecSync output (a real one does;
	// a fake may return none).
	ExecOutput bool
	// WritesLogs says containers' output lands in their LogPath in the CRI
	// log format; without it the suite checks that nothing lands there.
	WritesLogs bool
	// Advance moves the runtime's clock forward, for runtimes on a fake
	// clock; nil means real time, which the suite waits for by polling.
	Advance func(d time.Duration)
	// Timeout bounds each wait for a container to change state. Default 20s.
	Timeout time.Duration
}

// Behaviour is what a test container does.
type Behaviour struct {
	// Stdout is printed to stdout when the container starts.
	Stdout string
	// Exit makes the container exit with ExitCode right after printing;
	// otherwise it runs until stopped, and leaves promptly on SIGTERM.
	Exit     bool
	ExitCode int32
	// ExecExitCode is the exit code ExecSync in this container is expected
	// to return for ExecCommand(_, ExecExitCode). Runtimes whose command
	// decides (all real ones) ignore it.
	ExecExitCode int32
}

// Run runs the suite. newRuntime returns a fresh runtime (or a shared one:
// every test only looks at what it created) and its Env.
func Run(t *testing.T, newRuntime func(t *testing.T) (runtime.Runtime, Env)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"Version", testVersion},
		{"Status", testStatus},
		{"Images", testImages},
		{"SandboxLifecycle", testSandboxLifecycle},
		{"SandboxFilters", testSandboxFilters},
		{"UnknownIDs", testUnknownIDs},
		{"ContainerLifecycle", testContainerLifecycle},
		{"ContainerFilters", testContainerFilters},
		{"ExitCodes", testExitCodes},
		{"ExecSync", testExecSync},
		{"StopSandboxExitsContainers", testStopSandboxExitsContainers},
		{"RemoveSandboxRemovesContainers", testRemoveSandboxRemovesContainers},
		{"Logs", testLogs},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt, env := newRuntime(t)
			if env.Timeout == 0 {
				env.Timeout = 20 * time.Second
			}
			tc.fn(t, &harness{rt: rt, env: env})
		})
	}
}

type harness struct {
	rt  runtime.Runtime
	env Env
}

// testStatus: a working runtime reports itself ready. (Its network may
// not be: a containerd without a CNI configuration says so.)
func testStatus(t *testing.T, h *harness) {
	st, err := h.rt.Status(t.Context())
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	for _, c := range st.GetConditions() {
		if c.Type == runtimeapi.RuntimeReady {
			if !c.Status {
				t.Errorf("RuntimeReady false: %s %s", c.Reason, c.Message)
			}
			return
		}
	}
	t.Errorf("no RuntimeReady condition in %v", st.GetConditions())
}

func testVersion(t *testing.T, h *harness) {
	v, err := h.rt.Version(t.Context())
	if err != nil {
		t.Fatalf("Version: %v", err)
	}
	if v.RuntimeName == "" || v.RuntimeVersion == "" {
		t.Errorf("Version = %+v, want runtime name and version", v)
	}
	if v.RuntimeApiVersion != "v1" {
		t.Errorf("RuntimeApiVersion = %q, want v1", v.RuntimeApiVersion)
	}
}

func testImages(t *testing.T, h *harness) {
	ctx := t.Context()
	ref, err := h.rt.PullImage(ctx, &runtimeapi.ImageSpec{Image: h.env.Image}, nil, nil)
	if err != nil {
		t.Fatalf("PullImage(%s): %v", h.env.Image, err)
	}
	if ref == "" {
		t.Fatalf("PullImage(%s) returned an empty image ref", h.env.Image)
	}
	for _, spec := range []string{h.env.Image, ref} {
		img, err := h.rt.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: spec})
		if err != nil {
			t.Fatalf("ImageStatus(%s): %v", spec, err)
		}
		if img == nil {
			t.Fatalf("ImageStatus(%s) = nil after pull", spec)
		}
		if img.Id != ref {
			t.Errorf("ImageStatus(%s).Id = %q, want the pulled ref %q", spec, img.Id, ref)
		}
		if img.Size == 0 {
			t.Errorf("ImageStatus(%s).Size = 0", spec)
		}
	}
	imgs, err := h.rt.ListImages(ctx)
	if err != nil {
		t.Fatalf("ListImages: %v", err)
	}
	found := false
	for _, img := range imgs {
		found = found || img.Id == ref
	}
	if !found {
		t.Errorf("ListImages has no image %s", ref)
	}

	img, err := h.rt.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: h.env.MissingImage})
	if err != nil || img != nil {
		t.Errorf("ImageStatus(%s) = %v, %v; want nil, nil", h.env.MissingImage, img, err)
	}
	if _, err := h.rt.PullImage(ctx, &runtimeapi.ImageSpec{Image: h.env.MissingImage}, nil, nil); err == nil {
		t.Errorf("PullImage(%s) succeeded, want an error", h.env.MissingImage)
	}
}

func testSandboxLifecycle(t *testing.T, h *harness) {
	ctx := t.Context()
	before := time.Now().Add(-time.Minute) // runtimes on a fake clock may start at any time
	id, config := h.sandbox(t, "lifecycle", map[string]string{"app": "lifecycle"})

	st, err := h.rt.PodSandboxStatus(ctx, id)
	if err != nil {
		t.Fatalf("PodSandboxStatus: %v", err)
	}
	if st.Id != id {
		t.Errorf("Id = %q, want %q", st.Id, id)
	}
	if st.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		t.Errorf("State = %v, want READY", st.State)
	}
	if st.CreatedAt == 0 {
		t.Errorf("CreatedAt = 0")
	}
	if h.env.Advance == nil && st.CreatedAt < before.UnixNano() {
		t.Errorf("CreatedAt = %v, want about now", time.Unix(0, st.CreatedAt))
	}
	checkSandboxMetadata(t, st.Metadata, config.Metadata)
	checkMap(t, "labels", st.Labels, config.Labels)
	checkMap(t, "annotations", st.Annotations, config.Annotations)

	if err := h.rt.StopPodSandbox(ctx, id); err != nil {
		t.Fatalf("StopPodSandbox: %v", err)
	}
	if err := h.rt.StopPodSandbox(ctx, id); err != nil {
		t.Errorf("second StopPodSandbox: %v", err)
	}
	st, err = h.rt.PodSandboxStatus(ctx, id)
	if err != nil {
		t.Fatalf("PodSandboxStatus after stop: %v", err)
	}
	if st.State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		t.Errorf("State after stop = %v, want NOTREADY", st.State)
	}

	if err := h.rt.RemovePodSandbox(ctx, id); err != nil {
		t.Fatalf("RemovePodSandbox: %v", err)
	}
	if err := h.rt.RemovePodSandbox(ctx, id); err != nil {
		t.Errorf("second RemovePodSandbox: %v, want nil (idempotent)", err)
	}
	if _, err := h.rt.PodSandboxStatus(ctx, id); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("PodSandboxStatus after remove: %v, want ErrNotFound", err)
	}
	list, err := h.rt.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{Id: id})
	if err != nil {
		t.Fatalf("ListPodSandbox: %v", err)
	}
	if len(list) != 0 {
		t.Errorf("ListPodSandbox(id) after remove = %d items, want 0", len(list))
	}
}

func testSandboxFilters(t *testing.T, h *harness) {
	ctx := t.Context()
	run := randomSuffix()
	a, configA := h.sandbox(t, "filter-a", map[string]string{"run": run, "app": "a"})
	b, _ := h.sandbox(t, "filter-b", map[string]string{"run": run, "app": "b"})
	if a == b {
		t.Fatalf("two sandboxes got the same ID %q", a)
	}
	if err := h.rt.StopPodSandbox(ctx, b); err != nil {
		t.Fatalf("StopPodSandbox: %v", err)
	}
	ready := &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY}
	notReady := &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_NOTREADY}
	tests := []struct {
		name   string
		filter *runtimeapi.PodSandboxFilter
		want   []string
	}{
		{"run label", &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"run": run}}, []string{a, b}},
		{"two labels", &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"run": run, "app": "a"}}, []string{a}},
		{"label value mismatch", &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"run": run, "app": "c"}}, nil},
		{"id", &runtimeapi.PodSandboxFilter{Id: b}, []string{b}},
		{"ready", &runtimeapi.PodSandboxFilter{State: ready, LabelSelector: map[string]string{"run": run}}, []string{a}},
		{"not ready", &runtimeapi.PodSandboxFilter{State: notReady, LabelSelector: map[string]string{"run": run}}, []string{b}},
		{"id and wrong state", &runtimeapi.PodSandboxFilter{Id: a, State: notReady}, nil},
	}
	for _, tc := range tests {
		list, err := h.rt.ListPodSandbox(ctx, tc.filter)
		if err != nil {
			t.Fatalf("%s: ListPodSandbox: %v", tc.name, err)
		}
		var got []string
		for _, s := range list {
			got = append(got, s.Id)
			if s.Id == a {
				checkSandboxMetadata(t, s.Metadata, configA.Metadata)
				checkMap(t, "list labels", s.Labels, configA.Labels)
				checkMap(t, "list annotations", s.Annotations, configA.Annotations)
				if s.State != runtimeapi.PodSandboxState_SANDBOX_READY || s.CreatedAt == 0 {
					t.Errorf("%s: listed sandbox state %v createdAt %d", tc.name, s.State, s.CreatedAt)
				}
			}
		}
		if !sameSet(got, tc.want) {
			t.Errorf("%s: ListPodSandbox = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// unknownID is an ID no runtime hands out.
const unknownID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func testUnknownIDs(t *testing.T, h *harness) {
	ctx := t.Context()
	notFound := []struct {
		name string
		call func() error
	}{
		{"PodSandboxStatus", func() error { _, err := h.rt.PodSandboxStatus(ctx, unknownID); return err }},
		{"StopPodSandbox", func() error { return h.rt.StopPodSandbox(ctx, unknownID) }},
		{"ContainerStatus", func() error { _, err := h.rt.ContainerStatus(ctx, unknownID); return err }},
		{"StartContainer", func() error { return h.rt.StartContainer(ctx, unknownID) }},
		{"StopContainer", func() error { return h.rt.StopContainer(ctx, unknownID, time.Second) }},
		{"ExecSync", func() error {
			_, _, _, err := h.rt.ExecSync(ctx, unknownID, h.env.ExecCommand("", 0), time.Second)
			return err
		}},
	}
	for _, c := range notFound {
		if err := c.call(); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("%s(unknown) = %v, want ErrNotFound", c.name, err)
		}
	}
	if err := h.rt.RemovePodSandbox(ctx, unknownID); err != nil {
		t.Errorf("RemovePodSandbox(unknown) = %v, want nil", err)
	}
	if err := h.rt.RemoveContainer(ctx, unknownID); err != nil {
		t.Errorf("RemoveContainer(unknown) = %v, want nil", err)
	}
}

func testContainerLifecycle(t *testing.T, h *harness) {
	ctx := t.Context()
	sandboxID, sandboxConfig := h.sandbox(t, "container-lifecycle", nil)
	config := h.containerConfig("sleeper", Behaviour{})
	id := h.createContainer(t, sandboxID, sandboxConfig, config)
	st := h.containerStatus(t, id)
	if st.State != runtimeapi.ContainerState_CONTAINER_CREATED {
		t.Errorf("State after create = %v, want CREATED", st.State)
	}
	if st.CreatedAt == 0 || st.StartedAt != 0 || st.FinishedAt != 0 {
		t.Errorf("after create: createdAt %d startedAt %d finishedAt %d; want only createdAt", st.CreatedAt, st.StartedAt, st.FinishedAt)
	}
	if st.Metadata.GetName() != config.Metadata.Name || st.Metadata.GetAttempt() != config.Metadata.Attempt {
		t.Errorf("Metadata = %v, want %v", st.Metadata, config.Metadata)
	}
	if st.Image.GetImage() == "" || st.ImageRef == "" {
		t.Errorf("Image = %v, ImageRef = %q; want both set", st.Image, st.ImageRef)
	}
	checkMap(t, "labels", st.Labels, config.Labels)
	checkMap(t, "annotations", st.Annotations, config.Annotations)
	if want := filepath.Join(sandboxConfig.LogDirectory, config.LogPath); st.LogPath != want {
		t.Errorf("LogPath = %q, want %q", st.LogPath, want)
	}

	if err := h.rt.StartContainer(ctx, id); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	st = h.containerStatus(t, id)
	if st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("State after start = %v (%s %s), want RUNNING", st.State, st.Reason, st.Message)
	}
	if st.StartedAt < st.CreatedAt || st.FinishedAt != 0 {
		t.Errorf("after start: createdAt %d startedAt %d finishedAt %d", st.CreatedAt, st.StartedAt, st.FinishedAt)
	}
	if err := h.rt.StartContainer(ctx, id); err == nil {
		t.Errorf("second StartContainer succeeded, want an error")
	}

	if err := h.rt.StopContainer(ctx, id, 10*time.Second); err != nil {
		t.Fatalf("StopContainer: %v", err)
	}
	st = h.containerStatus(t, id)
	if st.State != runtimeapi.ContainerState_CONTAINER_EXITED {
		t.Fatalf("State after stop = %v, want EXITED", st.State)
	}
	if st.FinishedAt < st.StartedAt {
		t.Errorf("finishedAt %d before startedAt %d", st.FinishedAt, st.StartedAt)
	}
	if err := h.rt.StopContainer(ctx, id, time.Second); err != nil {
		t.Errorf("StopContainer of an exited container: %v", err)
	}

	if err := h.rt.RemoveContainer(ctx, id); err != nil {
		t.Fatalf("RemoveContainer: %v", err)
	}
	if err := h.rt.RemoveContainer(ctx, id); err != nil {
		t.Errorf("second RemoveContainer: %v, want nil (idempotent)", err)
	}
	if _, err := h.rt.ContainerStatus(ctx, id); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("ContainerStatus after remove: %v, want ErrNotFound", err)
	}
	if err := h.rt.StartContainer(ctx, id); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("StartContainer after remove: %v, want ErrNotFound", err)
	}
}

func testContainerFilters(t *testing.T, h *harness) {
	ctx := t.Context()
	sandboxA, configA := h.sandbox(t, "cfilter-a", nil)
	sandboxB, configB := h.sandbox(t, "cfilter-b", nil)
	run := randomSuffix()
	created := h.containerConfig("created", Behaviour{})
	created.Labels["run"] = run
	createdID := h.createContainer(t, sandboxA, configA, created)
	running := h.containerConfig("running", Behaviour{})
	running.Labels["run"] = run
	runningID := h.startContainer(t, sandboxA, configA, running)
	other := h.containerConfig("other", Behaviour{})
	other.Labels["run"] = run
	other.Labels["app"] = "other"
	otherID := h.startContainer(t, sandboxB, configB, other)

	state := func(s runtimeapi.ContainerState) *runtimeapi.ContainerStateValue {
		return &runtimeapi.ContainerStateValue{State: s}
	}
	byRun := map[string]string{"run": run}
	tests := []struct {
		name   string
		filter *runtimeapi.ContainerFilter
		want   []string
	}{
		{"label", &runtimeapi.ContainerFilter{LabelSelector: byRun}, []string{createdID, runningID, otherID}},
		{"two labels", &runtimeapi.ContainerFilter{LabelSelector: map[string]string{"run": run, "app": "other"}}, []string{otherID}},
		{"sandbox", &runtimeapi.ContainerFilter{PodSandboxId: sandboxA}, []string{createdID, runningID}},
		{"id", &runtimeapi.ContainerFilter{Id: runningID}, []string{runningID}},
		{"created", &runtimeapi.ContainerFilter{State: state(runtimeapi.ContainerState_CONTAINER_CREATED), LabelSelector: byRun}, []string{createdID}},
		{"running", &runtimeapi.ContainerFilter{State: state(runtimeapi.ContainerState_CONTAINER_RUNNING), LabelSelector: byRun}, []string{runningID, otherID}},
		{"sandbox and running", &runtimeapi.ContainerFilter{PodSandboxId: sandboxB, State: state(runtimeapi.ContainerState_CONTAINER_RUNNING)}, []string{otherID}},
		{"exited", &runtimeapi.ContainerFilter{State: state(runtimeapi.ContainerState_CONTAINER_EXITED), LabelSelector: byRun}, nil},
	}
	for _, tc := range tests {
		list, err := h.rt.ListContainers(ctx, tc.filter)
		if err != nil {
			t.Fatalf("%s: ListContainers: %v", tc.name, err)
		}
		var got []string
		for _, c := range list {
			got = append(got, c.Id)
			if c.Id == runningID {
				if c.PodSandboxId != sandboxA || c.State != runtimeapi.ContainerState_CONTAINER_RUNNING ||
					c.Metadata.GetName() != "running" || c.ImageRef == "" || c.Image.GetImage() == "" || c.CreatedAt == 0 {
					t.Errorf("%s: listed container = %v", tc.name, c)
				}
				checkMap(t, "list labels", c.Labels, running.Labels)
				checkMap(t, "list annotations", c.Annotations, running.Annotations)
			}
		}
		if !sameSet(got, tc.want) {
			t.Errorf("%s: ListContainers = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func testExitCodes(t *testing.T, h *harness) {
	sandboxID, sandboxConfig := h.sandbox(t, "exit-codes", nil)
	tests := []struct {
		code   int32
		reason string
	}{
		{0, "Completed"},
		{1, "Error"},
		{42, "Error"},
	}
	ids := make([]string, len(tests))
	for i, tc := range tests {
		config := h.containerConfig("exit-"+itoa(tc.code), Behaviour{Exit: true, ExitCode: tc.code})
		ids[i] = h.startContainer(t, sandboxID, sandboxConfig, config)
	}
	for i, tc := range tests {
		st := h.waitExited(t, ids[i])
		if st.ExitCode != tc.code {
			t.Errorf("exit %d: ExitCode = %d", tc.code, st.ExitCode)
		}
		if st.Reason != tc.reason {
			t.Errorf("exit %d: Reason = %q, want %q", tc.code, st.Reason, tc.reason)
		}
		// No order between the two: containerd records startedAt after
		// the start call returns, which can be after a fast exit.
		if st.StartedAt == 0 || st.FinishedAt == 0 {
			t.Errorf("exit %d: startedAt %d finishedAt %d, want both set", tc.code, st.StartedAt, st.FinishedAt)
		}
	}
}

func testExecSync(t *testing.T, h *harness) {
	ctx := t.Context()
	sandboxID, sandboxConfig := h.sandbox(t, "exec", nil)
	tests := []struct {
		name   string
		stdout string
		code   int32
	}{
		{"success", "ok", 0},
		{"failure", "failed", 3},
	}
	for _, tc := range tests {
		id := h.startContainer(t, sandboxID, sandboxConfig, h.containerConfig("exec-"+tc.name, Behaviour{ExecExitCode: tc.code}))
		stdout, _, code, err := h.rt.ExecSync(ctx, id, h.env.ExecCommand(tc.stdout, tc.code), 10*time.Second)
		if err != nil {
			t.Fatalf("%s: ExecSync: %v", tc.name, err)
		}
		if code != tc.code {
			t.Errorf("%s: exit code = %d, want %d", tc.name, code, tc.code)
		}
		if h.env.ExecOutput && string(stdout) != tc.stdout {
			t.Errorf("%s: stdout = %q, want %q", tc.name, stdout, tc.stdout)
		}
	}
}

func testStopSandboxExitsContainers(t *testing.T, h *harness) {
	ctx := t.Context()
	sandboxID, sandboxConfig := h.sandbox(t, "stop-sandbox", nil)
	id := h.startContainer(t, sandboxID, sandboxConfig, h.containerConfig("sleeper", Behaviour{}))
	if err := h.rt.StopPodSandbox(ctx, sandboxID); err != nil {
		t.Fatalf("StopPodSandbox: %v", err)
	}
	st := h.containerStatus(t, id)
	if st.State != runtimeapi.ContainerState_CONTAINER_EXITED {
		t.Errorf("container state after StopPodSandbox = %v, want EXITED", st.State)
	}
}

func testRemoveSandboxRemovesContainers(t *testing.T, h *harness) {
	ctx := t.Context()
	sandboxID, sandboxConfig := h.sandbox(t, "remove-sandbox", nil)
	running := h.startContainer(t, sandboxID, sandboxConfig, h.containerConfig("running", Behaviour{}))
	created := h.createContainer(t, sandboxID, sandboxConfig, h.containerConfig("created", Behaviour{}))
	if err := h.rt.StopPodSandbox(ctx, sandboxID); err != nil {
		t.Fatalf("StopPodSandbox: %v", err)
	}
	if err := h.rt.RemovePodSandbox(ctx, sandboxID); err != nil {
		t.Fatalf("RemovePodSandbox: %v", err)
	}
	for _, id := range []string{running, created} {
		if _, err := h.rt.ContainerStatus(ctx, id); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("ContainerStatus(%s) after sandbox removal = %v, want ErrNotFound", id, err)
		}
	}
	list, err := h.rt.ListContainers(ctx, &runtimeapi.ContainerFilter{PodSandboxId: sandboxID})
	if err != nil {
		t.Fatalf("ListContainers: %v", err)
	}
	if len(list) != 0 {
		t.Errorf("ListContainers(sandbox) after removal = %d containers, want 0", len(list))
	}
}

// criLogLine is one line of the CRI log format: RFC 3339 time, stream, tag
// (F full, P partial), content.
var criLogLine = regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)) (stdout|stderr) ([FP]) (.*)$`)

func testLogs(t *testing.T, h *harness) {
	sandboxID, sandboxConfig := h.sandbox(t, "logs", nil)
	id := h.startContainer(t, sandboxID, sandboxConfig, h.containerConfig("printer", Behaviour{Stdout: "hello", Exit: true}))
	st := h.waitExited(t, id)
	if !h.env.WritesLogs {
		// Such a runtime (the fake, thousands of containers on hollow
		// nodes) must not write anything where a real one would.
		if _, err := os.Stat(st.LogPath); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a runtime that writes no logs has %s (stat: %v)", st.LogPath, err)
		}
		return
	}
	data, err := os.ReadFile(st.LogPath)
	if err != nil {
		t.Fatalf("read container log: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("log = %q, want one line", data)
	}
	m := criLogLine.FindStringSubmatch(lines[0])
	if m == nil {
		t.Fatalf("log line %q is not in CRI log format", lines[0])
	}
	if _, err := time.Parse(time.RFC3339Nano, m[1]); err != nil {
		t.Errorf("log time %q: %v", m[1], err)
	}
	if m[4] != "stdout" || m[5] != "F" || m[6] != "hello" {
		t.Errorf("log line %q, want stream stdout, tag F, content hello", lines[0])
	}
}

// sandbox runs a sandbox named name-<random> and removes it at cleanup.
func (h *harness) sandbox(t *testing.T, name string, labels map[string]string) (string, *runtimeapi.PodSandboxConfig) {
	t.Helper()
	suffix := randomSuffix()
	config := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{
			Name:      name + "-" + suffix,
			Uid:       "uid-" + suffix,
			Namespace: "runtimetest",
			Attempt:   1,
		},
		Labels:      maps.Clone(labels),
		Annotations: map[string]string{"k1s.test/sandbox": name},
	}
	if config.Labels == nil {
		config.Labels = map[string]string{}
	}
	config.Labels["k1s.test/suite"] = "runtimetest"
	if h.env.Sandbox != nil {
		h.env.Sandbox(t, config)
	}
	id, err := h.rt.RunPodSandbox(t.Context(), config, "")
	if err != nil {
		t.Fatalf("RunPodSandbox(%s): %v", name, err)
	}
	if id == "" {
		t.Fatalf("RunPodSandbox(%s) returned an empty ID", name)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := h.rt.RemovePodSandbox(ctx, id); err != nil {
			t.Errorf("cleanup: RemovePodSandbox(%s): %v", id, err)
		}
	})
	return id, config
}

// containerConfig returns a config with metadata, labels, annotations and
// log path for a container behaving as b.
func (h *harness) containerConfig(name string, b Behaviour) *runtimeapi.ContainerConfig {
	config := h.env.Container(b)
	config.Metadata = &runtimeapi.ContainerMetadata{Name: name, Attempt: 2}
	config.Labels = map[string]string{"k1s.test/container": name}
	config.Annotations = map[string]string{"k1s.test/note": "annotation of " + name}
	config.LogPath = name + "/2.log"
	return config
}

// createContainer pulls the image if it is not there, as the kubelet does
// for IfNotPresent, and creates a container.
func (h *harness) createContainer(t *testing.T, sandboxID string, sandboxConfig *runtimeapi.PodSandboxConfig, config *runtimeapi.ContainerConfig) string {
	t.Helper()
	ctx := t.Context()
	img, err := h.rt.ImageStatus(ctx, config.Image)
	if err != nil {
		t.Fatalf("ImageStatus(%s): %v", config.Image.GetImage(), err)
	}
	if img == nil {
		if _, err := h.rt.PullImage(ctx, config.Image, nil, sandboxConfig); err != nil {
			t.Fatalf("PullImage(%s): %v", config.Image.GetImage(), err)
		}
	}
	id, err := h.rt.CreateContainer(ctx, sandboxID, config, sandboxConfig)
	if err != nil {
		t.Fatalf("CreateContainer(%s): %v", config.Metadata.Name, err)
	}
	if id == "" {
		t.Fatalf("CreateContainer(%s) returned an empty ID", config.Metadata.Name)
	}
	return id
}

// startContainer pulls the image, creates and starts a container.
func (h *harness) startContainer(t *testing.T, sandboxID string, sandboxConfig *runtimeapi.PodSandboxConfig, config *runtimeapi.ContainerConfig) string {
	t.Helper()
	id := h.createContainer(t, sandboxID, sandboxConfig, config)
	if err := h.rt.StartContainer(t.Context(), id); err != nil {
		t.Fatalf("StartContainer(%s): %v", config.Metadata.Name, err)
	}
	return id
}

func (h *harness) containerStatus(t *testing.T, id string) *runtimeapi.ContainerStatus {
	t.Helper()
	st, err := h.rt.ContainerStatus(t.Context(), id)
	if err != nil {
		t.Fatalf("ContainerStatus(%s): %v", id, err)
	}
	if st.Id != id {
		t.Errorf("ContainerStatus(%s).Id = %q", id, st.Id)
	}
	return st
}

// waitExited polls the container's status until it has exited, advancing a
// fake clock between polls.
func (h *harness) waitExited(t *testing.T, id string) *runtimeapi.ContainerStatus {
	t.Helper()
	const poll = 50 * time.Millisecond
	deadline := time.Now().Add(h.env.Timeout)
	for {
		st := h.containerStatus(t, id)
		if st.State == runtimeapi.ContainerState_CONTAINER_EXITED {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s (%s) still %v after %v", id, st.Metadata.GetName(), st.State, h.env.Timeout)
		}
		if h.env.Advance != nil {
			h.env.Advance(poll)
		} else {
			time.Sleep(poll)
		}
	}
}

func checkSandboxMetadata(t *testing.T, got, want *runtimeapi.PodSandboxMetadata) {
	t.Helper()
	if got.GetName() != want.Name || got.GetUid() != want.Uid || got.GetNamespace() != want.Namespace || got.GetAttempt() != want.Attempt {
		t.Errorf("sandbox metadata = %v, want %v", got, want)
	}
}

// checkMap checks that got holds every entry of want; runtimes may add
// their own.
func checkMap(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s[%q] = %q (present %v), want %q", what, k, g, ok, v)
		}
	}
}

func sameSet(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	seen := make(map[string]int, len(got))
	for _, g := range got {
		seen[g]++
	}
	for _, w := range want {
		if seen[w] == 0 {
			return false
		}
		seen[w]--
	}
	return true
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func itoa(n int32) string {
	return strconv.Itoa(int(n))
}

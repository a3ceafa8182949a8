package containerd

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/k1s/k1s/internal/image"
)

// burstKnobs are BenchmarkPodBurst's settings, from the environment so
// that levers can be measured without editing code:
//
//	K1S_FLOOR_PODS=N          pods per burst (default 30, issue 4's burst)
//	K1S_FLOOR_PARALLEL=N      at most N pods starting at once (default all)
//	K1S_FLOOR_EDIT=FILE       "old<TAB>new" lines applied to containerd's config
//	                          (a \n in new is a newline), e.g. runc options
//	K1S_FLOOR_CNI=FILE        a conflist replacing k1s's (@BRIDGE@, @IPAM@ filled in)
//	K1S_FLOOR_CNI_BIN=DIR     the CNI bin dir (e.g. wrappers that log calls)
//	K1S_FLOOR_REMOVE_ONLY=1   tear down with RemovePodSandbox alone
//	K1S_FLOOR_PACCT=FILE      process accounting (accton) of the start phase
//	                          into FILE, and the pids of containerd and its
//	                          shims, the roots of its process tree, into
//	                          FILE.roots (read it with dump-acct)
type burstKnobs struct {
	pods, parallel int
	edit, cni      string
	cniBin         string
	removeOnly     bool
	pacct          string
}

func burstKnobsFromEnv() burstKnobs {
	k := burstKnobs{
		pods:       30,
		edit:       os.Getenv("K1S_FLOOR_EDIT"),
		cni:        os.Getenv("K1S_FLOOR_CNI"),
		cniBin:     os.Getenv("K1S_FLOOR_CNI_BIN"),
		removeOnly: os.Getenv("K1S_FLOOR_REMOVE_ONLY") != "",
		pacct:      os.Getenv("K1S_FLOOR_PACCT"),
	}
	if v, err := strconv.Atoi(os.Getenv("K1S_FLOOR_PODS")); err == nil && v > 0 {
		k.pods = v
	}
	k.parallel = k.pods
	if v, err := strconv.Atoi(os.Getenv("K1S_FLOOR_PARALLEL")); err == nil && v > 0 {
		k.parallel = v
	}
	return k
}

// BenchmarkPodBurst starts 30 pods (sandbox plus one container) in
// parallel through CRI on a private containerd, then stops and removes
// them, and reports where the CPU went, per pod:
//
//   - containerd-self: containerd's own threads;
//   - containerd-children: what containerd runs and waits for, the CNI
//     plugins and "containerd-shim-runc-v2 start";
//   - shim-self: the shims' own threads;
//   - shim-children: what the shims run and wait for, runc and its
//     runc init stages before they join the pod's cgroup;
//   - pods: the pods' cgroups (runc init after it joined, the pause
//     and container processes);
//   - start-cpu and stop-cpu: all of the above (containerd's cgroup, in
//     which every process it starts stays unless runc moves it to a
//     pod's, plus the pods' cgroups), to start and to tear down.
//
// It needs nothing from the host's k1s: its own network namespace
// (k1s-floor-*) with its own bridge, pod CIDR 10.99.0.0/24, cgroups
// under /k1s-floor-*, and data under /tmp. Kernel work done outside
// these processes (kworkers tearing network namespaces down, RCU) is in
// machine-cpu, which also counts whatever else runs on the machine.
//
// Measured on the 2-core VM of 2026-11-27 (containerd 1.6.20, runc 1.1.5,
// CNI plugins 1.1.1): 30 pods start in 10.8 s using 0.69 CPU-seconds
// each (5 pods: 0.64-0.74 each, 30 one at a time: 0.62 each), and as
// much again to tear down; per pod runc 0.25, pods 0.14, CNI plugins
// and shim starts 0.18, the shim 0.08, containerd 0.05.
//
//	sudo go test ./internal/containerd -run XXX -bench PodBurst -benchtime 1x
func BenchmarkPodBurst(b *testing.B) {
	requireRuntime(b)
	knobs := burstKnobsFromEnv()
	for _, bin := range []string{"nsenter", image.BusyboxPath} {
		if _, err := exec.LookPath(bin); err != nil {
			b.Skipf("%s not installed", bin)
		}
	}
	suffix := fmt.Sprintf("%04x", rand.IntN(1<<16))
	netns := "k1s-floor-" + suffix
	if out, err := exec.Command("ip", "netns", "add", netns).CombinedOutput(); err != nil {
		b.Fatalf("ip netns add: %v: %s", err, out)
	}
	b.Cleanup(func() { exec.Command("ip", "netns", "del", netns).Run() })
	if out, err := exec.Command("ip", "-n", netns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		b.Fatalf("lo up: %v: %s", err, out)
	}
	cgroupRoot := "/k1s-floor-" + suffix
	runtimeCgroup := filepath.Join("/sys/fs/cgroup/cpuacct", cgroupRoot, "runtime")
	podsCgroup := filepath.Join("/sys/fs/cgroup/cpuacct", cgroupRoot, "pods")
	b.Cleanup(func() { removeCgroupDirs(cgroupRoot+"/runtime", cgroupRoot+"/pods", cgroupRoot) })
	dir := shortTempDir(b)
	c, err := New(Options{
		DataDir:    dir,
		PodCIDR:    "10.99.0.0/24",
		BridgeName: "k1sf" + suffix,
		NetNSPath:  filepath.Join("/var/run/netns", netns),
		CNIBinDir:  knobs.cniBin,
	})
	if err != nil {
		b.Fatal(err)
	}
	if knobs.edit != "" {
		c.tomlEdit = configEdits(b, knobs.edit)
	}
	startRun(b, c)
	if err := os.MkdirAll(runtimeCgroup, 0o755); err != nil {
		b.Fatal(err)
	}
	// Everything containerd starts from now on is accounted in its
	// cgroup until runc moves a pod's processes to the pod's.
	if err := os.WriteFile(filepath.Join(runtimeCgroup, "cgroup.procs"), []byte(strconv.Itoa(c.currentPID())), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(podsCgroup, 0o755); err != nil {
		b.Fatal(err)
	}
	if knobs.cni != "" {
		data, err := os.ReadFile(knobs.cni)
		if err != nil {
			b.Fatal(err)
		}
		data = bytes.ReplaceAll(data, []byte("@BRIDGE@"), []byte(c.opts.BridgeName))
		data = bytes.ReplaceAll(data, []byte("@IPAM@"), []byte(c.ipamDir()))
		if err := os.WriteFile(filepath.Join(c.cniConfDir(), cniConfName), data, 0o644); err != nil {
			b.Fatal(err)
		}
		time.Sleep(time.Second) // containerd reloads the conf dir on an fsnotify event
	}

	conn, err := grpc.NewClient(c.Endpoint(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	ctx := context.Background()
	const busybox = "k1s.local/busybox:floor"
	bb, err := image.BusyboxImage(busybox)
	if err != nil {
		b.Fatal(err)
	}
	if err := image.LoadImage(ctx, c.Address(), "k8s.io", busybox, bb); err != nil {
		b.Fatal(err)
	}
	b.Logf("containerd pid %d, netns %s, cgroups %s", c.currentPID(), netns, cgroupRoot)

	slots := make(chan struct{}, knobs.parallel)

	b.ResetTimer()
	for round := range b.N {
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			ids     []string
			parents []string
		)
		if knobs.pacct != "" {
			os.WriteFile(knobs.pacct, nil, 0o600)
			if out, err := exec.Command("accton", knobs.pacct).CombinedOutput(); err != nil {
				b.Fatalf("accton: %v: %s", err, out)
			}
		}
		before := takeCPUSample(c, runtimeCgroup, podsCgroup)
		start := time.Now()
		for i := range knobs.pods {
			wg.Go(func() {
				slots <- struct{}{}
				defer func() { <-slots }()
				uid := fmt.Sprintf("floor-%d-%d-%d", round, i, time.Now().UnixNano())
				parent := filepath.Join(cgroupRoot, "pods", "pod-"+uid)
				cfg := &runtimeapi.PodSandboxConfig{
					Metadata:     &runtimeapi.PodSandboxMetadata{Name: fmt.Sprintf("floor-%d", i), Namespace: "floor", Uid: uid},
					Hostname:     fmt.Sprintf("floor-%d", i),
					LogDirectory: filepath.Join(dir, "pods", uid),
					Linux: &runtimeapi.LinuxPodSandboxConfig{
						CgroupParent:    parent,
						SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{}},
						Sysctls:         map[string]string{},
					},
				}
				mu.Lock()
				parents = append(parents, parent)
				mu.Unlock()
				run, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
				if err != nil {
					b.Errorf("RunPodSandbox: %v", err)
					return
				}
				mu.Lock()
				ids = append(ids, run.PodSandboxId)
				mu.Unlock()
				created, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
					PodSandboxId: run.PodSandboxId,
					Config: &runtimeapi.ContainerConfig{
						Metadata: &runtimeapi.ContainerMetadata{Name: "c"},
						Image:    &runtimeapi.ImageSpec{Image: busybox},
						Command:  []string{"sleep", "3600"},
						LogPath:  "c.log",
						Linux: &runtimeapi.LinuxContainerConfig{
							SecurityContext: &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{}},
						},
					},
					SandboxConfig: cfg,
				})
				if err == nil {
					_, err = rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: created.ContainerId})
				}
				if err != nil {
					b.Errorf("container: %v", err)
				}
			})
		}
		wg.Wait()
		wall := time.Since(start)
		running := takeCPUSample(c, runtimeCgroup, podsCgroup)
		if knobs.pacct != "" {
			exec.Command("accton", "off").Run()
			roots := fmt.Sprintln(append([]int{c.currentPID()}, shimPIDs(c.Address())...))
			os.WriteFile(knobs.pacct+".roots", []byte(strings.Trim(roots, "[]\n")+"\n"), 0o644)
		}
		stopStart := time.Now()
		for _, id := range ids {
			wg.Go(func() {
				// RemovePodSandbox alone stops the pod first.
				if !knobs.removeOnly {
					if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
						b.Errorf("StopPodSandbox: %v", err)
					}
				}
				if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
					b.Errorf("RemovePodSandbox: %v", err)
				}
			})
		}
		wg.Wait()
		stopWall := time.Since(stopStart)
		deadline := time.Now().Add(30 * time.Second)
		for len(shimPIDs(c.Address())) > 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		after := takeCPUSample(c, runtimeCgroup, podsCgroup)
		removeCgroupDirs(parents...)

		n := float64(knobs.pods)
		start1, stop1 := running.sub(before), after.sub(running)
		b.ReportMetric(wall.Seconds(), "start-wall-s")
		b.ReportMetric(stopWall.Seconds(), "stop-wall-s")
		b.ReportMetric(start1.total()/n, "start-cpu-s/pod")
		b.ReportMetric(start1.totalSys()/n, "start-sys-s/pod")
		b.ReportMetric(stop1.total()/n, "stop-cpu-s/pod")
		b.ReportMetric(start1.machine/n, "start-machine-cpu-s/pod")
		b.Logf("round %d: start %.2fs wall, per pod: containerd-self %.3f, containerd-children %.3f, shim-self %.3f, shim-children %.3f, pods %.3f (sys %.3f), runtime cgroup %.3f (sys %.3f), total %.3f, machine %.3f; stop %.2fs wall, %.3f cpu-s/pod (runtime %.3f, pods %.3f), machine %.3f",
			round, wall.Seconds(), start1.containerdSelf/n, start1.containerdChildren/n, start1.shimSelf/n, start1.shimChildren/n,
			start1.podsCPU/n, start1.podsSys/n, start1.runtimeCPU/n, start1.runtimeSys/n, start1.total()/n, start1.machine/n,
			stopWall.Seconds(), stop1.total()/n, stop1.runtimeCPU/n, stop1.podsCPU/n, stop1.machine/n)
	}
}

// removeCgroupDirs removes cgroups (not their parents) from every
// hierarchy, in order; those still in use stay.
func removeCgroupDirs(cgroups ...string) {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	for _, cg := range cgroups {
		for _, root := range roots {
			os.Remove(filepath.Join(root, cg))
		}
	}
}

// configEdits applies a file of "old<TAB>new" lines to containerd's
// config: benchmarks of config levers.
func configEdits(b *testing.B, file string) func(string) string {
	data, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	return func(toml string) string {
		for _, line := range strings.Split(string(data), "\n") {
			old, repl, ok := strings.Cut(line, "\t")
			if !ok {
				continue
			}
			if !strings.Contains(toml, old) {
				b.Fatalf("%s: %q not in the config", file, old)
			}
			toml = strings.Replace(toml, old, strings.ReplaceAll(repl, `\n`, "\n"), 1)
		}
		return toml
	}
}

// cpuSample is CPU seconds used so far, by account.
type cpuSample struct {
	runtimeCPU, runtimeSys float64 // containerd's cgroup
	podsCPU, podsSys       float64 // the pods' cgroups
	containerdSelf         float64
	containerdChildren     float64
	shimSelf, shimChildren float64 // live shims only
	machine                float64 // all CPUs, busy time
}

func (s cpuSample) sub(o cpuSample) cpuSample {
	return cpuSample{
		runtimeCPU: s.runtimeCPU - o.runtimeCPU, runtimeSys: s.runtimeSys - o.runtimeSys,
		podsCPU: s.podsCPU - o.podsCPU, podsSys: s.podsSys - o.podsSys,
		containerdSelf: s.containerdSelf - o.containerdSelf, containerdChildren: s.containerdChildren - o.containerdChildren,
		shimSelf: s.shimSelf - o.shimSelf, shimChildren: s.shimChildren - o.shimChildren,
		machine: s.machine - o.machine,
	}
}

func (s cpuSample) total() float64    { return s.runtimeCPU + s.podsCPU }
func (s cpuSample) totalSys() float64 { return s.runtimeSys + s.podsSys }

func takeCPUSample(c *Containerd, runtimeCgroup, podsCgroup string) cpuSample {
	var s cpuSample
	s.runtimeCPU, s.runtimeSys = cgroupCPU(runtimeCgroup)
	s.podsCPU, s.podsSys = cgroupCPU(podsCgroup)
	s.containerdSelf, s.containerdChildren = procCPU(c.currentPID())
	for _, pid := range shimPIDs(c.Address()) {
		self, children := procCPU(pid)
		s.shimSelf += self
		s.shimChildren += children
	}
	s.machine = machineBusy()
	return s
}

// cgroupCPU reads a cgroup v1 cpuacct group's total and system CPU
// seconds (its descendants included).
func cgroupCPU(dir string) (total, sys float64) {
	read := func(name string) float64 {
		data, _ := os.ReadFile(filepath.Join(dir, name))
		ns, _ := strconv.ParseFloat(strings.TrimSpace(string(data)), 64)
		return ns / 1e9
	}
	return read("cpuacct.usage"), read("cpuacct.usage_sys")
}

// procCPU is a process's own CPU seconds (all threads) and its reaped
// children's.
func procCPU(pid int) (self, children float64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	// After the command: state ppid ... utime(12) stime(13) cutime(14) cstime(15), in clock ticks.
	tick := func(i int) float64 { v, _ := strconv.ParseFloat(f[i], 64); return v / 100 }
	return tick(11) + tick(12), tick(13) + tick(14)
}

// shimPIDs lists the shims serving the containerd at address.
func shimPIDs(address string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if bytes.Contains(cmd, []byte("containerd-shim")) && bytes.Contains(cmd, []byte(address+"\x00")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// machineBusy is the machine's non-idle CPU seconds since boot.
func machineBusy() float64 {
	data, _ := os.ReadFile("/proc/stat")
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	var busy float64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest time is already in user
			break
		}
		x, _ := strconv.ParseFloat(v, 64)
		busy += x
	}
	return busy / 100
}

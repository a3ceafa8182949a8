package containerd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/k1s/k1s/internal/atomicfile"
	"github.com/k1s/k1s/internal/image"
)

// Options configure a supervised containerd.
type Options struct {
	// DataDir is k1s's data dir; containerd's root, state, socket,
	// config, log and CNI state go under DataDir/containerd. The socket
	// path must stay under 108 bytes.
	DataDir string
	// Binary is the containerd executable; default "containerd" on PATH.
	Binary string
	// CNIBinDir holds the CNI plugins; default /usr/lib/cni.
	CNIBinDir string
	// PodCIDR, when set, is written as the CNI config at start. When
	// empty, pods cannot start until SetPodCIDR is called.
	PodCIDR string
	// BridgeName is the pods' Linux bridge; default "k1s0".
	BridgeName string
	// StreamAddress is where the CRI streaming server (exec, attach,
	// port-forward) listens, on a random port; default 127.0.0.1.
	StreamAddress string
	// NetNSPath, when set, runs containerd (and so its pods' routing)
	// inside that network namespace, through `nsenter --net=PATH`.
	NetNSPath string
	// Log receives lifecycle events; containerd's own output goes to
	// DataDir/containerd/containerd.log. Default: discard.
	Log *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if o.DataDir == "" {
		return o, errors.New("containerd: DataDir is required")
	}
	abs, err := filepath.Abs(o.DataDir)
	if err != nil {
		return o, fmt.Errorf("containerd: DataDir: %w", err)
	}
	o.DataDir = abs
	if o.Binary == "" {
		o.Binary = "containerd"
	}
	if o.CNIBinDir == "" {
		o.CNIBinDir = "/usr/lib/cni"
	}
	if o.BridgeName == "" {
		o.BridgeName = "k1s0"
	}
	if len(o.BridgeName) > 15 {
		return o, fmt.Errorf("containerd: bridge name %q is longer than 15 bytes", o.BridgeName)
	}
	if o.StreamAddress == "" {
		o.StreamAddress = "127.0.0.1"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// Containerd supervises one containerd child process.
type Containerd struct {
	opts Options
	dir  string // DataDir/containerd

	// Tunables; tests shorten them.
	minBackoff, maxBackoff time.Duration
	stopTimeout            time.Duration
	readyTimeout           time.Duration

	running atomic.Bool
	// ready is true while the current child serves CRI and has the pause
	// image.
	ready atomic.Bool

	// tomlEdit, set by benchmarks, rewrites the config before it is written.
	tomlEdit func(string) string

	mu      sync.Mutex
	pid     int
	lastErr error // why the current child is not ready, for WaitReady
}

// New validates opts. It starts nothing; see Run.
func New(opts Options) (*Containerd, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Containerd{
		opts:         opts,
		dir:          filepath.Join(opts.DataDir, "containerd"),
		minBackoff:   200 * time.Millisecond,
		maxBackoff:   30 * time.Second,
		stopTimeout:  10 * time.Second,
		readyTimeout: time.Minute,
	}
	// sockaddr_un.sun_path is 108 bytes including the NUL.
	if n := len(c.Address() + ".ttrpc"); n >= 108 {
		return nil, fmt.Errorf("containerd: socket path %s is %d bytes, the limit is 107: use a shorter DataDir", c.Address()+".ttrpc", n)
	}
	if opts.PodCIDR != "" {
		if err := c.SetPodCIDR(opts.PodCIDR); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Address is containerd's socket path.
func (c *Containerd) Address() string { return SocketPath(c.opts.DataDir) }

// SocketPath is the socket of the containerd that k1s runs for dataDir.
func SocketPath(dataDir string) string {
	return filepath.Join(dataDir, "containerd", "containerd.sock")
}

// Endpoint is the CRI endpoint, "unix://" + Address().
func (c *Containerd) Endpoint() string { return "unix://" + c.Address() }

func (c *Containerd) rootDir() string    { return filepath.Join(c.dir, "root") }
func (c *Containerd) stateDir() string   { return filepath.Join(c.dir, "state") }
func (c *Containerd) cniConfDir() string { return filepath.Join(c.dir, "cni", "net.d") }
func (c *Containerd) ipamDir() string    { return filepath.Join(c.dir, "cni", "ipam") }
func (c *Containerd) configPath() string { return filepath.Join(c.dir, "config.toml") }
func (c *Containerd) pidPath() string    { return filepath.Join(c.dir, "containerd.pid") }

// LogPath is the file containerd's own output is appended to.
func (c *Containerd) LogPath() string { return filepath.Join(c.dir, "containerd.log") }

// Run writes containerd's config, starts it, restarts it with backoff
// whenever it dies, and once it serves CRI loads the pause image if it
// is missing. When ctx ends it stops containerd (SIGTERM, then SIGKILL
// after 10s) and returns nil. Pods keep running: their shims are not
// containerd's children and are not signalled. A containerd left behind
// by a k1s that died is stopped first.
func (c *Containerd) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("containerd: Run is already running")
	}
	defer c.running.Store(false)
	if err := c.setup(); err != nil {
		return err
	}
	c.stopStale()
	c.setPID(0, nil)

	backoff := c.minBackoff
	for {
		started := time.Now()
		cmd, exited, err := c.start()
		if err != nil {
			return err
		}
		log := c.opts.Log.With("pid", cmd.Process.Pid)
		log.Info("containerd started", "address", c.Address(), "log", c.LogPath())
		childCtx, childDone := context.WithCancel(ctx)
		prepared := make(chan struct{})
		go func() {
			defer close(prepared)
			c.prepare(childCtx, log)
		}()

		select {
		case <-ctx.Done():
			childDone()
			<-prepared
			c.stop(cmd, exited, log)
			return nil
		case err := <-exited:
			childDone()
			<-prepared
			c.ready.Store(false)
			why := fmt.Errorf("containerd exited: %w", err)
			if cmd.ProcessState != nil && cmd.ProcessState.Exited() {
				// It chose to exit: its last words say why.
				why = fmt.Errorf("containerd exited: %w: %s", err, c.lastLogLine())
			}
			c.setPID(0, why)
			if time.Since(started) > time.Minute {
				backoff = c.minBackoff
			}
			log.Warn("containerd exited, restarting", "err", why, "after", backoff, "log", c.LogPath())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, c.maxBackoff)
	}
}

// setup creates containerd's directories and writes its config.
func (c *Containerd) setup() error {
	if _, err := exec.LookPath(c.opts.Binary); err != nil {
		return fmt.Errorf("containerd: %w", err)
	}
	for _, d := range []string{c.rootDir(), c.stateDir(), c.cniConfDir(), c.ipamDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("containerd: %w", err)
		}
	}
	toml := c.configTOML()
	if c.tomlEdit != nil {
		toml = c.tomlEdit(toml)
	}
	if err := atomicfile.Write(c.configPath(), []byte(toml), 0o644); err != nil {
		return fmt.Errorf("containerd: config: %w", err)
	}
	return nil
}

// start launches containerd in its own process group (a terminal's ^C
// must not reach it; k1s stops it in order) with output appended to the
// log file.
func (c *Containerd) start() (*exec.Cmd, <-chan error, error) {
	c.rotateLog()
	logf, err := os.OpenFile(c.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("containerd: log: %w", err)
	}
	args := []string{c.opts.Binary, "--config", c.configPath()}
	if c.opts.NetNSPath != "" {
		// Not `ip netns exec`: it remounts /sys, which hides the cgroup
		// mounts from runc.
		args = append([]string{"nsenter", "--net=" + c.opts.NetNSPath, "--"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = c.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	logf.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("containerd: start: %w", err)
	}
	c.mu.Lock()
	c.pid = cmd.Process.Pid
	if c.lastErr == nil {
		// After a crash, the crash stays the reason until ready.
		c.lastErr = errors.New("containerd is starting")
	}
	c.mu.Unlock()
	if err := os.WriteFile(c.pidPath(), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		c.opts.Log.Warn("containerd: write pid file", "err", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	return cmd, exited, nil
}

// stop sends SIGTERM to containerd alone, then SIGKILL if it is still
// there after stopTimeout.
func (c *Containerd) stop(cmd *exec.Cmd, exited <-chan error, log *slog.Logger) {
	c.ready.Store(false)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(c.stopTimeout)
	defer timer.Stop()
	select {
	case <-exited:
	case <-timer.C:
		log.Warn("containerd ignored SIGTERM, killing it", "timeout", c.stopTimeout)
		_ = cmd.Process.Kill()
		<-exited
	}
	c.setPID(0, errors.New("containerd is stopped"))
	os.Remove(c.pidPath())
	log.Info("containerd stopped")
}

// stopStale stops a containerd that a previous k1s started with this
// config and left behind (it would hold the database lock).
func (c *Containerd) stopStale() {
	data, err := os.ReadFile(c.pidPath())
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(data)))
	if err != nil || pid <= 0 {
		return
	}
	// A zombie has an empty command line, so this also tells when it is
	// gone even if nobody reaps it yet.
	ours := func() bool {
		return bytes.Contains(cmdline(pid), []byte(c.configPath()))
	}
	if !ours() {
		return
	}
	c.opts.Log.Warn("stopping containerd left behind by an earlier run", "pid", pid)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(c.stopTimeout)
	for time.Now().Before(deadline) {
		if !ours() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	// Return once it is gone: a new child must not meet the old one on
	// the socket. SIGKILL cannot be ignored; only a machine too busy to
	// run the exit makes this wait.
	for deadline := time.Now().Add(10 * time.Second); ours() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
}

// cmdline reads a process's command line; empty when the process is gone
// or a zombie. A live process can show an empty one for a moment right
// after its exec (the kernel lets the parent go before the new arguments
// are in place): that is read again.
func cmdline(pid int) []byte {
	for deadline := time.Now().Add(time.Second); ; {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || len(b) > 0 {
			return b
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		// The state follows the ")" that ends the command name.
		if i := bytes.LastIndexByte(stat, ')'); err != nil || i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X' {
			return nil
		}
		if time.Now().After(deadline) {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lastLogLine is the last line containerd logged, usually why it died.
func (c *Containerd) lastLogLine() string {
	f, err := os.Open(c.LogPath())
	if err != nil {
		return ""
	}
	defer f.Close()
	buf := make([]byte, 4096)
	if fi, err := f.Stat(); err == nil && fi.Size() > int64(len(buf)) {
		_, _ = f.Seek(fi.Size()-int64(len(buf)), 0)
	}
	n, _ := io.ReadFull(f, buf)
	lines := bytes.Split(bytes.TrimSpace(buf[:n]), []byte("\n"))
	return string(lines[len(lines)-1])
}

// rotateLog keeps one old log once the log passes 50 MiB.
func (c *Containerd) rotateLog() {
	if fi, err := os.Stat(c.LogPath()); err == nil && fi.Size() > 50<<20 {
		_ = os.Rename(c.LogPath(), c.LogPath()+".1")
	}
}

func (c *Containerd) setPID(pid int, notReady error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pid = pid
	c.lastErr = notReady
}

// currentPID is the running child's pid, or 0.
func (c *Containerd) currentPID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pid
}

func (c *Containerd) setNotReady(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastErr = err
}

// prepare waits until the new child serves CRI, loads the pause image if
// it lacks it, then marks it ready. A failure is retried with backoff
// until ctx ends (the child exited or Run is stopping); WaitReady reports
// the latest one.
func (c *Containerd) prepare(ctx context.Context, log *slog.Logger) {
	// gRPC waits a second before redialling a socket that refused it,
	// and the child listens some 40 ms after it starts: redial quickly.
	conn, err := grpc.NewClient(c.Endpoint(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: time.Second,
		}))
	if err != nil {
		c.setNotReady(err)
		log.Error("containerd: CRI client", "err", err)
		return
	}
	defer conn.Close()
	runtimeClient, imageClient := runtimeapi.NewRuntimeServiceClient(conn), runtimeapi.NewImageServiceClient(conn)
	retry := c.minBackoff
	for {
		err := c.prepareOnce(ctx, runtimeClient, imageClient)
		if err == nil {
			c.setNotReady(nil)
			c.ready.Store(true)
			log.Info("containerd ready")
			return
		}
		if ctx.Err() != nil {
			return
		}
		c.setNotReady(err)
		log.Error("containerd not ready", "err", err, "retry", retry, "log", c.LogPath())
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
		retry = min(2*retry, c.maxBackoff)
	}
}

func (c *Containerd) prepareOnce(ctx context.Context, rt runtimeapi.RuntimeServiceClient, images runtimeapi.ImageServiceClient) error {
	ctx, cancel := context.WithTimeout(ctx, c.readyTimeout)
	defer cancel()
	if err := pollCRI(ctx, rt); err != nil {
		return err
	}
	return c.ensurePauseImage(ctx, images)
}

// pollCRI calls Version until it answers or ctx ends.
func pollCRI(ctx context.Context, client runtimeapi.RuntimeServiceClient) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		callCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := client.Version(callCtx, &runtimeapi.VersionRequest{})
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CRI Version: %w", err)
		case <-tick.C:
		}
	}
}

// ensurePauseImage loads the pause image unless containerd has it.
func (c *Containerd) ensurePauseImage(ctx context.Context, images runtimeapi.ImageServiceClient) error {
	st, err := images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: image.PauseImageRef}})
	if err != nil {
		return fmt.Errorf("image status %s: %w", image.PauseImageRef, err)
	}
	if st.GetImage() != nil {
		return nil
	}
	img, err := image.PauseImage()
	if err != nil {
		return err
	}
	return image.LoadImage(ctx, c.Address(), "k8s.io", image.PauseImageRef, img)
}

// WaitReady blocks until containerd serves CRI and holds the pause image,
// so that RunPodSandbox can work, or until ctx ends. It needs Run to be
// running (or to start).
func (c *Containerd) WaitReady(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if c.ready.Load() {
			return nil
		}
		select {
		case <-ctx.Done():
			c.mu.Lock()
			last := c.lastErr
			c.mu.Unlock()
			if last != nil {
				return fmt.Errorf("containerd not ready: %w (%v)", ctx.Err(), last)
			}
			return fmt.Errorf("containerd not ready: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

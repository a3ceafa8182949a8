package localcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/k1s/k1s/internal/nodetoken"
	"github.com/k1s/k1s/internal/preflight"
)

// Options configure Up.
type Options struct {
	// DataDir holds everything of the cluster (default /var/lib/k1s).
	DataDir string
	// Nodes is the number of nodes; 0 means as many as the cluster in
	// DataDir had, or 1.
	Nodes int
	// IngressHTTPPort and IngressHTTPSPort are where every node's
	// Ingress listens; on this machine: http://127.0.0.1:PORT. APIPort is
	// the api-server's. 0 means as the cluster in DataDir had them, or 80,
	// 443 and 6443.
	IngressHTTPPort, IngressHTTPSPort int
	APIPort                           int
	// Binary is the k1s executable the cluster runs (default: this one).
	Binary string
	// Out gets the progress; a terminal gets a live display, anything else
	// plain lines.
	Out io.Writer
	// Timeout bounds the wait for a ready cluster (default 3 minutes).
	Timeout time.Duration
	// SkipPreflight skips the prerequisite checks (tests that made sure).
	SkipPreflight bool
}

// Timings a one-machine cluster uses, shorter than upstream's so that a
// stopped node's pods move within a minute.
const (
	nodeMonitorGracePeriod   = "20s"
	defaultTolerationSeconds = "20"
)

// clusterDir is the data dir as an absolute path, /var/lib/k1s if none.
func clusterDir(dir string) (string, error) {
	if dir == "" {
		dir = "/var/lib/k1s"
	}
	return filepath.Abs(dir)
}

func (o *Options) defaults() error {
	var err error
	if o.DataDir, err = clusterDir(o.DataDir); err != nil {
		return err
	}
	if o.Nodes < 0 || o.Nodes > 200 {
		return fmt.Errorf("--nodes %d: want 1 to 200", o.Nodes)
	}
	for _, p := range []int{o.IngressHTTPPort, o.IngressHTTPSPort, o.APIPort} {
		if p < 0 || p > 65535 {
			return fmt.Errorf("port %d: want 1 to 65535", p)
		}
	}
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		o.Binary = exe
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Timeout == 0 {
		o.Timeout = 3 * time.Minute
	}
	return nil
}

func serverDir(dataDir string) string { return filepath.Join(dataDir, "server") }
func logDir(dataDir string) string    { return filepath.Join(dataDir, "logs") }
func runDir(dataDir string) string    { return filepath.Join(dataDir, "run") }

// plan is the cluster Up makes: its state from the options and what an
// earlier Up left.
func plan(o Options, prev *State) (*State, error) {
	n := o.Nodes
	if n == 0 {
		n = 1
		if prev != nil {
			n = len(prev.Nodes)
		}
	}
	if prev != nil && n < len(prev.Nodes) {
		return nil, fmt.Errorf("the cluster in %s has %d nodes: removing nodes is not supported (k1s down --purge, then k1s up --nodes %d)", o.DataDir, len(prev.Nodes), n)
	}
	port := func(want, before, def int) int {
		switch {
		case want != 0:
			return want
		case before != 0:
			return before
		}
		return def
	}
	var before State
	if prev != nil {
		before = *prev
	}
	o.IngressHTTPPort = port(o.IngressHTTPPort, before.IngressHTTPPort, 80)
	o.IngressHTTPSPort = port(o.IngressHTTPSPort, before.IngressHTTPSPort, 443)
	o.APIPort = port(o.APIPort, before.APIPort, 6443)
	host, err := os.Hostname()
	if err != nil {
		return nil, err
	}
	host = strings.ToLower(host)
	s := &State{
		Kubeconfig:       filepath.Join(o.DataDir, "kubeconfig.yaml"),
		ServerURL:        "https://" + hostAddress().String() + ":" + strconv.Itoa(o.APIPort),
		IngressHTTPPort:  o.IngressHTTPPort,
		IngressHTTPSPort: o.IngressHTTPSPort,
		APIPort:          o.APIPort,
	}
	s.Nodes = append(s.Nodes, Node{Name: host, Address: hostAddress().String(), DataDir: filepath.Join(serverDir(o.DataDir), "agent"),
		CgroupRoot: "/k1s", PIDFile: filepath.Join(runDir(o.DataDir), "server.pid")})
	for i := 2; i <= n; i++ {
		name := fmt.Sprintf("node-%d", i)
		s.Nodes = append(s.Nodes, Node{Name: name, Address: nodeAddress(i).String(), NetNS: netnsName(i),
			DataDir: filepath.Join(o.DataDir, "nodes", name), CgroupRoot: "/k1s-" + name,
			PIDFile: filepath.Join(runDir(o.DataDir), name+".pid")})
	}
	return s, nil
}

// Up brings the cluster in o.DataDir up (or resumes it) and returns once
// every node is Ready and the add-ons are available.
func Up(ctx context.Context, o Options) (*State, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	prev, err := Load(o.DataDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	st, err := plan(o, prev)
	if err != nil {
		return nil, err
	}
	p := newProgress(o.Out)
	defer p.close()
	// What a stopped cluster left in etcd (Ready nodes, ready pods) is
	// old news: nodes and add-ons count once they report after this.
	since := time.Now().Truncate(time.Second)
	serverRunning := false
	if _, ok := running(st.Nodes[0].PIDFile, serverDir(o.DataDir)); ok {
		serverRunning = true
	}
	if !o.SkipPreflight {
		step := p.step("checking prerequisites")
		popts := preflight.Options{NeedRoot: true, NeedRuntime: true, NeedNFTables: true, MultiNode: len(st.Nodes) > 1, WantKubectl: true}
		if !serverRunning {
			popts.Ports = []preflight.Port{{Port: st.APIPort, Flag: "--api-port"},
				{Port: st.IngressHTTPPort, Flag: "--ingress-http-port"}, {Port: st.IngressHTTPSPort, Flag: "--ingress-https-port"},
				{Port: 10250}, {Addr: "127.0.0.1", Port: 10249}}
		}
		problems := preflight.Run(ctx, popts)
		if preflight.HasErrors(problems) {
			step.fail(errors.New("missing prerequisites"))
			return nil, errors.New(preflight.Format(problems))
		}
		step.done(strings.TrimSpace(preflight.Format(problems)))
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, err
	}

	step := p.step("node network " + BridgeName + " " + nodeNet.String())
	if err := ensureBridge(); err != nil {
		return nil, step.fail(err)
	}
	for i := 2; i <= len(st.Nodes); i++ {
		if err := ensureNodeNamespace(i); err != nil {
			return nil, step.fail(err)
		}
	}
	step.done(fmt.Sprintf("%d node(s)", len(st.Nodes)))
	if err := st.save(o.DataDir); err != nil {
		return nil, err
	}

	step = p.step("api-server, scheduler, controller-manager and this machine's node")
	if serverRunning {
		since = time.Time{}
	} else {
		args := []string{o.Binary, "server", "--data-dir", serverDir(o.DataDir),
			"--bind-address", hostAddress().String(), "--advertise-address", hostAddress().String(),
			"--https-listen-port", strconv.Itoa(st.APIPort),
			"--ingress-http-port", strconv.Itoa(st.IngressHTTPPort), "--ingress-https-port", strconv.Itoa(st.IngressHTTPSPort),
			"--node-monitor-grace-period", nodeMonitorGracePeriod, "--default-toleration-seconds", defaultTolerationSeconds}
		if _, err := startDetached(args, filepath.Join(logDir(o.DataDir), "server.log"), st.Nodes[0].PIDFile); err != nil {
			return nil, step.fail(err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	client, err := waitAPIServer(ctx, st, o.DataDir)
	if err != nil {
		return nil, step.fail(fmt.Errorf("%w (see %s)", err, filepath.Join(logDir(o.DataDir), "server.log")))
	}
	step.done(st.ServerURL)
	// DATA_DIR/kubeconfig.yaml: the admin's, wherever the server keeps it.
	if _, err := os.Lstat(st.Kubeconfig); errors.Is(err, os.ErrNotExist) {
		if err := os.Symlink(filepath.Join("server", "kubeconfig.yaml"), st.Kubeconfig); err != nil {
			return nil, err
		}
	}

	if len(st.Nodes) > 1 {
		step = p.step(fmt.Sprintf("agents of nodes 2..%d, each in its network namespace", len(st.Nodes)))
		tokenBytes, err := os.ReadFile(filepath.Join(serverDir(o.DataDir), nodetoken.FileName))
		if err != nil {
			return nil, step.fail(err)
		}
		token := strings.TrimSpace(string(tokenBytes))
		for i, n := range st.Nodes[1:] {
			if _, ok := running(n.PIDFile, n.DataDir); ok {
				continue
			}
			args := []string{"nsenter", "--net=" + netnsPath(netnsName(i+2)), o.Binary, "agent",
				"--server", st.ServerURL, "--token", token, "--node-name", n.Name, "--node-ip", n.Address,
				"--data-dir", n.DataDir, "--cgroup-root", n.CgroupRoot}
			if _, err := startDetached(args, filepath.Join(logDir(o.DataDir), n.Name+".log"), n.PIDFile); err != nil {
				return nil, step.fail(err)
			}
		}
		step.done("")
	}

	step = p.step("nodes Ready")
	if err := waitNodes(ctx, client, st, since, step); err != nil {
		return nil, step.fail(fmt.Errorf("%w (logs in %s)", err, logDir(o.DataDir)))
	}
	step.done(fmt.Sprintf("%d/%d", len(st.Nodes), len(st.Nodes)))

	step = p.step("add-ons: DNS, ingress, local-path storage")
	if err := waitAddons(ctx, client, len(st.Nodes), since); err != nil {
		return nil, step.fail(err)
	}
	step.done("")
	return st, nil
}

// waitAPIServer waits for the admin kubeconfig and a ready api-server.
func waitAPIServer(ctx context.Context, st *State, dataDir string) (kubernetes.Interface, error) {
	var client kubernetes.Interface
	err := poll(ctx, func() error {
		if _, ok := running(st.Nodes[0].PIDFile, serverDir(dataDir)); !ok {
			return stopErr{errors.New("the server exited")}
		}
		if client == nil {
			cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(serverDir(dataDir), "kubeconfig.yaml"))
			if err != nil {
				return err
			}
			cfg.Timeout = 5 * time.Second
			if client, err = kubernetes.NewForConfig(cfg); err != nil {
				return err
			}
		}
		_, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	})
	return client, err
}

func waitNodes(ctx context.Context, client kubernetes.Interface, st *State, since time.Time, step *step) error {
	return poll(ctx, func() error {
		for _, n := range st.Nodes[1:] {
			if _, ok := running(n.PIDFile, n.DataDir); !ok {
				return stopErr{fmt.Errorf("the agent of %s exited", n.Name)}
			}
		}
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		ready := map[string]bool{}
		for _, n := range nodes.Items {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue && !c.LastHeartbeatTime.Time.Before(since) {
					ready[n.Name] = true
				}
			}
		}
		var missing []string
		for _, n := range st.Nodes {
			if !ready[n.Name] {
				missing = append(missing, n.Name)
			}
		}
		step.update(fmt.Sprintf("%d/%d", len(st.Nodes)-len(missing), len(st.Nodes)))
		if len(missing) > 0 {
			return fmt.Errorf("not Ready: %s", strings.Join(missing, ", "))
		}
		return nil
	})
}

// waitAddons waits for a ready DNS pod and a ready ingress pod on every
// node, whose containers started after since.
func waitAddons(ctx context.Context, client kubernetes.Interface, nodes int, since time.Time) error {
	return poll(ctx, func() error {
		if n, err := readyPods(ctx, client, "k8s-app=kube-dns", since); err != nil || n < 1 {
			return fmt.Errorf("cluster DNS is not ready yet (%v)", err)
		}
		if n, err := readyPods(ctx, client, "k8s-app=k1s-ingress", since); err != nil || n < nodes {
			return fmt.Errorf("ingress ready on %d of %d nodes (%v)", n, nodes, err)
		}
		if _, err := client.StorageV1().StorageClasses().Get(ctx, "local-path", metav1.GetOptions{}); err != nil {
			return fmt.Errorf("local-path storage class: %w", err)
		}
		return nil
	})
}

// readyPods counts the ready pods of kube-system matching selector whose
// containers all started after since.
func readyPods(ctx context.Context, client kubernetes.Interface, selector string, since time.Time) (int, error) {
	pods, err := client.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range pods.Items {
		ready := p.DeletionTimestamp == nil && len(p.Status.ContainerStatuses) > 0
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status != corev1.ConditionTrue {
				ready = false
			}
		}
		for _, cs := range p.Status.ContainerStatuses {
			if !cs.Ready || cs.State.Running == nil || cs.State.Running.StartedAt.Time.Before(since) {
				ready = false
			}
		}
		if ready {
			n++
		}
	}
	return n, nil
}

func available(d *appsv1.Deployment) bool {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
			return d.Status.ObservedGeneration >= d.Generation
		}
	}
	return false
}

// stopErr ends a poll at once.
type stopErr struct{ error }

// poll calls f every 50 ms until it returns nil, a stopErr, or ctx ends
// (the last error is returned).
func poll(ctx context.Context, f func() error) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		err := f()
		if err == nil {
			return nil
		}
		var stop stopErr
		if errors.As(err, &stop) {
			return stop.error
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out: %w", err)
		case <-t.C:
		}
	}
}

package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/k1s/k1s/internal/localcluster"
)

// Names the demo relies on: the application's objects (examples/my-app/k8s)
// and the key it writes.
const (
	// Host is the Ingress rule's host.
	Host = "my-app.com"
	// Key is the database key the demo writes and reads back through the
	// Ingress (GET /kv/demo-key).
	Key = "demo-key"

	appName       = "my-app"        // Deployment, Service, Ingress
	appSelector   = "app=my-app"    // the Deployment's pods
	dbName        = "db"            // StatefulSet
	dbPod         = "db-0"          // its only pod
	configMapName = "my-app-config" // GREETING, DB_URL
	appReplicas   = 2
)

// Greetings the ConfigMap step switches between: the manifest's, and the
// demo's.
const (
	manifestGreeting = "hello"
	demoGreeting     = "hello from k1s"
)

// Options configures Run.
type Options struct {
	// DataDir is the cluster's data dir (`k1s up --data-dir`); its state
	// file gives the kubeconfig, the nodes and the Ingress port. Required.
	DataDir string
	// ModuleDir is the k1s source tree holding examples/my-app, whose
	// commands become the images. Default ".".
	ModuleDir string
	// GoBinary builds the images. Default "go" (on PATH).
	GoBinary string
	// Kubectl is the kubectl binary. Default "kubectl" (on PATH).
	Kubectl string
	// K1sBinary runs `k1s up` to bring a stopped node back. Default: this
	// executable.
	K1sBinary string
	// Namespace the application goes to; created if missing. Default
	// "my-app".
	Namespace string
	// Out gets the progress: a line when a step starts and one with what
	// it saw when it ends. Default: discarded.
	Out io.Writer
}

func (o *Options) setDefaults() error {
	if o.DataDir == "" {
		return errors.New("demo: the cluster's data dir is required")
	}
	if o.ModuleDir == "" {
		o.ModuleDir = "."
	}
	if o.GoBinary == "" {
		o.GoBinary = "go"
	}
	if o.Kubectl == "" {
		o.Kubectl = "kubectl"
	}
	if o.K1sBinary == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("demo: the k1s binary: %w", err)
		}
		o.K1sBinary = exe
	}
	if o.Namespace == "" {
		o.Namespace = "my-app"
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	return nil
}

// demo is one run: the cluster it talks to and what earlier steps left
// for later ones.
type demo struct {
	o          Options
	state      *localcluster.State
	kubeconfig string // a file, for kubectl
	cs         kubernetes.Interface
	ingress    *Ingress
	value      string    // written under Key by the database step
	loadedAt   time.Time // when the images were loaded
}

// step is one numbered part of the demo. do returns what it saw, for the
// progress line; an error of type skipped is a step that did not apply.
type step struct {
	title string
	do    func(ctx context.Context) (string, error)
}

// skipped says why a step did not run; it is not a failure.
type skipped string

func (s skipped) Error() string { return string(s) }

// Run deploys my-app on the cluster of o.DataDir and runs the demo's
// steps in order, stopping at the first that fails.
func Run(ctx context.Context, o Options) error {
	if err := o.setDefaults(); err != nil {
		return err
	}
	state, err := localcluster.Load(o.DataDir)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if state.IngressHTTPPort <= 0 || len(state.Nodes) == 0 {
		return fmt.Errorf("demo: the state in %s has no nodes or no Ingress port", o.DataDir)
	}
	if fi, err := os.Stat(filepath.Join(o.ModuleDir, "examples", "my-app")); err != nil || !fi.IsDir() {
		return fmt.Errorf("demo: %s is not the k1s source tree (no examples/my-app); use --module-dir", o.ModuleDir)
	}
	kubeconfig, cleanup, err := kubeconfigFile(state.Kubeconfig)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer cleanup()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("demo: kubeconfig %s: %w", kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	d := &demo{o: o, state: state, kubeconfig: kubeconfig, cs: cs, ingress: NewIngress(state.IngressHTTPPort)}

	steps := []step{
		{"build my-app's images and load them into every node", d.loadImages},
		{"deploy my-app (namespace " + o.Namespace + ", kubectl apply) and wait for it", d.deploy},
		{"both replicas answer through the Ingress", d.bothReplicas},
		{"a write survives deleting the database pod", d.writeSurvivesDB},
		{"deleting an app pod loses no request", d.podDeletion},
		{"a ConfigMap change and a rollout restart switch the greeting, no new image", d.configChange},
		{"stopping a node's agent moves its pods to the others", d.nodeFailover},
	}
	start := time.Now()
	for i, s := range steps {
		fmt.Fprintf(o.Out, "[%d/%d] %s\n", i+1, len(steps), s.title)
		seen, err := s.do(ctx)
		var skip skipped
		switch {
		case errors.As(err, &skip):
			fmt.Fprintf(o.Out, "  – skipped: %s\n", skip)
		case err != nil:
			fmt.Fprintf(o.Out, "  ✗ %v\n", err)
			return fmt.Errorf("demo step %d (%s): %w", i+1, s.title, err)
		default:
			fmt.Fprintf(o.Out, "  ✓ %s\n", seen)
		}
	}
	d.summary(time.Since(start))
	return nil
}

// summary prints where the application is and what to try next.
func (d *demo) summary(took time.Duration) {
	url := "http://127.0.0.1"
	if p := d.state.IngressHTTPPort; p != 80 {
		url += ":" + strconv.Itoa(p)
	}
	kubectl := "kubectl --kubeconfig " + d.kubeconfig + " -n " + d.o.Namespace
	if d.kubeconfig != d.state.Kubeconfig {
		kubectl = "kubectl -n " + d.o.Namespace // the kubeconfig was inline: no file to name
	}
	w := d.o.Out
	fmt.Fprintf(w, "\nDone in %s: my-app runs in namespace %s on %d node(s), at http://%s/ through the Ingress.\n",
		took.Round(time.Second), d.o.Namespace, len(d.state.Nodes), Host)
	fmt.Fprintf(w, "Try:\n")
	fmt.Fprintf(w, "  curl -H 'Host: %s' %s/\n", Host, url)
	fmt.Fprintf(w, "  curl -X PUT -d blue -H 'Host: %s' %s/kv/color\n", Host, url)
	if d.value != "" {
		fmt.Fprintf(w, "  curl -H 'Host: %s' %s/kv/%s    # %s\n", Host, url, Key, d.value)
	}
	fmt.Fprintf(w, "  %s get pods,svc,ingress,pvc -o wide\n", kubectl)
	fmt.Fprintf(w, "  %s set env deployment/my-app GREETING=hi\n", kubectl)
}

// kubeconfigFile returns a kubeconfig file for the state's Kubeconfig,
// which is a path or (when it holds a newline) the kubeconfig itself,
// written to a temporary file that cleanup removes.
func kubeconfigFile(kubeconfig string) (path string, cleanup func(), err error) {
	if kubeconfig == "" {
		return "", nil, errors.New("the cluster's state names no kubeconfig")
	}
	if !strings.Contains(kubeconfig, "\n") {
		if _, err := os.Stat(kubeconfig); err != nil {
			return "", nil, fmt.Errorf("kubeconfig: %w", err)
		}
		return kubeconfig, func() {}, nil
	}
	f, err := os.CreateTemp("", "k1s-demo-kubeconfig-*")
	if err != nil {
		return "", nil, err
	}
	if _, err := f.WriteString(kubeconfig); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", nil, err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", nil, err
	}
	return f.Name(), func() { os.Remove(f.Name()) }, nil
}

// kubectl runs kubectl against the cluster, in the demo's namespace, and
// returns its output; an error carries the output's last line.
func (d *demo) kubectl(ctx context.Context, stdin []byte, args ...string) (string, error) {
	args = append([]string{"--kubeconfig", d.kubeconfig, "-n", d.o.Namespace}, args...)
	cmd := exec.CommandContext(ctx, d.o.Kubectl, args...)
	if stdin != nil {
		cmd.Stdin = strings.NewReader(string(stdin))
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %s", strings.Join(args[4:], " "), lastLine(out, err))
	}
	return string(out), nil
}

// lastLine is the last non-empty line of a command's output, or err's
// text when there is none.
func lastLine(out []byte, err error) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return l
	}
	return err.Error()
}

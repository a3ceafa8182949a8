package localcluster

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestPlan(t *testing.T) {
	o := Options{DataDir: "/d", Nodes: 3}
	if err := o.defaults(); err != nil {
		t.Fatal(err)
	}
	st, err := plan(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Nodes) != 3 || st.ServerURL != "https://10.44.0.1:6443" || st.Kubeconfig != "/d/kubeconfig.yaml" || st.IngressHTTPPort != 80 {
		t.Fatalf("plan: %+v", st)
	}
	n2 := st.Nodes[1]
	if n2.Name != "node-2" || n2.Address != "10.44.0.12" || n2.NetNS != "k1s-node-2" || n2.DataDir != "/d/nodes/node-2" ||
		n2.CgroupRoot != "/k1s-node-2" || n2.ContainerdSocket() != "/d/nodes/node-2/containerd/containerd.sock" {
		t.Errorf("node 2: %+v", n2)
	}
	if st.Nodes[0].NetNS != "" || st.Nodes[0].Address != "10.44.0.1" || st.Nodes[0].DataDir != "/d/server/agent" {
		t.Errorf("node 1: %+v", st.Nodes[0])
	}
	// Resuming keeps the node count unless told more; fewer is refused.
	o.Nodes = 0
	again, err := plan(o, st)
	if err != nil || len(again.Nodes) != 3 {
		t.Errorf("resume: %v %d nodes", err, len(again.Nodes))
	}
	o.Nodes = 2
	if _, err := plan(o, st); err == nil || !strings.Contains(err.Error(), "removing nodes is not supported") {
		t.Errorf("shrinking: %v", err)
	}
	bad := Options{DataDir: "/d", Nodes: -1}
	if err := bad.defaults(); err == nil {
		t.Error("--nodes -1 accepted")
	}
}

func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load of an empty dir: %v", err)
	}
	o := Options{DataDir: dir, Nodes: 2}
	o.defaults()
	st, _ := plan(o, nil)
	if err := st.save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Nodes) != 2 || got.Nodes[1] != st.Nodes[1] {
		t.Errorf("loaded %+v, want %+v", got, st)
	}
}

func TestProgressPlain(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out)
	s := p.step("api-server")
	s.update("waiting")
	s.done("https://10.44.0.1:6443")
	err := p.step("nodes Ready").fail(errors.New("boom"))
	p.close()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "✓ api-server: https://10.44.0.1:6443") || !strings.Contains(lines[1], "✗ nodes Ready") || err == nil {
		t.Errorf("progress output:\n%s", out.String())
	}
	if strings.Contains(out.String(), "\r") {
		t.Error("a non-terminal got terminal control characters")
	}
}

func TestRunningIgnoresOtherProcesses(t *testing.T) {
	dir := t.TempDir()
	pidFile := dir + "/x.pid"
	if _, ok := running(pidFile, "anything"); ok {
		t.Error("no pid file: running")
	}
	// Our own pid, with a marker our command line does not have.
	os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())), 0o600)
	if _, ok := running(pidFile, "/no/such/data/dir"); ok {
		t.Error("a process without the marker counts as running")
	}
	if _, ok := running(pidFile, os.Args[0]); !ok {
		t.Error("this process with its own marker does not count as running")
	}
}

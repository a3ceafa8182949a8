package preflight

import (
	"context"
	"os"
	"os/exec"
	"testing"
)

// TestRunOnThisMachine runs the real checks, nf_tables probe included, on
// a root machine with the runtime installed (as CI is): all must pass.
func TestRunOnThisMachine(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, bin := range []string{"containerd", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s: %v", bin, err)
		}
	}
	got := Run(context.Background(), Options{
		NeedRoot: true, NeedRuntime: true, NeedNFTables: true, MultiNode: true, WantKubectl: true,
	})
	for _, p := range got {
		if p.Warning {
			t.Logf("warning: %s", p)
		} else {
			t.Errorf("problem: %s", p)
		}
	}
}

// TestProbeNFTables runs the probe repeatedly and checks that every
// thread of this process is still in the namespace it started in.
func TestProbeNFTables(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	want, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	for range 20 { // repeatable: nothing is left behind to collide with
		if err := probeNFTables(); err != nil {
			t.Fatalf("probeNFTables: %v", err)
		}
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		got, err := os.Readlink("/proc/self/task/" + task.Name() + "/ns/net")
		if err != nil {
			continue // the thread has exited
		}
		if got != want {
			t.Errorf("thread %s is in %s, want %s", task.Name(), got, want)
		}
	}
}

package node

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/k1s/k1s/internal/runtime/cri"
)

// mustCRIList counts the containers the node's containerd holds for a pod.
func mustCRIList(t *testing.T, uid string) int {
	t.Helper()
	rt, err := cri.New("unix://" + filepath.Join(agentDir, "containerd", "containerd.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	cs, err := rt.ListContainers(context.Background(), &runtimeapi.ContainerFilter{LabelSelector: map[string]string{"io.kubernetes.pod.uid": uid}})
	if err != nil {
		t.Fatal(err)
	}
	return len(cs)
}

func TestAgentRestartAdoptsContainers(t *testing.T) {
	needNode(t)
	mustKubectl(t, podYAML("survivor", "Always", "sleep 3600", ""), "apply", "-f", "-")
	t.Cleanup(func() {
		kubectlRaw(context.Background(), "", "delete", "pod", "survivor", "--grace-period=0", "--force")
	})
	waitJSONPath(t, 60*time.Second, "pod", "survivor", "{.status.phase}", "Running")
	id := jsonpath(t, "pod", "survivor", "{.status.containerStatuses[0].containerID}")
	uid := jsonpath(t, "pod", "survivor", "{.metadata.uid}")

	stopAgent() // stops the kubelet and the containerd child; containers live on
	stop, err := startAgent(context.Background())
	if err != nil {
		t.Fatalf("restarting the agent: %v", err)
	}
	stopAgent = stop
	waitJSONPath(t, 60*time.Second, "pod", "survivor", `{.status.conditions[?(@.type=="Ready")].status}`, "True")
	if got := jsonpath(t, "pod", "survivor", "{.status.containerStatuses[0].containerID}"); got != id {
		t.Errorf("container %s after the agent restart, want the adopted %s", got, id)
	}
	if n := mustCRIList(t, uid); n != 1 {
		t.Errorf("%d containers for the pod after the restart, want 1", n)
	}
	out := mustKubectl(t, "", "exec", "survivor", "--", "echo", "still here")
	if out != "still here\n" {
		t.Errorf("exec after restart: %q", out)
	}
}

package network

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nodeOf returns the node a pod runs on, once it has one.
func nodeOf(t *testing.T, pod string) string {
	t.Helper()
	return kubectl(t, "", "get", "pod", pod, "-o", "jsonpath={.spec.nodeName}")
}

func nodeByName(t *testing.T, name string) *node {
	t.Helper()
	for _, n := range nodes {
		if n.name == name {
			return n
		}
	}
	t.Fatalf("no node %q", name)
	return nil
}

// claimDir is where the local-path provisioner keeps a claim's volume.
func claimDir(t *testing.T, ns, claim string) (string, *node) {
	t.Helper()
	pv := kubectl(t, "", "-n", ns, "get", "pvc", claim, "-o", "jsonpath={.spec.volumeName}")
	host := kubectl(t, "", "get", "pv", pv, "-o", "jsonpath={.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}")
	n := nodeByName(t, host)
	return filepath.Join(n.dataDir, "storage", pv), n
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestStatefulSetKeepsItsVolume: db-0 writes into its claim; the pod is
// deleted; the new db-0 comes back to the same node and reads the file.
func TestStatefulSetKeepsItsVolume(t *testing.T) {
	needCluster(t)
	kubectl(t, fmt.Sprintf(`apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: kv
spec:
  serviceName: kv
  replicas: 1
  selector:
    matchLabels: {app: kv}
  template:
    metadata:
      labels: {app: kv}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: db
        image: %s
        command: ["sh", "-c", "[ -f /data/born ] || date +%%s%%N > /data/born; exec sleep 3600"]
        volumeMounts:
        - {name: data, mountPath: /data}
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests: {storage: 64Mi}
`, busybox), "apply", "-f", "-")
	t.Cleanup(func() {
		kubectlRaw(context.Background(), "", "delete", "statefulset", "kv")
		kubectlRaw(context.Background(), "", "delete", "pvc", "data-kv-0")
	})
	kubectl(t, "", "wait", "--for=condition=Ready", "pod/kv-0", "--timeout=120s")
	born := strings.TrimSpace(kubectl(t, "", "exec", "kv-0", "--", "cat", "/data/born"))
	first := nodeOf(t, "kv-0")
	dir, n := claimDir(t, "default", "data-kv-0")
	if n.name != first {
		t.Errorf("the claim's volume is on %s, the pod ran on %s", n.name, first)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "born")); err != nil || strings.TrimSpace(string(b)) != born {
		t.Errorf("the volume's directory %s holds %q (%v), want %q", dir, b, err, born)
	}
	out := kubectl(t, "", "get", "pv,pvc")
	if !strings.Contains(out, "default/data-kv-0") || !strings.Contains(out, "Bound") || !strings.Contains(out, "local-path") {
		t.Errorf("kubectl get pv,pvc does not show the binding:\n%s", out)
	}

	uid := kubectl(t, "", "get", "pod", "kv-0", "-o", "jsonpath={.metadata.uid}")
	kubectl(t, "", "delete", "pod", "kv-0", "--wait=true", "--timeout=60s")
	eventually(t, 120*time.Second, func() error {
		out, _, err := kubectlRaw(context.Background(), "", "get", "pod", "kv-0", "-o", `jsonpath={.metadata.uid} {.status.conditions[?(@.type=="Ready")].status}`)
		if err != nil {
			return err
		}
		if f := strings.Fields(out); len(f) != 2 || f[0] == uid || f[1] != "True" {
			return fmt.Errorf("kv-0: %q", out)
		}
		return nil
	})
	if again := strings.TrimSpace(kubectl(t, "", "exec", "kv-0", "--", "cat", "/data/born")); again != born {
		t.Errorf("the new kv-0 reads %q, want %q", again, born)
	}
	if now := nodeOf(t, "kv-0"); now != first {
		t.Errorf("the new kv-0 runs on %s, its volume is on %s", now, first)
	}

	// Scaled to zero and back (whenScaled: Retain, the default): the
	// claim stays and the new kv-0 gets it again.
	kubectl(t, "", "scale", "statefulset", "kv", "--replicas=0")
	eventually(t, 60*time.Second, func() error {
		if _, _, err := kubectlRaw(context.Background(), "", "get", "pod", "kv-0"); err == nil {
			return fmt.Errorf("kv-0 still exists")
		}
		return nil
	})
	kubectl(t, "", "scale", "statefulset", "kv", "--replicas=1")
	eventually(t, 120*time.Second, func() error {
		_, errOut, err := kubectlRaw(context.Background(), "", "wait", "--for=condition=Ready", "pod/kv-0", "--timeout=10s")
		if err != nil {
			return fmt.Errorf("kv-0 not ready: %s", errOut)
		}
		return nil
	})
	if again := strings.TrimSpace(kubectl(t, "", "exec", "kv-0", "--", "cat", "/data/born")); again != born {
		t.Errorf("after scaling to zero and back, kv-0 reads %q, want %q", again, born)
	}
}

// TestClaimKeepsDataAcrossRolloutAndDeleteRemovesIt: a Deployment's
// claim survives a rollout; a pod that asks for another node than the
// claim's stays Pending; deleting the claim removes its directory.
func TestClaimKeepsDataAcrossRolloutAndDeleteRemovesIt(t *testing.T) {
	needCluster(t)
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: notes
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests: {storage: 32Mi}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: notes
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector:
    matchLabels: {app: notes}
  template:
    metadata:
      labels: {app: notes}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: app
        image: %s
        command: ["sh", "-c", "echo $(hostname) >> /notes/log; exec sleep 3600"]
        volumeMounts:
        - {name: notes, mountPath: /notes}
      volumes:
      - name: notes
        persistentVolumeClaim: {claimName: notes}
`, busybox), "apply", "-f", "-")
	t.Cleanup(func() {
		kubectlRaw(context.Background(), "", "delete", "deployment", "notes")
		kubectlRaw(context.Background(), "", "delete", "pod", "notes-elsewhere", "--grace-period=0", "--force")
		kubectlRaw(context.Background(), "", "delete", "pvc", "notes")
	})
	kubectl(t, "", "rollout", "status", "deployment/notes", "--timeout=120s")
	pod1 := strings.TrimSpace(kubectl(t, "", "get", "pods", "-l", "app=notes", "-o", "jsonpath={.items[0].metadata.name}"))
	kubectl(t, "", "rollout", "restart", "deployment/notes")
	kubectl(t, "", "rollout", "status", "deployment/notes", "--timeout=120s")
	var pod2 string
	eventually(t, 60*time.Second, func() error {
		out := kubectl(t, "", "get", "pods", "-l", "app=notes", "-o", "jsonpath={.items[*].metadata.name}")
		if f := strings.Fields(out); len(f) != 1 || f[0] == pod1 {
			return fmt.Errorf("pods %q", out)
		}
		pod2 = strings.TrimSpace(out)
		return nil
	})
	eventually(t, 30*time.Second, func() error {
		log, _, err := kubectlRaw(context.Background(), "", "exec", pod2, "--", "cat", "/notes/log")
		if err != nil {
			return err
		}
		if !strings.Contains(log, pod1) || !strings.Contains(log, pod2) {
			return fmt.Errorf("the log after the rollout is %q, want both %s and %s", log, pod1, pod2)
		}
		return nil
	})

	// A pod on the other node cannot use the claim: it stays Pending.
	dir, owner := claimDir(t, "default", "notes")
	other := nodes[0]
	if other == owner {
		other = nodes[1]
	}
	kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: notes-elsewhere
spec:
  nodeSelector: {kubernetes.io/hostname: %s}
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: %s
    command: ["sleep", "3600"]
    volumeMounts:
    - {name: notes, mountPath: /notes}
  volumes:
  - name: notes
    persistentVolumeClaim: {claimName: notes}
`, other.name, busybox), "apply", "-f", "-")
	eventually(t, 30*time.Second, func() error {
		msg := kubectl(t, "", "get", "pod", "notes-elsewhere", "-o", `jsonpath={.status.conditions[?(@.type=="PodScheduled")].message}`)
		if !strings.Contains(msg, "volume node affinity conflict") {
			return fmt.Errorf("PodScheduled message %q", msg)
		}
		return nil
	})
	if n := nodeOf(t, "notes-elsewhere"); n != "" {
		t.Fatalf("a pod whose claim is on %s was scheduled to %s", owner.name, n)
	}
	kubectl(t, "", "delete", "pod", "notes-elsewhere", "--grace-period=0", "--force")

	// Reclaim policy Delete: the claim's directory and PV go with it.
	pv := kubectl(t, "", "get", "pvc", "notes", "-o", "jsonpath={.spec.volumeName}")
	if !exists(dir) {
		t.Fatalf("the claim's directory %s does not exist", dir)
	}
	kubectl(t, "", "delete", "deployment", "notes", "--wait=true")
	kubectl(t, "", "delete", "pvc", "notes", "--wait=true", "--timeout=60s")
	eventually(t, 60*time.Second, func() error {
		if exists(dir) {
			return fmt.Errorf("%s still exists", dir)
		}
		if _, _, err := kubectlRaw(context.Background(), "", "get", "pv", pv); err == nil {
			return fmt.Errorf("persistentvolume %s still exists", pv)
		}
		return nil
	})
}

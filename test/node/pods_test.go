package node

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func podYAML(name, policy string, command string, extra string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  restartPolicy: %s
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: %s
    imagePullPolicy: Never
    command: ["sh", "-c", %q]
%s`, name, policy, busybox, command, extra)
}

func TestPodRunsLogsAndExec(t *testing.T) {
	needNode(t)
	mustKubectl(t, podYAML("hello", "Always", "echo hello from k1s; echo to stderr >&2; i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done", ""), "apply", "-f", "-")
	t.Cleanup(func() { kubectlRaw(context.Background(), "", "delete", "pod", "hello", "--grace-period=1") })
	waitJSONPath(t, 60*time.Second, "pod", "hello", "{.status.phase}", "Running")
	if ip := jsonpath(t, "pod", "hello", "{.status.podIP}"); !strings.HasPrefix(ip, "10.42.200.") {
		t.Errorf("podIP %q not in the node's pod CIDR", ip)
	}
	eventually(t, 30*time.Second, func() error {
		out, errOut, err := kubectlRaw(context.Background(), "", "logs", "hello")
		if err != nil || !strings.Contains(out, "hello from k1s") || !strings.Contains(out, "to stderr") || !strings.Contains(out, "tick 1") {
			return fmt.Errorf("logs: %q %q %v", out, errOut, err)
		}
		return nil
	})
	out := mustKubectl(t, "", "logs", "hello", "--tail=1", "--timestamps")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "tick") {
		t.Errorf("--tail=1 --timestamps: %q", out)
	} else if _, err := time.Parse(time.RFC3339Nano, strings.Fields(lines[0])[0]); err != nil {
		t.Errorf("--timestamps: no timestamp in %q", lines[0])
	}

	// exec: output and exit code come back.
	out = mustKubectl(t, "", "exec", "hello", "--", "sh", "-c", "echo inside; cat /etc/hostname")
	if !strings.Contains(out, "inside") || !strings.Contains(out, "hello") {
		t.Errorf("exec output %q", out)
	}
	_, _, err := kubectlRaw(context.Background(), "", "exec", "hello", "--", "sh", "-c", "exit 7")
	var ee *exec.ExitError
	if !asExit(err, &ee) || ee.ExitCode() != 7 {
		t.Errorf("exec exit: %v, want exit status 7", err)
	}
	// exec with stdin.
	out, _, err = kubectlRaw(context.Background(), "piped input\n", "exec", "-i", "hello", "--", "cat")
	if err != nil || !strings.Contains(out, "piped input") {
		t.Errorf("exec -i: %q %v", out, err)
	}

	// logs -f follows new lines.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", "--kubeconfig", kubeconfig, "logs", "-f", "hello", "--tail=0")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || !strings.Contains(sc.Text(), "tick") {
		t.Errorf("logs -f: first line %q, err %v", sc.Text(), sc.Err())
	}
	cancel()
	cmd.Wait()
}

func asExit(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}

func TestPortForward(t *testing.T) {
	needNode(t)
	mustKubectl(t, podYAML("web", "Always", "mkdir -p /www && echo served by k1s > /www/index.html && exec httpd -f -p 8080 -h /www",
		"    ports:\n    - containerPort: 8080\n      name: http\n    readinessProbe:\n      httpGet: {path: /index.html, port: http}\n      periodSeconds: 1\n"), "apply", "-f", "-")
	t.Cleanup(func() { kubectlRaw(context.Background(), "", "delete", "pod", "web", "--grace-period=1") })
	waitJSONPath(t, 60*time.Second, "pod", "web", `{.status.conditions[?(@.type=="Ready")].status}`, "True")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", "--kubeconfig", kubeconfig, "port-forward", "pod/web", "0:8080")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	port := 0
	for sc.Scan() {
		// "Forwarding from 127.0.0.1:PORT -> 8080"
		if f := strings.Fields(sc.Text()); len(f) >= 3 && strings.HasPrefix(f[2], "127.0.0.1:") {
			port, _ = strconv.Atoi(strings.TrimPrefix(f[2], "127.0.0.1:"))
			break
		}
	}
	if port == 0 {
		t.Fatalf("port-forward printed no local port (%v)", sc.Err())
	}
	go io.Copy(io.Discard, stdout)
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/index.html", port))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "served by k1s") {
		t.Errorf("port-forward body %q", body)
	}
}

func TestLivenessFailureRestarts(t *testing.T) {
	needNode(t)
	mustKubectl(t, podYAML("unhealthy", "Always", "touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 600",
		"    livenessProbe:\n      exec: {command: [cat, /tmp/healthy]}\n      periodSeconds: 1\n      failureThreshold: 1\n"), "apply", "-f", "-")
	t.Cleanup(func() {
		kubectlRaw(context.Background(), "", "delete", "pod", "unhealthy", "--grace-period=0", "--force")
	})
	eventually(t, 60*time.Second, func() error {
		n, _ := strconv.Atoi(jsonpath(t, "pod", "unhealthy", "{.status.containerStatuses[0].restartCount}"))
		if n < 1 {
			return fmt.Errorf("restartCount %d", n)
		}
		return nil
	})
	out := mustKubectl(t, "", "get", "events", "--field-selector", "involvedObject.name=unhealthy")
	if !strings.Contains(out, "Unhealthy") || !strings.Contains(out, "Liveness probe failed") {
		t.Errorf("no Unhealthy event:\n%s", out)
	}
}

func TestMemoryLimitOOMKills(t *testing.T) {
	needNode(t)
	// tail keeps a newline-free stream in memory: far past 32Mi.
	mustKubectl(t, podYAML("hog", "Never", "head -c 200000000 /dev/zero | tail",
		"    resources:\n      limits: {memory: 32Mi}\n"), "apply", "-f", "-")
	t.Cleanup(func() { kubectlRaw(context.Background(), "", "delete", "pod", "hog", "--grace-period=0", "--force") })
	waitJSONPath(t, 60*time.Second, "pod", "hog", "{.status.containerStatuses[0].state.terminated.reason}", "OOMKilled")
	if got := jsonpath(t, "pod", "hog", "{.status.phase}"); got != "Failed" {
		t.Errorf("phase %q, want Failed", got)
	}
}

func TestConfigMapAndSecretReachTheContainer(t *testing.T) {
	needNode(t)
	mustKubectl(t, "", "create", "configmap", "settings", "--from-literal=greeting=hello", "--from-literal=color=blue")
	mustKubectl(t, "", "create", "secret", "generic", "creds", "--from-literal=password=s3cret")
	t.Cleanup(func() {
		kubectlRaw(context.Background(), "", "delete", "configmap", "settings")
		kubectlRaw(context.Background(), "", "delete", "secret", "creds")
	})
	mustKubectl(t, podYAML("configured", "Always", "sleep 600", `    env:
    - name: GREETING
      valueFrom: {configMapKeyRef: {name: settings, key: greeting}}
    - name: PASSWORD
      valueFrom: {secretKeyRef: {name: creds, key: password}}
    - name: MY_POD
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    envFrom:
    - prefix: CM_
      configMapRef: {name: settings}
    volumeMounts:
    - {name: cfg, mountPath: /etc/cfg}
    - {name: sec, mountPath: /etc/sec, readOnly: true}
  volumes:
  - name: cfg
    configMap: {name: settings}
  - name: sec
    secret: {secretName: creds}
`), "apply", "-f", "-")
	t.Cleanup(func() {
		kubectlRaw(context.Background(), "", "delete", "pod", "configured", "--grace-period=0", "--force")
	})
	waitJSONPath(t, 60*time.Second, "pod", "configured", "{.status.phase}", "Running")
	out := mustKubectl(t, "", "exec", "configured", "--", "sh", "-c", "echo $GREETING $PASSWORD $MY_POD $CM_color; cat /etc/cfg/greeting; echo; cat /etc/sec/password")
	for _, want := range []string{"hello s3cret configured blue", "hello\ns3cret"} {
		if !strings.Contains(out, want) {
			t.Errorf("container sees %q, want it to contain %q", out, want)
		}
	}
	mustKubectl(t, `{"data":{"greeting":"updated"}}`, "patch", "configmap", "settings", "--type=merge", "-p", `{"data":{"greeting":"updated"}}`)
	eventually(t, 90*time.Second, func() error {
		out, _, err := kubectlRaw(context.Background(), "", "exec", "configured", "--", "cat", "/etc/cfg/greeting")
		if err != nil || out != "updated" {
			return fmt.Errorf("mounted file %q (%v)", out, err)
		}
		return nil
	})
}

func TestDeletedPodLeavesNothing(t *testing.T) {
	needNode(t)
	mustKubectl(t, podYAML("ephemeral", "Always", "trap 'exit 0' TERM; sleep 600 & wait", ""), "apply", "-f", "-")
	waitJSONPath(t, 60*time.Second, "pod", "ephemeral", "{.status.phase}", "Running")
	uid := jsonpath(t, "pod", "ephemeral", "{.metadata.uid}")
	cgroups, _ := filepath.Glob("/sys/fs/cgroup/*" + cgroupRoot + "/pod" + uid)
	cgroups2, _ := filepath.Glob("/sys/fs/cgroup" + cgroupRoot + "/pod" + uid)
	if len(cgroups)+len(cgroups2) == 0 {
		t.Errorf("no pod cgroup found under %s for a running pod", cgroupRoot)
	}
	mustKubectl(t, "", "delete", "pod", "ephemeral", "--wait=true", "--timeout=60s")
	for _, c := range append(cgroups, cgroups2...) {
		if _, err := os.Stat(c); !os.IsNotExist(err) {
			t.Errorf("cgroup %s still exists after the pod was deleted", c)
		}
	}
	out, _ := exec.Command("ctr", "-a", filepath.Join(agentDir, "containerd", "containerd.sock"), "-n", "k8s.io", "containers", "list", "-q").Output()
	cri := mustCRIList(t, uid)
	if cri != 0 {
		t.Errorf("%d containers of the deleted pod remain (ctr: %s)", cri, out)
	}
}

func TestExecWithTTYAndAttach(t *testing.T) {
	needNode(t)
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script (util-linux) is needed to give kubectl a terminal")
	}
	mustKubectl(t, podYAML("talker", "Always", "i=0; while true; do echo said $i; i=$((i+1)); sleep 1; done", ""), "apply", "-f", "-")
	t.Cleanup(func() { kubectlRaw(context.Background(), "", "delete", "pod", "talker", "--grace-period=0", "--force") })
	waitJSONPath(t, 60*time.Second, "pod", "talker", "{.status.phase}", "Running")

	// exec -it: script(1) gives kubectl a pseudo-terminal, so it asks
	// for a TTY and the command runs on one inside the container.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "script", "-qec",
		"kubectl --kubeconfig "+kubeconfig+" exec -it talker -- sh -c 'tty; echo rows=$(stty size)'", "/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "/dev/pts/") || !strings.Contains(string(out), "rows=") {
		t.Errorf("exec -it: %v\n%s", err, out)
	}

	// attach streams the running container's output.
	actx, acancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer acancel()
	att := exec.CommandContext(actx, "kubectl", "--kubeconfig", kubeconfig, "attach", "talker", "-c", "main")
	stdout, _ := att.StdoutPipe()
	if err := att.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	got := ""
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "said ") {
			got = sc.Text()
			break
		}
	}
	acancel()
	att.Wait()
	if got == "" {
		t.Errorf("attach streamed no output (%v)", sc.Err())
	}
}

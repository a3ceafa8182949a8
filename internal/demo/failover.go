package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/k1s/k1s/internal/localcluster"
)

// Bounds of the failover step.
const (
	failoverNodes = 3 // fewer, and the pods would have nowhere to go but the first node
	// agentStopTimeout is how long a SIGTERMed agent may take before it
	// is killed.
	agentStopTimeout = time.Minute
	// moveTimeout covers the node monitor grace period, the pods'
	// toleration of the unreachable taint and the new pods' start.
	moveTimeout   = 3 * time.Minute
	upTimeout     = 5 * time.Minute
	nodeUpTimeout = 3 * time.Minute
	upOutputTail  = 20 // lines of `k1s up`'s output an error quotes
)

// pickFailoverNode chooses the node whose agent the failover step stops:
// not the first node (the control plane and the Ingress port the demo
// uses live there), not the database's (its volume is local to it, so
// its pod could not move), and among the rest the one running the most
// application pods (ties: the earlier in nodes). It returns "" and why
// when no node qualifies.
func pickFailoverNode(nodes []string, appPods map[string]int, dbNode string) (string, string) {
	best, most := "", 0
	for i, n := range nodes {
		if i == 0 || n == dbNode {
			continue
		}
		if c := appPods[n]; c > most {
			best, most = n, c
		}
	}
	if best == "" {
		return "", fmt.Sprintf("no node but the first (%s) and the database's (%s) runs a %s pod", first(nodes), dbNode, appName)
	}
	return best, ""
}

// moveTarget is the node the failover step puts an application pod on
// when pickFailoverNode finds none: the first that is neither the first
// node nor the database's; "" when there is none.
func moveTarget(nodes []string, dbNode string) string {
	for i, n := range nodes {
		if i > 0 && n != dbNode {
			return n
		}
	}
	return ""
}

// placeAppPod moves one application pod to target: with every other
// node cordoned it deletes an application pod elsewhere, whose
// replacement can only go to target, and waits for the Deployment to be
// whole again. The nodes it cordoned are uncordoned whatever happens.
func (d *demo) placeAppPod(ctx context.Context, target string, pods []corev1.Pod) (string, error) {
	var victim string
	for _, p := range pods {
		if p.Spec.NodeName != target {
			victim = p.Name
			break
		}
	}
	if victim == "" {
		return "", fmt.Errorf("every %s pod is on %s already", appName, target)
	}
	var cordoned []string
	defer func() {
		// Even when ctx has ended: a cordoned node must not outlive the demo.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		for _, n := range cordoned {
			d.setUnschedulable(uctx, n, false)
		}
	}()
	for _, n := range d.state.Nodes {
		if n.Name == target {
			continue
		}
		changed, err := d.setUnschedulable(ctx, n.Name, true)
		if err != nil {
			return "", fmt.Errorf("cordon %s: %w", n.Name, err)
		}
		if changed {
			cordoned = append(cordoned, n.Name)
		}
	}
	if err := d.cs.CoreV1().Pods(d.o.Namespace).Delete(ctx, victim, metav1.DeleteOptions{}); err != nil {
		return "", fmt.Errorf("delete pod %s: %w", victim, err)
	}
	var placed string
	err := poll(ctx, rolloutTimeout, "a "+appName+" pod on "+target, func(ctx context.Context) (bool, string, error) {
		dep, err := d.cs.AppsV1().Deployments(d.o.Namespace).Get(ctx, appName, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		ready, err := d.readyPods(ctx, appSelector)
		if err != nil {
			return false, "", err
		}
		placed = ""
		for _, p := range ready {
			if p.Spec.NodeName == target {
				placed = p.Name
			}
		}
		return placed != "" && deploymentSettled(dep, appReplicas), fmt.Sprintf("ready: %s; %s", podsOn(ready), deploymentSeen(dep)), nil
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("moved %s to %s as %s (the other nodes cordoned meanwhile)", victim, target, placed), nil
}

// setUnschedulable cordons or uncordons a node and says whether that
// changed it.
func (d *demo) setUnschedulable(ctx context.Context, name string, unschedulable bool) (bool, error) {
	changed := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := d.cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if n.Spec.Unschedulable == unschedulable {
			changed = false
			return nil
		}
		n = n.DeepCopy()
		n.Spec.Unschedulable = unschedulable
		_, err = d.cs.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		changed = err == nil
		return err
	})
	return changed, err
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// nodeFailover stops the agent of a node that runs application pods,
// waits until the Deployment's replicas are all available on the other
// nodes, then brings the node back with `k1s up`.
func (d *demo) nodeFailover(ctx context.Context) (string, error) {
	if n := len(d.state.Nodes); n < failoverNodes {
		return "", skipped(fmt.Sprintf("the cluster has %d node(s); this step needs %d (k1s up --nodes %d)", n, failoverNodes, failoverNodes))
	}
	if err := d.waitDeployment(ctx, rolloutTimeout); err != nil {
		return "", err
	}
	pods, err := d.readyPods(ctx, appSelector)
	if err != nil {
		return "", err
	}
	db, err := d.cs.CoreV1().Pods(d.o.Namespace).Get(ctx, dbPod, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	names := make([]string, len(d.state.Nodes))
	for i, n := range d.state.Nodes {
		names[i] = n.Name
	}
	counts := map[string]int{}
	for _, p := range pods {
		counts[p.Spec.NodeName]++
	}
	victim, why := pickFailoverNode(names, counts, db.Spec.NodeName)
	placed := ""
	if victim == "" {
		// The scheduler put the replicas where stopping a node would move
		// none or strand the database: put one where it shows.
		target := moveTarget(names, db.Spec.NodeName)
		if target == "" {
			return "", skipped(why + " (" + podsOn(pods) + ")")
		}
		if placed, err = d.placeAppPod(ctx, target, pods); err != nil {
			return "", fmt.Errorf("%s; moving one to %s: %w", why, target, err)
		}
		if pods, err = d.readyPods(ctx, appSelector); err != nil {
			return "", err
		}
		clear(counts)
		for _, p := range pods {
			counts[p.Spec.NodeName]++
		}
		if victim, why = pickFailoverNode(names, counts, db.Spec.NodeName); victim == "" {
			return "", fmt.Errorf("after moving a pod to %s: %s (%s)", target, why, podsOn(pods))
		}
		placed += "; "
	}
	var node localcluster.Node
	for _, n := range d.state.Nodes {
		if n.Name == victim {
			node = n
		}
	}
	var moving []string
	for _, p := range pods {
		if p.Spec.NodeName == victim {
			moving = append(moving, p.Name)
		}
	}

	pid, err := readPID(node.PIDFile)
	if err != nil {
		return "", fmt.Errorf("node %s: %w", victim, err)
	}
	stopped := time.Now()
	killed, err := stopProcess(ctx, pid, agentStopTimeout)
	if err != nil {
		return "", fmt.Errorf("stopping the agent of %s (pid %d): %w", victim, pid, err)
	}
	stopNote := ""
	if killed {
		stopNote = fmt.Sprintf(" (killed: no exit %s after SIGTERM)", agentStopTimeout)
	}
	back := false
	defer func() {
		if back {
			return
		}
		// A failure below must not leave the node down for whatever runs
		// next; the step's error stays what it was.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), upTimeout)
		defer cancel()
		if err := d.k1sUp(uctx); err != nil {
			fmt.Fprintf(d.o.Out, "  ! bringing %s back after the failure: %s\n", victim, firstLine(err.Error()))
		}
	}()

	var after []corev1.Pod
	err = poll(ctx, moveTimeout, fmt.Sprintf("%s's pods moving off %s", appName, victim), func(ctx context.Context) (bool, string, error) {
		dep, err := d.cs.AppsV1().Deployments(d.o.Namespace).Get(ctx, appName, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		list, err := d.cs.CoreV1().Pods(d.o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: appSelector})
		if err != nil {
			return false, "", err
		}
		after = after[:0]
		left := 0
		for _, p := range list.Items {
			switch {
			case p.Spec.NodeName == victim && p.DeletionTimestamp == nil:
				left++
			case p.Spec.NodeName != victim && podReady(&p):
				after = append(after, p)
			}
		}
		seen := fmt.Sprintf("%d pod(s) still on %s; ready elsewhere: %s; %s", left, victim, podsOn(after), deploymentSeen(dep))
		return left == 0 && len(after) >= appReplicas && dep.Status.AvailableReplicas >= appReplicas, seen, nil
	})
	if err != nil {
		return "", err
	}
	moved := time.Since(stopped)
	if _, err := d.ingress.Get(ctx, "/"); err != nil {
		return "", fmt.Errorf("with %s down: %w", victim, err)
	}

	restarted := time.Now()
	back = true
	if err := d.k1sUp(ctx); err != nil {
		return "", fmt.Errorf("bringing %s back: %w", victim, err)
	}
	err = poll(ctx, nodeUpTimeout, "node "+victim+" Ready again", func(ctx context.Context) (bool, string, error) {
		n, err := d.cs.CoreV1().Nodes().Get(ctx, victim, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				// The node was Unknown (its pods were evicted for it):
				// True is the agent back.
				return nodeReady(n), fmt.Sprintf("Ready=%s (%s), last heartbeat %s", c.Status, c.Reason, c.LastHeartbeatTime.Format(time.TimeOnly)), nil
			}
		}
		return false, "no Ready condition", nil
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%sstopped %s's agent (pid %d%s) with %s on it: after %s %s; k1s up brought %s back Ready in %s",
		placed, victim, pid, stopNote, strings.Join(moving, ", "), moved.Round(time.Second), podsOn(after),
		victim, time.Since(restarted).Round(time.Second)), nil
}

// readPID reads a pid file.
func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("pid file %s: %q is not a pid", path, strings.TrimSpace(string(b)))
	}
	return pid, nil
}

// stopProcess sends pid SIGTERM and waits for it to exit; after timeout
// it sends SIGKILL and says so. The process is not our child: exiting
// means gone or a zombie.
func stopProcess(ctx context.Context, pid int, timeout time.Duration) (killed bool, err error) {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return false, errors.New("not running")
		}
		return false, err
	}
	gone := func(context.Context) (bool, string, error) {
		return processGone(pid), "still running", nil
	}
	if err := poll(ctx, timeout, "exit after SIGTERM", gone); err == nil {
		return false, nil
	} else if ctx.Err() != nil {
		return false, err
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return true, err
	}
	return true, poll(ctx, 10*time.Second, "exit after SIGKILL", gone)
}

// processGone says whether pid no longer runs (absent, or a zombie).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return os.IsNotExist(err)
	}
	// pid (comm) S ...: the state follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X')
}

// k1sUp runs `k1s up --data-dir D` with the cluster's ports, which
// starts whatever of the cluster is not running. Its output goes to a file, not a pipe: the processes it
// leaves running must not hold our end open.
func (d *demo) k1sUp(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, upTimeout)
	defer cancel()
	out, err := os.CreateTemp("", "k1s-demo-up-*.log")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	// The ports the cluster runs on, so that `k1s up` plans the same
	// cluster whatever its defaults.
	args := []string{"up", "--data-dir", d.o.DataDir, "--ingress-http-port", strconv.Itoa(d.state.IngressHTTPPort)}
	if u, err := url.Parse(d.state.ServerURL); err == nil && u.Port() != "" {
		args = append(args, "--api-port", u.Port())
	}
	cmd := exec.CommandContext(ctx, d.o.K1sBinary, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(out.Name())
		return fmt.Errorf("%s %s: %w\n%s", d.o.K1sBinary, strings.Join(args, " "), err, tail(string(b), upOutputTail))
	}
	return nil
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

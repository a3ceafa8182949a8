package demo

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k1s/k1s/examples/my-app/k8s"
	"github.com/k1s/k1s/internal/image"
)

// Timeouts of the deployment steps; the first start of a pod includes
// provisioning the database's volume.
const (
	loadTimeout    = 3 * time.Minute
	rolloutTimeout = 3 * time.Minute
)

// loadImages builds the two images from the source tree and loads them
// into every node's containerd, where the manifests' imagePullPolicy
// Never finds them.
func (d *demo) loadImages(ctx context.Context) (string, error) {
	if _, err := exec.LookPath(d.o.GoBinary); err != nil {
		return "", fmt.Errorf("the images are built from source with Go: %w", err)
	}
	images, err := image.BuildAppImages(ctx, d.o.GoBinary, d.o.ModuleDir)
	if err != nil {
		return "", err
	}
	refs := make([]string, 0, len(images))
	for ref := range images {
		refs = append(refs, ref)
	}
	slices.Sort(refs)
	var built []string
	for _, ref := range refs {
		digest, err := images[ref].Digest()
		if err != nil {
			return "", fmt.Errorf("image %s: %w", ref, err)
		}
		built = append(built, fmt.Sprintf("%s (%s)", ref, shortDigest(digest.String())))
	}
	d.loadedAt = time.Now()
	var nodes []string
	for _, n := range d.state.Nodes {
		for _, ref := range refs {
			lctx, cancel := context.WithTimeout(ctx, loadTimeout)
			err := image.LoadImage(lctx, n.ContainerdSocket(), "k8s.io", ref, images[ref])
			cancel()
			if err != nil {
				return "", fmt.Errorf("node %s: %w", n.Name, err)
			}
		}
		nodes = append(nodes, n.Name)
	}
	return fmt.Sprintf("%s loaded on %s", strings.Join(built, ", "), strings.Join(nodes, ", ")), nil
}

// shortDigest is "sha256:" and the first 12 hex digits of a digest or
// of a reference by digest (NAME@sha256:...).
func shortDigest(d string) string {
	if i := strings.LastIndexByte(d, '@'); i >= 0 {
		d = d[i+1:]
	}
	algo, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) <= 12 {
		return d
	}
	return algo + ":" + hex[:12]
}

// deploy creates the namespace, applies the manifests with kubectl and
// waits for the database and both replicas of the application.
func (d *demo) deploy(ctx context.Context) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: d.o.Namespace}}
	if _, err := d.cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("namespace %s: %w", d.o.Namespace, err)
	}
	if _, err := d.kubectl(ctx, k8s.Manifest(), "apply", "-f", "-"); err != nil {
		return "", err
	}
	var dbNode string
	err := poll(ctx, rolloutTimeout, "statefulset "+dbName, func(ctx context.Context) (bool, string, error) {
		sts, err := d.cs.AppsV1().StatefulSets(d.o.Namespace).Get(ctx, dbName, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		seen := fmt.Sprintf("statefulset %s: %d ready of %d", dbName, sts.Status.ReadyReplicas, sts.Status.Replicas)
		if sts.Status.ObservedGeneration < sts.Generation || sts.Status.ReadyReplicas < 1 {
			return false, seen + d.podProblem(ctx, "app=db"), nil
		}
		pod, err := d.cs.CoreV1().Pods(d.o.Namespace).Get(ctx, dbPod, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		dbNode = pod.Spec.NodeName
		return podReady(pod), seen, nil
	})
	if err != nil {
		return "", err
	}
	if err := d.waitDeployment(ctx, rolloutTimeout); err != nil {
		return "", fmt.Errorf("%w%s", err, d.podProblem(ctx, appSelector))
	}
	pods, err := d.readyPods(ctx, appSelector)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s ready on %s; %s %d/%d available: %s",
		dbPod, dbNode, appName, len(pods), appReplicas, podsOn(pods)), nil
}

// podProblem describes why the first not-ready pod matching selector is
// not ready (a waiting container's reason, an unscheduled pod), for
// error messages; "" when it finds none.
func (d *demo) podProblem(ctx context.Context, selector string) string {
	list, err := d.cs.CoreV1().Pods(d.o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return ""
	}
	for _, p := range list.Items {
		if podReady(&p) {
			continue
		}
		for _, cs := range p.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil && w.Reason != "" {
				return fmt.Sprintf("; pod %s: %s %s", p.Name, w.Reason, w.Message)
			}
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status != corev1.ConditionTrue {
				return fmt.Sprintf("; pod %s unscheduled: %s", p.Name, c.Message)
			}
		}
		return fmt.Sprintf("; pod %s is %s on %q", p.Name, p.Status.Phase, p.Spec.NodeName)
	}
	return ""
}

package demo

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/k1s/k1s/internal/image"
)

// Bounds of the application steps.
const (
	ingressTimeout  = 2 * time.Minute // the Ingress and the endpoints catching up
	balanceRequests = 20              // per try, for both replicas to show
	loadInterval    = 20 * time.Millisecond
	minLoadRequests = 20
	// loadTail keeps the load running once the replacement is done, so
	// that a proxy still pointing at the removed pod would show.
	loadTail = 2 * time.Second
	// steadyAnswers is how many answers in a row must show the new
	// greeting.
	steadyAnswers = 10
)

// bothReplicas checks that requests through the Ingress reach both
// ready pods of the Deployment.
func (d *demo) bothReplicas(ctx context.Context) (string, error) {
	var seen map[string]int
	err := poll(ctx, ingressTimeout, "both replicas through the Ingress", func(ctx context.Context) (bool, string, error) {
		s, err := servedBy(ctx, d.ingress, "/", appReplicas, balanceRequests)
		seen = s
		if err != nil {
			return false, "", err
		}
		return len(s) >= appReplicas, fmt.Sprintf("%d requests answered by %s only", balanceRequests, countsByPod(s)), nil
	})
	if err != nil {
		return "", err
	}
	pods, err := d.readyPods(ctx, appSelector)
	if err != nil {
		return "", err
	}
	names := podNames(pods)
	for name := range seen {
		if !slices.Contains(names, name) {
			return "", fmt.Errorf("answered by %s, which is not a ready pod of %s (%s)", name, appName, strings.Join(names, ", "))
		}
	}
	return "both replicas answer: " + strings.Join(slices.Sorted(maps.Keys(seen)), ", "), nil
}

// writeSurvivesDB writes Key through the Ingress, deletes the database's
// pod, waits for its replacement and reads the value back.
func (d *demo) writeSurvivesDB(ctx context.Context) (string, error) {
	value := "written by k1s demo at " + time.Now().UTC().Format(time.RFC3339Nano)
	path := "/kv/" + Key
	// A PUT is idempotent: one that failed on the way is sent again.
	err := poll(ctx, ingressTimeout, "PUT "+path, func(ctx context.Context) (bool, string, error) {
		r, err := d.ingress.Do(ctx, http.MethodPut, path, strings.NewReader(value))
		if err != nil {
			return false, "", err
		}
		return r.Status/100 == 2, fmt.Sprintf("%d %s", r.Status, firstLine(r.Body)), nil
	})
	if err != nil {
		return "", err
	}
	r, err := d.ingress.Get(ctx, path)
	if err != nil {
		return "", err
	}
	if r.Body != value {
		return "", fmt.Errorf("GET %s right after the PUT: %q, want %q", path, r.Body, value)
	}
	d.value = value

	pods := d.cs.CoreV1().Pods(d.o.Namespace)
	old, err := pods.Get(ctx, dbPod, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if err := pods.Delete(ctx, dbPod, metav1.DeleteOptions{}); err != nil {
		return "", fmt.Errorf("delete pod %s: %w", dbPod, err)
	}
	deleted := time.Now()
	var replacement *corev1.Pod
	err = poll(ctx, rolloutTimeout, "a new "+dbPod, func(ctx context.Context) (bool, string, error) {
		p, err := pods.Get(ctx, dbPod, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, dbPod + " is gone, no replacement yet", nil
		}
		if err != nil {
			return false, "", err
		}
		if p.UID == old.UID {
			return false, dbPod + " still the old pod (terminating)", nil
		}
		replacement = p
		return podReady(p), fmt.Sprintf("new %s is %s, not ready%s", dbPod, p.Status.Phase, d.podProblem(ctx, "app=db")), nil
	})
	if err != nil {
		return "", err
	}
	// The application's pods fail /readyz while the database is away, so
	// the Ingress answers 503 until they are back.
	err = poll(ctx, ingressTimeout, "reading "+Key+" back", func(ctx context.Context) (bool, string, error) {
		r, err := d.ingress.Get(ctx, path)
		if err != nil {
			return false, "", err
		}
		if r.Body != value {
			return false, "", fmt.Errorf("GET %s: %q, want %q", path, r.Body, value)
		}
		return true, "", nil
	})
	if err != nil {
		return "", err
	}
	volume := ""
	for _, v := range replacement.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			volume = ", volume claim " + v.PersistentVolumeClaim.ClaimName
		}
	}
	return fmt.Sprintf("%s=%q read back %s after %s was replaced (uid %s → %s, on %s%s)",
		Key, value, time.Since(deleted).Round(100*time.Millisecond), dbPod,
		shortUID(string(old.UID)), shortUID(string(replacement.UID)), replacement.Spec.NodeName, volume), nil
}

func shortUID(uid string) string {
	if len(uid) > 8 {
		return uid[:8]
	}
	return uid
}

// podDeletion deletes one application pod, with its default grace
// period, while requests flow through the Ingress, and checks that none
// fails until the Deployment is back to its replicas.
func (d *demo) podDeletion(ctx context.Context) (string, error) {
	if err := d.waitDeployment(ctx, rolloutTimeout); err != nil {
		return "", err
	}
	before, err := d.readyPods(ctx, appSelector)
	if err != nil {
		return "", err
	}
	if len(before) != appReplicas {
		return "", fmt.Errorf("%d ready pods of %s (%s), want %d", len(before), appName, strings.Join(podNames(before), ", "), appReplicas)
	}
	victim := before[0]
	beforeNames := podNames(before)

	l := startLoad(ctx, d.ingress, loadInterval)
	stopped := false
	defer func() {
		if !stopped {
			l.stop()
		}
	}()
	pods := d.cs.CoreV1().Pods(d.o.Namespace)
	if err := pods.Delete(ctx, victim.Name, metav1.DeleteOptions{}); err != nil {
		return "", fmt.Errorf("delete pod %s: %w", victim.Name, err)
	}
	deleted := time.Now()
	var replacement string
	err = poll(ctx, rolloutTimeout, "replacing "+victim.Name, func(ctx context.Context) (bool, string, error) {
		_, err := pods.Get(ctx, victim.Name, metav1.GetOptions{})
		gone := apierrors.IsNotFound(err)
		if err != nil && !gone {
			return false, "", err
		}
		dep, err := d.cs.AppsV1().Deployments(d.o.Namespace).Get(ctx, appName, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		ready, err := d.readyPods(ctx, appSelector)
		if err != nil {
			return false, "", err
		}
		replacement = ""
		for _, p := range ready {
			if !slices.Contains(beforeNames, p.Name) {
				replacement = p.Name
			}
		}
		seen := fmt.Sprintf("%s gone: %t; ready: %s; %s", victim.Name, gone, strings.Join(podNames(ready), ", "), deploymentSeen(dep))
		return gone && replacement != "" && deploymentSettled(dep, appReplicas), seen, nil
	})
	if err != nil {
		return "", err
	}
	took := time.Since(deleted)
	select {
	case <-time.After(loadTail):
	case <-ctx.Done():
		return "", ctx.Err()
	}
	res := l.stop()
	stopped = true
	if res.failed > 0 {
		return "", fmt.Errorf("%d of %d requests failed while %s was replaced; first: %w", res.failed, res.sent, victim.Name, res.firstErr)
	}
	if res.sent < minLoadRequests {
		return "", fmt.Errorf("only %d requests went out while %s was replaced", res.sent, victim.Name)
	}
	return fmt.Sprintf("%d requests, 0 failed, while %s was replaced by %s in %s (answered by %s)",
		res.sent, victim.Name, replacement, took.Round(100*time.Millisecond), countsByPod(res.byPod)), nil
}

// configChange sets GREETING in the ConfigMap, restarts the Deployment
// with kubectl and checks that the page shows the new greeting while the
// pods run the same images.
func (d *demo) configChange(ctx context.Context) (string, error) {
	r, err := d.ingress.Get(ctx, "/")
	if err != nil {
		return "", err
	}
	current, err := parsePage(r.Body)
	if err != nil {
		return "", err
	}
	target := nextGreeting(current.greeting)
	// Only pods made after this run loaded the images say what they are:
	// older ones (a second run) may run what an earlier run loaded.
	imagesBefore, err := d.imageIDs(ctx, d.loadedAt)
	if err != nil {
		return "", err
	}

	cms := d.cs.CoreV1().ConfigMaps(d.o.Namespace)
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := cms.Get(ctx, configMapName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cm = cm.DeepCopy()
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data["GREETING"] = target
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return "", fmt.Errorf("configmap %s: %w", configMapName, err)
	}
	if _, err := d.kubectl(ctx, nil, "rollout", "restart", "deployment/"+appName); err != nil {
		return "", err
	}
	if _, err := d.kubectl(ctx, nil, "rollout", "status", "deployment/"+appName, "--timeout="+rolloutTimeout.String()); err != nil {
		return "", fmt.Errorf("%w%s", err, d.podProblem(ctx, appSelector))
	}
	served := map[string]int{}
	steady := 0
	err = poll(ctx, ingressTimeout, "the new greeting through the Ingress", func(ctx context.Context) (bool, string, error) {
		for steady < steadyAnswers {
			r, err := d.ingress.Get(ctx, "/")
			if err != nil {
				steady = 0
				return false, "", err
			}
			p, err := parsePage(r.Body)
			if err != nil {
				return false, "", err
			}
			if p.greeting != target {
				steady = 0
				clear(served)
				return false, fmt.Sprintf("%s still says %q", p.pod, p.greeting), nil
			}
			steady++
			served[p.pod]++
		}
		return true, "", nil
	})
	if err != nil {
		return "", err
	}
	if err := d.waitDeployment(ctx, rolloutTimeout); err != nil {
		return "", err
	}
	imagesAfter, err := d.imageIDs(ctx, d.loadedAt)
	if err != nil {
		return "", err
	}
	if changed := imagesChanged(imagesBefore, imagesAfter); changed != "" {
		return "", fmt.Errorf("the restarted pods run other images: %s", changed)
	}
	images := "no image built or loaded"
	if id, ok := imagesAfter[image.AppImageRef]; ok && imagesBefore[image.AppImageRef] == id {
		images = "same image " + shortDigest(id)
	}
	return fmt.Sprintf("greeting %q → %q, answered by %s (%s)",
		current.greeting, target, strings.Join(slices.Sorted(maps.Keys(served)), ", "), images), nil
}

// nextGreeting is the greeting the ConfigMap step switches to: the
// demo's, or back to the manifest's when the demo's is already served
// (a second run), so that the switch always shows.
func nextGreeting(current string) string {
	if current == demoGreeting {
		return manifestGreeting
	}
	return demoGreeting
}

// imageIDs is the image ID (digest) the containers of the ready
// application pods made since then run, by image reference; references
// whose pods report no ID are left out.
func (d *demo) imageIDs(ctx context.Context, since time.Time) (map[string]string, error) {
	pods, err := d.readyPods(ctx, appSelector)
	if err != nil {
		return nil, err
	}
	ids := map[string]string{}
	for _, p := range pods {
		if p.CreationTimestamp.Time.Before(since.Truncate(time.Second)) {
			continue
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.ImageID != "" {
				ids[cs.Image] = cs.ImageID
			}
		}
	}
	return ids, nil
}

// imagesChanged says which image reference runs another ID after than
// before; "" when none does.
func imagesChanged(before, after map[string]string) string {
	var changed []string
	for ref, id := range after {
		if old, ok := before[ref]; ok && old != id {
			changed = append(changed, fmt.Sprintf("%s %s → %s", ref, old, id))
		}
	}
	slices.Sort(changed)
	return strings.Join(changed, "; ")
}

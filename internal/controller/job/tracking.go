package job

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// untracking remembers, per Job key, the pods whose tracking finalizer
// the controller removed (or is removing) while its cache may still show
// it, so a lagging cache cannot make a pod be counted twice.
type untracking struct {
	mu sync.Mutex
	m  map[string]map[types.UID]bool
}

func newUntracking() *untracking { return &untracking{m: map[string]map[types.UID]bool{}} }

func (u *untracking) expect(key string, uid types.UID) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m[key] == nil {
		u.m[key] = map[types.UID]bool{}
	}
	u.m[key][uid] = true
}

// observed drops uid: the cache shows its pod without the finalizer, or
// gone.
func (u *untracking) observed(key string, uid types.UID) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.m[key], uid)
	if len(u.m[key]) == 0 {
		delete(u.m, key)
	}
}

// pending returns a copy of what key still waits to see.
func (u *untracking) pending(key string) map[types.UID]bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make(map[types.UID]bool, len(u.m[key]))
	for uid := range u.m[key] {
		out[uid] = true
	}
	return out
}

func (u *untracking) forget(key string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.m, key)
}

// removeFinalizerPatch drops the tracking finalizer from the pod with uid
// (the api-server refuses it if the name now belongs to another pod).
func removeFinalizerPatch(uid types.UID) []byte {
	return fmt.Appendf(nil, `{"metadata":{"$deleteFromPrimitiveList/finalizers":[%q],"uid":%q}}`, batchv1.JobTrackingFinalizer, uid)
}

// untrack removes the tracking finalizer from pods, noting each removal
// for key so that the cache showing it late does not count it again.
func (c *Controller) untrack(ctx context.Context, key string, pods []*corev1.Pod) error {
	errs := make([]error, len(pods))
	var wg sync.WaitGroup
	for i, p := range pods {
		if !slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer) {
			continue
		}
		c.untracking.expect(key, p.UID)
		wg.Go(func() {
			_, err := c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType,
				removeFinalizerPatch(p.UID), metav1.PatchOptions{})
			switch {
			case err == nil:
			case apierrors.IsNotFound(err), apierrors.IsConflict(err), apierrors.IsInvalid(err):
				// Gone, or the name is another pod's now: this one is gone too.
			default:
				c.untracking.observed(key, p.UID)
				errs[i] = fmt.Errorf("removing finalizer of pod %s: %w", p.Name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// releaseOrphans removes the tracking finalizer from the pods of Job key
// that no live Job counts: its Job is gone (uid ""), being deleted, or
// was replaced by another of the same name (another uid).
func (c *Controller) releaseOrphans(ctx context.Context, key string, live types.UID) error {
	objs, _ := c.podIndexer.ByIndex(podsByJobName, key)
	var orphans []*corev1.Pod
	for _, o := range objs {
		p := o.(*corev1.Pod)
		ref := metav1.GetControllerOfNoCopy(p)
		if ref != nil && (live == "" || ref.UID != live) && slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer) {
			orphans = append(orphans, p)
		}
	}
	return c.untrack(ctx, key, orphans)
}

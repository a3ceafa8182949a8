package scheduler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const selectedNodeAnnotation = "volume.kubernetes.io/selected-node"

func mustCreateClass(tb testing.TB, client kubernetes.Interface, name, provisioner string, mode storagev1.VolumeBindingMode) {
	tb.Helper()
	c := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: provisioner, VolumeBindingMode: &mode}
	if _, err := client.StorageV1().StorageClasses().Create(context.Background(), c, metav1.CreateOptions{}); err != nil {
		tb.Fatalf("creating class %s: %v", name, err)
	}
}

func mustCreateClaim(tb testing.TB, client kubernetes.Interface, name, class, size string) *corev1.PersistentVolumeClaim {
	tb.Helper()
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: &class,
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
		},
	}
	created, err := client.CoreV1().PersistentVolumeClaims("default").Create(context.Background(), pvc, metav1.CreateOptions{})
	if err != nil {
		tb.Fatalf("creating claim %s: %v", name, err)
	}
	return created
}

// localPV is a local volume on a node; claim, when set, is its claimRef.
func localPV(name, class, size, node string, claim *corev1.PersistentVolumeClaim) *corev1.PersistentVolume {
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName:              class,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/var/lib/k1s/storage/" + name}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
			}}}},
		},
	}
	if claim != nil {
		pv.Spec.ClaimRef = &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: claim.Namespace, Name: claim.Name, UID: claim.UID}
	}
	return pv
}

// mustCreatePV creates a volume and marks it Available.
func mustCreatePV(tb testing.TB, client kubernetes.Interface, pv *corev1.PersistentVolume) {
	tb.Helper()
	ctx := context.Background()
	created, err := client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	if err != nil {
		tb.Fatalf("creating volume %s: %v", pv.Name, err)
	}
	created.Status.Phase = corev1.VolumeAvailable
	if _, err := client.CoreV1().PersistentVolumes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		tb.Fatalf("volume %s status: %v", pv.Name, err)
	}
}

// bindClaim does the PV controller's part: the claim names the volume,
// says the binding is complete, and its phase is Bound.
func bindClaim(ctx context.Context, client kubernetes.Interface, name, pv string) error {
	pvc, err := client.CoreV1().PersistentVolumeClaims("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	pvc.Spec.VolumeName = pv
	if pvc.Annotations == nil {
		pvc.Annotations = map[string]string{}
	}
	pvc.Annotations["pv.kubernetes.io/bind-completed"] = "yes"
	if pvc, err = client.CoreV1().PersistentVolumeClaims("default").Update(ctx, pvc, metav1.UpdateOptions{}); err != nil {
		return err
	}
	pvc.Status.Phase = corev1.ClaimBound
	_, err = client.CoreV1().PersistentVolumeClaims("default").UpdateStatus(ctx, pvc, metav1.UpdateOptions{})
	return err
}

func podWithClaim(name, claim string) *corev1.Pod {
	p := newPod("default", name, "100m", "1Mi")
	p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim},
	}}}
	return p
}

func nodeOf(ctx context.Context, client kubernetes.Interface, pod string) (string, error) {
	p, err := client.CoreV1().Pods("default").Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	return p.Spec.NodeName, nil
}

func podOn(ctx context.Context, client kubernetes.Interface, pod, want string) func() error {
	return func() error {
		node, err := nodeOf(ctx, client, pod)
		if err != nil {
			return err
		}
		if node != want {
			return fmt.Errorf("%s on %q, want %q", pod, node, want)
		}
		return nil
	}
}

// TestBoundLocalVolume: pods whose claim is bound to node a's local volume
// all go to a, though a is the fullest node.
func TestBoundLocalVolume(t *testing.T) {
	ctx := context.Background()
	client, opts := newClient(t)
	for _, n := range []string{"a", "b", "c"} {
		mustCreateNode(t, client, newNode(n, "4", "8Gi", 110))
	}
	busy := newPod("default", "busy", "3", "6Gi")
	busy.Spec.NodeName = "a"
	mustCreatePod(t, client, busy)
	mustCreateClass(t, client, "local-path", "k1s.io/local-path", storagev1.VolumeBindingWaitForFirstConsumer)
	claim := mustCreateClaim(t, client, "data", "local-path", "1Gi")
	mustCreatePV(t, client, localPV("pv-a", "local-path", "1Gi", "a", claim))
	if err := bindClaim(ctx, client, "data", "pv-a"); err != nil {
		t.Fatal(err)
	}
	startScheduler(t, opts().Kubeconfig, *opts())
	for i := range 4 {
		mustCreatePod(t, client, podWithClaim(fmt.Sprintf("p%d", i), "data"))
	}
	for i := range 4 {
		eventually(t, 20*time.Second, podOn(ctx, client, fmt.Sprintf("p%d", i), "a"))
	}
}

// TestProvisionOnFirstConsumer: a WaitForFirstConsumer claim of a class
// with a provisioner gets the selected-node annotation; two pods sharing
// it wait, unbound, until the test (as provisioner and PV controller)
// binds it to a volume on that node, then both go there.
func TestProvisionOnFirstConsumer(t *testing.T) {
	ctx := context.Background()
	client, opts := newClient(t)
	for _, n := range []string{"a", "b", "c"} {
		mustCreateNode(t, client, newNode(n, "4", "8Gi", 110))
	}
	mustCreateClass(t, client, "local-path", "k1s.io/local-path", storagev1.VolumeBindingWaitForFirstConsumer)
	claim := mustCreateClaim(t, client, "data", "local-path", "1Gi")
	startScheduler(t, opts().Kubeconfig, *opts())
	mustCreatePod(t, client, podWithClaim("first", "data"))
	mustCreatePod(t, client, podWithClaim("second", "data"))

	var selected string
	eventually(t, 20*time.Second, func() error {
		pvc, err := client.CoreV1().PersistentVolumeClaims("default").Get(ctx, "data", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if selected = pvc.Annotations[selectedNodeAnnotation]; selected == "" {
			return fmt.Errorf("claim annotations %v, want %s", pvc.Annotations, selectedNodeAnnotation)
		}
		return nil
	})
	for _, p := range []string{"first", "second"} {
		if node, err := nodeOf(ctx, client, p); err != nil || node != "" {
			t.Fatalf("%s on %q (%v) before its claim is bound", p, node, err)
		}
	}
	pvName := "pvc-" + string(claim.UID)
	mustCreatePV(t, client, localPV(pvName, "local-path", "1Gi", selected, claim))
	if err := bindClaim(ctx, client, "data", pvName); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"first", "second"} {
		eventually(t, 20*time.Second, podOn(ctx, client, p, selected))
	}
}

// TestStaticVolumeOnFirstConsumer: with a class without provisioner, the
// scheduler promises the claim the one volume that fits, on node b, by
// setting its claimRef; the test completes the binding as the PV
// controller would, and the pod goes to b.
func TestStaticVolumeOnFirstConsumer(t *testing.T) {
	ctx := context.Background()
	client, opts := newClient(t)
	for _, n := range []string{"a", "b", "c"} {
		mustCreateNode(t, client, newNode(n, "4", "8Gi", 110))
	}
	mustCreateClass(t, client, "static", "kubernetes.io/no-provisioner", storagev1.VolumeBindingWaitForFirstConsumer)
	mustCreatePV(t, client, localPV("small-a", "static", "1Gi", "a", nil))
	mustCreatePV(t, client, localPV("big-b", "static", "5Gi", "b", nil))
	claim := mustCreateClaim(t, client, "data", "static", "2Gi")
	startScheduler(t, opts().Kubeconfig, *opts())
	mustCreatePod(t, client, podWithClaim("p", "data"))

	eventually(t, 20*time.Second, func() error {
		pv, err := client.CoreV1().PersistentVolumes().Get(ctx, "big-b", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if ref := pv.Spec.ClaimRef; ref == nil || ref.Namespace != "default" || ref.Name != "data" || ref.UID != claim.UID {
			return fmt.Errorf("big-b claimRef %+v, want default/data %s", ref, claim.UID)
		}
		return nil
	})
	pv, err := client.CoreV1().PersistentVolumes().Get(ctx, "small-a", metav1.GetOptions{})
	if err != nil || pv.Spec.ClaimRef != nil {
		t.Errorf("small-a claimRef %+v (%v), want none", pv.Spec.ClaimRef, err)
	}
	if err := bindClaim(ctx, client, "data", "big-b"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, podOn(ctx, client, "p", "b"))
}

// TestUnboundImmediateClaim: a pod whose claim binds immediately but is
// not bound is unschedulable, whatever the nodes.
func TestUnboundImmediateClaim(t *testing.T) {
	ctx := context.Background()
	client, opts := newClient(t)
	mustCreateNode(t, client, newNode("a", "4", "8Gi", 110))
	mustCreateNode(t, client, newNode("b", "4", "8Gi", 110))
	mustCreateClass(t, client, "fast", "k1s.io/local-path", storagev1.VolumeBindingImmediate)
	mustCreateClaim(t, client, "data", "fast", "1Gi")
	startScheduler(t, opts().Kubeconfig, *opts())
	mustCreatePod(t, client, podWithClaim("p", "data"))
	want := "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
	eventually(t, 20*time.Second, func() error {
		p, err := client.CoreV1().Pods("default").Get(ctx, "p", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if c := scheduledCondition(p); c == nil || c.Reason != corev1.PodReasonUnschedulable || c.Message != want {
			return fmt.Errorf("PodScheduled %+v, want Unschedulable %q", c, want)
		}
		return nil
	})
}

// TestVolumeBindingTimeout: when nobody provisions the claim, the binding
// gives up after the timeout and says so in a FailedScheduling event, and
// the pod stays pending; once the claim is bound it is placed.
func TestVolumeBindingTimeout(t *testing.T) {
	ctx := context.Background()
	client, opts := newClient(t)
	mustCreateNode(t, client, newNode("a", "4", "8Gi", 110))
	mustCreateClass(t, client, "local-path", "k1s.io/local-path", storagev1.VolumeBindingWaitForFirstConsumer)
	claim := mustCreateClaim(t, client, "data", "local-path", "1Gi")
	o := opts()
	o.VolumeBindTimeout = 500 * time.Millisecond
	startScheduler(t, o.Kubeconfig, *o)
	mustCreatePod(t, client, podWithClaim("p", "data"))
	eventually(t, 20*time.Second, func() error {
		msg, err := eventFor(ctx, client, "default", "p", "FailedScheduling")
		if err != nil {
			return err
		}
		if !strings.Contains(msg, "timed out waiting for the persistent volume claims to be bound") {
			return fmt.Errorf("FailedScheduling %q", msg)
		}
		return nil
	})
	if node, err := nodeOf(ctx, client, "p"); err != nil || node != "" {
		t.Fatalf("p on %q (%v) with its claim unbound", node, err)
	}
	pvName := "pvc-" + string(claim.UID)
	mustCreatePV(t, client, localPV(pvName, "local-path", "1Gi", "a", claim))
	if err := bindClaim(ctx, client, "data", pvName); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, podOn(ctx, client, "p", "a"))
}

// TestDeletedPodReleasesItsClaim: deleting a pod whose binding waits for
// its claim ends the wait at once, and the selected-node annotation the
// scheduler set is taken back.
func TestDeletedPodReleasesItsClaim(t *testing.T) {
	ctx := context.Background()
	client, opts := newClient(t)
	mustCreateNode(t, client, newNode("a", "4", "8Gi", 110))
	mustCreateClass(t, client, "local-path", "k1s.io/local-path", storagev1.VolumeBindingWaitForFirstConsumer)
	mustCreateClaim(t, client, "data", "local-path", "1Gi")
	startScheduler(t, opts().Kubeconfig, *opts()) // 30s to bind volumes
	mustCreatePod(t, client, podWithClaim("p", "data"))
	annotation := func(want string) func() error {
		return func() error {
			pvc, err := client.CoreV1().PersistentVolumeClaims("default").Get(ctx, "data", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if got := pvc.Annotations[selectedNodeAnnotation]; got != want {
				return fmt.Errorf("selected-node %q, want %q", got, want)
			}
			return nil
		}
	}
	eventually(t, 20*time.Second, annotation("a"))
	if err := client.CoreV1().Pods("default").Delete(ctx, "p", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, annotation(""))
}

package pvprotection_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/k1s/k1s/internal/controller/pvprotection"
	"github.com/k1s/k1s/internal/testcluster"
)

const timeout = 15 * time.Second

// startControllers runs both protection controllers against a fresh
// api-server. With blindPods, the pod informer watches another namespace,
// so only the live list sees the tests' pods.
func startControllers(t *testing.T, blindPods bool) kubernetes.Interface {
	t.Helper()
	client, err := kubernetes.NewForConfig(testcluster.StartAPIServer(t))
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	podFactory := factory
	if blindPods {
		podFactory = informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace("elsewhere"))
	}
	claims, err := pvprotection.NewClaimController(pvprotection.ClaimOptions{
		Client: client,
		Claims: factory.Core().V1().PersistentVolumeClaims(),
		Pods:   podFactory.Core().V1().Pods(),
		Logger: testcluster.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	volumes, err := pvprotection.NewVolumeController(pvprotection.VolumeOptions{
		Client:  client,
		Volumes: factory.Core().V1().PersistentVolumes(),
		Logger:  testcluster.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	podFactory.Start(ctx.Done())
	done := make(chan error, 2)
	go func() { done <- claims.Run(ctx) }()
	go func() { done <- volumes.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("controller Run: %v", err)
			}
		}
		factory.Shutdown()
		podFactory.Shutdown()
	})
	return client
}

func createClaim(t *testing.T, client kubernetes.Interface, name string) {
	t.Helper()
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			StorageClassName: new(""),
		},
	}
	if _, err := client.CoreV1().PersistentVolumeClaims("default").Create(context.Background(), claim, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, timeout, func() error {
		c, err := client.CoreV1().PersistentVolumeClaims("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !slices.Contains(c.Finalizers, pvprotection.ClaimFinalizer) {
			return fmt.Errorf("claim %s finalizers %v", name, c.Finalizers)
		}
		return nil
	})
}

// waitGone waits until get reports NotFound.
func waitGone(t *testing.T, what string, get func() error) {
	t.Helper()
	testcluster.Eventually(t, timeout, func() error {
		err := get()
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return errors.New(what + " still exists")
	})
}

func TestClaimProtection(t *testing.T) {
	t.Run("pod in cache", func(t *testing.T) { testClaimProtection(t, false) })
	// The cache lags (here: never sees the pod); the live list holds the claim.
	t.Run("pod only in the api-server", func(t *testing.T) { testClaimProtection(t, true) })
}

func testClaimProtection(t *testing.T, blindPods bool) {
	ctx := context.Background()
	client := startControllers(t, blindPods)
	claims := client.CoreV1().PersistentVolumeClaims("default")
	createClaim(t, client, "data")
	createClaim(t, client, "marker")

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeName:   "n1",
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
			Volumes: []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}},
		},
	}
	pod, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase = corev1.PodRunning
	if _, err := client.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Deleted in this order, the marker is processed after the claim (one
	// worker, FIFO): once the unused marker is gone, the used claim has
	// been looked at and kept.
	for _, name := range []string{"data", "marker"} {
		if err := claims.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitGone(t, "claim marker", func() error { _, err := claims.Get(ctx, "marker", metav1.GetOptions{}); return err })
	c, err := claims.Get(ctx, "data", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("claim used by a running pod: %v", err)
	}
	if c.DeletionTimestamp == nil {
		t.Errorf("claim data is not being deleted")
	}

	if err := client.CoreV1().Pods("default").Delete(ctx, "web", metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))}); err != nil {
		t.Fatal(err)
	}
	if blindPods {
		// No pod event reaches the controller: touch the claim instead.
		patch := []byte(`{"metadata":{"labels":{"touched":"yes"}}}`)
		if _, err := claims.Patch(ctx, "data", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitGone(t, "claim data", func() error { _, err := claims.Get(ctx, "data", metav1.GetOptions{}); return err })
}

func TestVolumeProtection(t *testing.T) {
	ctx := context.Background()
	client := startControllers(t, false)
	volumes := client.CoreV1().PersistentVolumes()
	for _, name := range []string{"bound", "marker"} {
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
				AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/" + name}},
			},
		}
		if _, err := volumes.Create(ctx, pv, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var pv *corev1.PersistentVolume
	testcluster.Eventually(t, timeout, func() error {
		for _, name := range []string{"bound", "marker"} {
			var err error
			if pv, err = volumes.Get(ctx, name, metav1.GetOptions{}); err != nil {
				return err
			}
			if !slices.Contains(pv.Finalizers, pvprotection.VolumeFinalizer) {
				return fmt.Errorf("volume %s finalizers %v", name, pv.Finalizers)
			}
		}
		return nil
	})
	pv, err := volumes.Get(ctx, "bound", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pv.Status.Phase = corev1.VolumeBound
	if _, err := volumes.UpdateStatus(ctx, pv, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bound", "marker"} {
		if err := volumes.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitGone(t, "volume marker", func() error { _, err := volumes.Get(ctx, "marker", metav1.GetOptions{}); return err })
	if _, err := volumes.Get(ctx, "bound", metav1.GetOptions{}); err != nil {
		t.Fatalf("bound volume: %v", err)
	}

	// Released, it may go.
	testcluster.Eventually(t, timeout, func() error {
		pv, err := volumes.Get(ctx, "bound", metav1.GetOptions{})
		if err != nil {
			return err
		}
		pv.Status.Phase = corev1.VolumeReleased
		_, err = volumes.UpdateStatus(ctx, pv, metav1.UpdateOptions{})
		return err
	})
	waitGone(t, "volume bound", func() error { _, err := volumes.Get(ctx, "bound", metav1.GetOptions{}); return err })
}

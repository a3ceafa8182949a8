package localpath

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/k1s/k1s/internal/testcluster"
)

const waitFor = 20 * time.Second

func TestProvisionerAgainstAPIServer(t *testing.T) {
	cfg := testcluster.StartAPIServer(t)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "storage")
	for _, c := range []*storagev1.StorageClass{
		testClass(storagev1.VolumeBindingWaitForFirstConsumer, nil),
		func() *storagev1.StorageClass {
			c := testClass(storagev1.VolumeBindingImmediate, nil)
			c.Name = "immediate"
			return c
		}(),
		func() *storagev1.StorageClass {
			c := testClass(storagev1.VolumeBindingImmediate, map[string]string{"nodeName": "n1"})
			c.Name = "pinned"
			return c
		}(),
		func() *storagev1.StorageClass {
			c := testClass(storagev1.VolumeBindingWaitForFirstConsumer, nil)
			c.Name = "keep"
			retain := corev1.PersistentVolumeReclaimRetain
			c.ReclaimPolicy = &retain
			return c
		}(),
	} {
		if _, err := client.StorageV1().StorageClasses().Create(ctx, c, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	p, err := New(Options{Client: client, NodeName: "n1", Dir: dir, Log: testcluster.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	newClaim := func(name, class, node string) *corev1.PersistentVolumeClaim {
		t.Helper()
		ann := map[string]string{annStorageProvisioner: ProvisionerName}
		if node != "" {
			ann[annSelectedNode] = node
		}
		c := testClaim(ann)
		c.UID, c.Name, c.Namespace, c.Spec.StorageClassName = "", name, "default", &class
		c, err := client.CoreV1().PersistentVolumeClaims("default").Create(ctx, c, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	waitVolume := func(c *corev1.PersistentVolumeClaim) *corev1.PersistentVolume {
		t.Helper()
		var pv *corev1.PersistentVolume
		testcluster.Eventually(t, waitFor, func() (err error) {
			pv, err = client.CoreV1().PersistentVolumes().Get(ctx, volumeName(c), metav1.GetOptions{})
			return err
		})
		return pv
	}
	setReleased := func(pv *corev1.PersistentVolume) {
		t.Helper()
		pv.Status.Phase = corev1.VolumeReleased
		if _, err := client.CoreV1().PersistentVolumes().UpdateStatus(ctx, pv, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitGone := func(name string) {
		t.Helper()
		testcluster.Eventually(t, waitFor, func() error {
			_, err := client.CoreV1().PersistentVolumes().Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("persistentvolume %s still there (err %v)", name, err)
		})
	}
	waitEvent := func(name, reason string) {
		t.Helper()
		testcluster.Eventually(t, waitFor, func() error {
			evs, err := client.CoreV1().Events("").List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			for _, e := range evs.Items {
				if e.InvolvedObject.Name == name && e.Reason == reason {
					return nil
				}
			}
			return fmt.Errorf("no %s event for %s", reason, name)
		})
	}

	// Another node's claim first: by the time ours is done, it was seen.
	theirs := newClaim("theirs", "local-path", "n2")
	ours := newClaim("ours", "local-path", "n1")
	pv := waitVolume(ours)
	path := filepath.Join(dir, volumeName(ours))
	if pv.Spec.Local == nil || pv.Spec.Local.Path != path {
		t.Errorf("local = %+v, want path %s", pv.Spec.Local, path)
	}
	if ref := pv.Spec.ClaimRef; ref == nil || ref.UID != ours.UID || ref.Name != "ours" || ref.Namespace != "default" {
		t.Errorf("claimRef = %+v", ref)
	}
	if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete || !onNode(pv, "n1") {
		t.Errorf("policy %s, affinity %+v", pv.Spec.PersistentVolumeReclaimPolicy, pv.Spec.NodeAffinity)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !info.IsDir() || info.Mode().Perm() != 0o777 {
		t.Errorf("%s: mode %v, want a 0777 directory", path, info.Mode())
	}
	waitEvent("ours", "ProvisioningSucceeded")
	if _, err := client.CoreV1().PersistentVolumes().Get(ctx, volumeName(theirs), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("another node's claim got a volume (err %v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, volumeName(theirs))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("another node's claim got a directory (err %v)", err)
	}

	// Immediate classes: provisioned by the node the class names, else refused.
	waitVolume(newClaim("pinned", "pinned", ""))
	newClaim("immediate", "immediate", "")
	waitEvent("immediate", "ProvisioningFailed")

	// Retain first, then Delete: once the latter is gone, the former was seen.
	kept := waitVolume(newClaim("kept", "keep", "n1"))
	keptPath := kept.Spec.Local.Path
	if err := os.WriteFile(filepath.Join(keptPath, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(path, "sub", "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Released means the claim is gone (the PV controller, not running
	// here, would set it); a claim still there would get a new volume.
	for _, name := range []string{"kept", "ours"} {
		if err := client.CoreV1().PersistentVolumeClaims("default").Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	setReleased(kept)
	setReleased(pv)
	waitGone(pv.Name)
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("released Delete volume's directory still there (err %v)", err)
	}
	if _, err := client.CoreV1().PersistentVolumes().Get(ctx, kept.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("Retain volume: %v", err)
	}
	if _, err := os.Stat(filepath.Join(keptPath, "f")); err != nil {
		t.Errorf("Retain volume's data: %v", err)
	}

	// A PV of ours whose path is outside Dir: never removed.
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "precious"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	stray := buildVolume(testClaim(nil), testClass(storagev1.VolumeBindingWaitForFirstConsumer, nil), "n1", outside)
	stray.Name, stray.Spec.ClaimRef = "stray", nil
	stray, err = client.CoreV1().PersistentVolumes().Create(ctx, stray, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setReleased(stray)
	waitEvent("stray", "VolumeFailedDelete")
	if _, err := os.Stat(filepath.Join(outside, "precious")); err != nil {
		t.Errorf("outside directory touched: %v", err)
	}
	if _, err := client.CoreV1().PersistentVolumes().Get(ctx, "stray", metav1.GetOptions{}); err != nil {
		t.Errorf("PV outside Dir: %v", err)
	}
}

func TestRemoveDirStaysInside(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "storage")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(dir, "pvc-1", "sub"), filepath.Join(outside, "victim")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(dir, "evil")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "pvc-link")); err != nil {
		t.Fatal(err)
	}
	p := &Provisioner{dir: dir}
	tests := []struct {
		path    string
		outside bool     // refused
		gone    string   // removed
		kept    []string // still there
	}{
		{path: filepath.Join(dir, "evil", "victim"), outside: true, kept: []string{filepath.Join(outside, "victim")}},
		{path: outside, outside: true, kept: []string{outside}},
		{path: dir, outside: true, kept: []string{dir}},
		{path: filepath.Join(dir, "..", "outside"), outside: true, kept: []string{outside}},
		// A symlink itself is removed, not what it points to.
		{path: filepath.Join(dir, "pvc-link"), gone: filepath.Join(dir, "pvc-link"), kept: []string{filepath.Join(outside, "victim")}},
		{path: filepath.Join(dir, "pvc-1"), gone: filepath.Join(dir, "pvc-1")},
		{path: filepath.Join(dir, "pvc-missing")},
	}
	for _, tt := range tests {
		err := p.removeDir(tt.path)
		var oe *outsideError
		if errors.As(err, &oe) != tt.outside {
			t.Errorf("removeDir(%s) = %v, want refusal %v", tt.path, err, tt.outside)
		} else if !tt.outside && err != nil {
			t.Errorf("removeDir(%s) = %v", tt.path, err)
		}
		if tt.gone != "" {
			if _, err := os.Lstat(tt.gone); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("removeDir(%s): %s still there (%v)", tt.path, tt.gone, err)
			}
		}
		for _, k := range tt.kept {
			if _, err := os.Stat(k); err != nil {
				t.Errorf("removeDir(%s): %s: %v", tt.path, k, err)
			}
		}
	}
}

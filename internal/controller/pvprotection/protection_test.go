package pvprotection

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodUses(t *testing.T) {
	pod := func(phase corev1.PodPhase, vols ...corev1.Volume) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.PodSpec{Volumes: vols}, Status: corev1.PodStatus{Phase: phase}}
	}
	claimVol := corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}
	ephemeral := corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}}
	empty := corev1.Volume{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	tests := []struct {
		name  string
		pod   *corev1.Pod
		claim string
		want  bool
	}{
		{"running pod with the claim", pod(corev1.PodRunning, claimVol), "data", true},
		{"pending pod with the claim", pod(corev1.PodPending, claimVol), "data", true},
		{"unknown phase counts as using", pod("", claimVol), "data", true},
		{"succeeded pod", pod(corev1.PodSucceeded, claimVol), "data", false},
		{"failed pod", pod(corev1.PodFailed, claimVol), "data", false},
		{"other claim", pod(corev1.PodRunning, claimVol), "other", false},
		{"no claims", pod(corev1.PodRunning, empty), "data", false},
		{"ephemeral claim", pod(corev1.PodRunning, empty, ephemeral), "web-scratch", true},
	}
	for _, tt := range tests {
		if got := podUses(tt.pod, tt.claim); got != tt.want {
			t.Errorf("%s: podUses = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestVolumeFinalizerChange(t *testing.T) {
	now := metav1.Now()
	pv := func(deleting, has bool, phase corev1.PersistentVolumePhase) *corev1.PersistentVolume {
		v := &corev1.PersistentVolume{Status: corev1.PersistentVolumeStatus{Phase: phase}}
		if deleting {
			v.DeletionTimestamp = &now
		}
		if has {
			v.Finalizers = []string{"other", VolumeFinalizer}
		}
		return v
	}
	tests := []struct {
		name string
		pv   *corev1.PersistentVolume
		want int
	}{
		{"new volume gets it", pv(false, false, corev1.VolumeAvailable), 1},
		{"kept while live", pv(false, true, corev1.VolumeAvailable), 0},
		{"bound volume being deleted keeps it", pv(true, true, corev1.VolumeBound), 0},
		{"released volume being deleted loses it", pv(true, true, corev1.VolumeReleased), -1},
		{"available volume being deleted loses it", pv(true, true, corev1.VolumeAvailable), -1},
		{"deleting without it: nothing", pv(true, false, corev1.VolumeAvailable), 0},
	}
	for _, tt := range tests {
		if got := volumeFinalizerChange(tt.pv); got != tt.want {
			t.Errorf("%s: volumeFinalizerChange = %d, want %d", tt.name, got, tt.want)
		}
	}
}

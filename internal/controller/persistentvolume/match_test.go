package persistentvolume

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	k8stypes "k8s.io/apimachinery/pkg/types"
)

type pvOpt func(*corev1.PersistentVolume)

func testPV(name, size, class string, opts ...pvOpt) *corev1.PersistentVolume {
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:         corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce, corev1.ReadOnlyMany},
			StorageClassName: class,
		},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeAvailable},
	}
	for _, o := range opts {
		o(pv)
	}
	return pv
}

func withLabels(l map[string]string) pvOpt {
	return func(pv *corev1.PersistentVolume) { pv.Labels = l }
}
func withModes(m ...corev1.PersistentVolumeAccessMode) pvOpt {
	return func(pv *corev1.PersistentVolume) { pv.Spec.AccessModes = m }
}
func withClaimRef(ns, name, uid string) pvOpt {
	return func(pv *corev1.PersistentVolume) {
		pv.Spec.ClaimRef = &corev1.ObjectReference{Namespace: ns, Name: name, UID: k8stypes.UID(uid)}
	}
}
func withPhase(p corev1.PersistentVolumePhase) pvOpt {
	return func(pv *corev1.PersistentVolume) { pv.Status.Phase = p }
}
func withBlock() pvOpt {
	return func(pv *corev1.PersistentVolume) { pv.Spec.VolumeMode = new(corev1.PersistentVolumeBlock) }
}
func onHost(host string) pvOpt {
	return func(pv *corev1.PersistentVolume) {
		pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: hostnameLabel, Operator: corev1.NodeSelectorOpIn, Values: []string{host}}},
		}}}}
	}
}

func testClaim(size string, modes ...corev1.PersistentVolumeAccessMode) *corev1.PersistentVolumeClaim {
	if len(modes) == 0 {
		modes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	}
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "data", UID: "uid-1"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: modes,
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
		},
	}
}

func TestFindVolume(t *testing.T) {
	claim := testClaim("1Gi")
	selClaim := testClaim("1Gi")
	selClaim.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "fast"}}
	rwx := testClaim("1Gi", corev1.ReadWriteMany)
	blockClaim := testClaim("1Gi")
	blockClaim.Spec.VolumeMode = new(corev1.PersistentVolumeBlock)

	tests := []struct {
		name    string
		req     matchRequest
		volumes []*corev1.PersistentVolume
		want    string // "" for no match
	}{
		{"smallest that fits", matchRequest{claim: claim},
			[]*corev1.PersistentVolume{testPV("big", "10Gi", ""), testPV("small", "512Mi", ""), testPV("fit", "2Gi", ""), testPV("exact", "1Gi", "")}, "exact"},
		{"ties broken by name", matchRequest{claim: claim},
			[]*corev1.PersistentVolume{testPV("b", "2Gi", ""), testPV("a", "2Gi", "")}, "a"},
		{"class must match", matchRequest{claim: claim, class: "gold"},
			[]*corev1.PersistentVolume{testPV("plain", "1Gi", ""), testPV("gold", "5Gi", "gold")}, "gold"},
		{"empty class matches only empty", matchRequest{claim: claim},
			[]*corev1.PersistentVolume{testPV("gold", "1Gi", "gold")}, ""},
		{"access modes must be contained", matchRequest{claim: rwx},
			[]*corev1.PersistentVolume{testPV("rwo", "1Gi", ""), testPV("rwx", "3Gi", "", withModes(corev1.ReadWriteMany))}, "rwx"},
		{"volume mode", matchRequest{claim: blockClaim},
			[]*corev1.PersistentVolume{testPV("fs", "1Gi", ""), testPV("block", "3Gi", "", withBlock())}, "block"},
		{"selector", matchRequest{claim: selClaim},
			[]*corev1.PersistentVolume{testPV("slow", "1Gi", "", withLabels(map[string]string{"tier": "slow"})), testPV("fast", "8Gi", "", withLabels(map[string]string{"tier": "fast"}))}, "fast"},
		{"bound elsewhere or not available skipped", matchRequest{claim: claim},
			[]*corev1.PersistentVolume{testPV("taken", "1Gi", "", withClaimRef("ns", "other", "x")), testPV("released", "1Gi", "", withPhase(corev1.VolumeReleased)), testPV("free", "4Gi", "")}, "free"},
		{"pre-bound by claimRef wins over smaller", matchRequest{claim: claim},
			[]*corev1.PersistentVolume{testPV("small", "1Gi", ""), testPV("mine", "4Gi", "other-class", withClaimRef("ns", "data", ""), withPhase(corev1.VolumePending))}, "mine"},
		{"pre-bound with other uid is not mine", matchRequest{claim: claim},
			[]*corev1.PersistentVolume{testPV("old", "1Gi", "", withClaimRef("ns", "data", "uid-0"))}, ""},
		{"too small", matchRequest{claim: claim},
			[]*corev1.PersistentVolume{testPV("small", "100Mi", "")}, ""},
		{"delayed without node matches nothing new", matchRequest{claim: claim, delayed: true},
			[]*corev1.PersistentVolume{testPV("free", "1Gi", "")}, ""},
		{"delayed without node still finds pre-bound", matchRequest{claim: claim, delayed: true},
			[]*corev1.PersistentVolume{testPV("mine", "1Gi", "", withClaimRef("ns", "data", "uid-1"), onHost("n1"))}, "mine"},
		{"node affinity", matchRequest{claim: claim, delayed: true, node: labels.Set{hostnameLabel: "n2"}},
			[]*corev1.PersistentVolume{testPV("on-n1", "1Gi", "", onHost("n1")), testPV("on-n2", "2Gi", "", onHost("n2")), testPV("anywhere", "3Gi", "")}, "on-n2"},
		{"pre-bound on another node", matchRequest{claim: claim, delayed: true, node: labels.Set{hostnameLabel: "n2"}},
			[]*corev1.PersistentVolume{testPV("mine", "1Gi", "", withClaimRef("ns", "data", "uid-1"), onHost("n1")), testPV("on-n2", "2Gi", "", onHost("n2"))}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if pv := findVolume(tt.req, tt.volumes); pv != nil {
				got = pv.Name
			}
			if got != tt.want {
				t.Errorf("findVolume = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNodeAdmits(t *testing.T) {
	term := func(reqs ...corev1.NodeSelectorRequirement) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchExpressions: reqs}
	}
	req := func(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorRequirement {
		return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
	}
	node := nodeLabels("n1", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"zone": "a", "disks": "4"}}})
	tests := []struct {
		name  string
		terms []corev1.NodeSelectorTerm
		want  bool
	}{
		{"no affinity", nil, true},
		{"hostname in", []corev1.NodeSelectorTerm{term(req(hostnameLabel, corev1.NodeSelectorOpIn, "n1"))}, true},
		{"hostname not in", []corev1.NodeSelectorTerm{term(req(hostnameLabel, corev1.NodeSelectorOpIn, "n2"))}, false},
		{"terms ORed", []corev1.NodeSelectorTerm{term(req("zone", corev1.NodeSelectorOpIn, "b")), term(req("zone", corev1.NodeSelectorOpIn, "a"))}, true},
		{"requirements ANDed", []corev1.NodeSelectorTerm{term(req("zone", corev1.NodeSelectorOpIn, "a"), req("ssd", corev1.NodeSelectorOpExists))}, false},
		{"gt", []corev1.NodeSelectorTerm{term(req("disks", corev1.NodeSelectorOpGt, "3"))}, true},
		{"does not exist", []corev1.NodeSelectorTerm{term(req("ssd", corev1.NodeSelectorOpDoesNotExist))}, true},
		{"empty term matches nothing", []corev1.NodeSelectorTerm{{}}, false},
		{"metadata.name field", []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{req("metadata.name", corev1.NodeSelectorOpIn, "n1")}}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pv := testPV("pv", "1Gi", "")
			if tt.terms != nil {
				pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: tt.terms}}
			}
			if got := nodeAdmits(pv, node); got != tt.want {
				t.Errorf("nodeAdmits = %v, want %v", got, tt.want)
			}
		})
	}
	// A node missing from the cache still has its hostname.
	if got := nodeLabels("gone", nil)[hostnameLabel]; got != "gone" {
		t.Errorf("hostname of uncached node = %q, want gone", got)
	}
}

func TestDefaultClassName(t *testing.T) {
	class := func(name string, def bool, age time.Duration) *storagev1.StorageClass {
		c := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(time.Unix(1000, 0).Add(-age))}}
		if def {
			c.Annotations = map[string]string{annDefaultClass: "true"}
		}
		return c
	}
	tests := []struct {
		name    string
		classes []*storagev1.StorageClass
		want    string
	}{
		{"none", nil, ""},
		{"no default", []*storagev1.StorageClass{class("a", false, 0)}, ""},
		{"one default", []*storagev1.StorageClass{class("a", false, 0), class("local-path", true, time.Hour)}, "local-path"},
		{"newest default", []*storagev1.StorageClass{class("old", true, time.Hour), class("new", true, 0)}, "new"},
	}
	for _, tt := range tests {
		if got := defaultClassName(tt.classes); got != tt.want {
			t.Errorf("%s: defaultClassName = %q, want %q", tt.name, got, tt.want)
		}
	}
	claim := testClaim("1Gi")
	if got := claimClass(claim, "local-path"); got != "local-path" {
		t.Errorf("class of claim without one = %q, want the default", got)
	}
	claim.Spec.StorageClassName = new("")
	if got := claimClass(claim, "local-path"); got != "" {
		t.Errorf("class of claim asking for none = %q, want empty", got)
	}
}

func TestReclaim(t *testing.T) {
	pv := func(phase corev1.PersistentVolumePhase, policy corev1.PersistentVolumeReclaimPolicy, provisioner string) *corev1.PersistentVolume {
		p := testPV("pv", "1Gi", "", withPhase(phase))
		p.Spec.PersistentVolumeReclaimPolicy = policy
		if provisioner != "" {
			p.Annotations = map[string]string{annProvisionedBy: provisioner}
		}
		return p
	}
	tests := []struct {
		name      string
		pv        *corev1.PersistentVolume
		wantOK    bool
		wantPhase corev1.PersistentVolumePhase
		wantEvent string
	}{
		{"bound becomes released", pv(corev1.VolumeBound, corev1.PersistentVolumeReclaimRetain, ""), true, corev1.VolumeReleased, ""},
		{"retain stays released", pv(corev1.VolumeReleased, corev1.PersistentVolumeReclaimRetain, ""), false, "", ""},
		{"delete ours left to provisioner", pv(corev1.VolumeReleased, corev1.PersistentVolumeReclaimDelete, localPathProvisioner), false, "", ""},
		{"delete not ours fails", pv(corev1.VolumeReleased, corev1.PersistentVolumeReclaimDelete, "example.com/other"), true, corev1.VolumeFailed, "VolumeFailedDelete"},
		{"recycle fails", pv(corev1.VolumeReleased, corev1.PersistentVolumeReclaimRecycle, ""), true, corev1.VolumeFailed, "VolumeFailedRecycle"},
		{"failed stays failed", pv(corev1.VolumeFailed, corev1.PersistentVolumeReclaimDelete, ""), false, "", ""},
	}
	for _, tt := range tests {
		act, ok := reclaim(tt.pv)
		if ok != tt.wantOK || act.phase != tt.wantPhase || act.reason != tt.wantEvent {
			t.Errorf("%s: reclaim = %+v, %v; want phase %q event %q, %v", tt.name, act, ok, tt.wantPhase, tt.wantEvent, tt.wantOK)
		}
	}
}

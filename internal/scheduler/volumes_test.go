package scheduler

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func testClass(name, provisioner string, mode storagev1.VolumeBindingMode, opts ...func(*storagev1.StorageClass)) *storagev1.StorageClass {
	c := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: provisioner, VolumeBindingMode: &mode}
	for _, o := range opts {
		o(c)
	}
	return c
}

// testPV is an Available ReadWriteOnce local volume of a class on a node
// (any node when node is empty).
func testPV(name, class, size, node string, opts ...func(*corev1.PersistentVolume)) *corev1.PersistentVolume {
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:         corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: class,
		},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeAvailable},
	}
	if node != "" {
		pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
		}}}}
	}
	for _, o := range opts {
		o(pv)
	}
	return pv
}

// testClaim is a pending ReadWriteOnce claim in "default"; class "-"
// leaves storageClassName unset.
func testClaim(name, class, size string, opts ...func(*corev1.PersistentVolumeClaim)) *corev1.PersistentVolumeClaim {
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name), Annotations: map[string]string{}},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
		},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
	}
	if class != "-" {
		pvc.Spec.StorageClassName = &class
	}
	for _, o := range opts {
		o(pvc)
	}
	return pvc
}

func boundTo(pv string) func(*corev1.PersistentVolumeClaim) {
	return func(c *corev1.PersistentVolumeClaim) {
		c.Spec.VolumeName = pv
		c.Annotations[annBindCompleted] = "yes"
		c.Status.Phase = corev1.ClaimBound
	}
}

func withClaims(names ...string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		for _, n := range names {
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "v-" + n, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: n},
			}})
		}
	}
}

// testVolumes is a volumeSource over fixed objects and assumptions.
type testVolumes struct {
	claims        []*corev1.PersistentVolumeClaim
	pvs           []*corev1.PersistentVolume
	classes       []*storagev1.StorageClass
	assumedNodes  map[string]string // claim key -> node
	assumedClaims map[string]string // PV -> claim key
}

func (tv *testVolumes) source() *volumeSource {
	return &volumeSource{
		claim: func(ns, name string) (*corev1.PersistentVolumeClaim, bool) {
			for _, c := range tv.claims {
				if c.Namespace == ns && c.Name == name {
					return c, true
				}
			}
			return nil, false
		},
		volume: func(name string) (*corev1.PersistentVolume, bool) {
			for _, pv := range tv.pvs {
				if pv.Name == name {
					return pv, true
				}
			}
			return nil, false
		},
		volumes: func() []*corev1.PersistentVolume { return tv.pvs },
		class: func(name string) (*storagev1.StorageClass, bool) {
			for _, c := range tv.classes {
				if c.Name == name {
					return c, true
				}
			}
			return nil, false
		},
		assumedNode:  func(key string) string { return tv.assumedNodes[key] },
		assumedClaim: func(pv string) (string, bool) { k, ok := tv.assumedClaims[pv]; return k, ok },
	}
}

// planString is "claim:pv" or "claim:provision@node" per action.
func planString(plan []volumeAction) string {
	var parts []string
	for _, a := range plan {
		if a.pv != nil {
			parts = append(parts, a.claim.Name+":"+a.pv.Name)
		} else {
			parts = append(parts, a.claim.Name+":provision@"+a.node)
		}
	}
	return strings.Join(parts, " ")
}

func TestVolumeBinding(t *testing.T) {
	const (
		wffc      = storagev1.VolumeBindingWaitForFirstConsumer
		immediate = storagev1.VolumeBindingImmediate
	)
	classes := []*storagev1.StorageClass{
		testClass("local-path", "k1s.io/local-path", wffc),
		testClass("static", noProvisioner, wffc),
		testClass("zoned", "k1s.io/local-path", wffc, func(c *storagev1.StorageClass) {
			c.AllowedTopologies = []corev1.TopologySelectorTerm{{MatchLabelExpressions: []corev1.TopologySelectorLabelRequirement{{Key: "zone", Values: []string{"z1"}}}}}
		}),
		testClass("fast", "k1s.io/local-path", immediate),
	}
	nodes := []*corev1.Node{testNode("a", "1", "1Gi", nodeLabels("zone", "z1")), testNode("b", "1", "1Gi", nodeLabels("zone", "z2"))}
	block := corev1.PersistentVolumeBlock
	const (
		affinity = reasonVolumeNodeAffinity
		conflict = reasonVolumeBindConflict
	)

	tests := []struct {
		name   string
		pod    *corev1.Pod
		tv     testVolumes
		unres  string            // unresolvable, or
		want   map[string]string // node -> reasons joined by "; "
		planOn string            // node to plan on
		plan   string
	}{
		{name: "no claims", pod: testPod("p", "", ""), want: map[string]string{"a": "", "b": ""}},
		{name: "claim missing", pod: testPod("p", "", "", withClaims("data")),
			unres: `persistentvolumeclaim "data" not found`},
		{name: "claim being deleted", pod: testPod("p", "", "", withClaims("data")),
			tv:    testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("data", "local-path", "1Gi", func(c *corev1.PersistentVolumeClaim) { c.DeletionTimestamp = &metav1.Time{} })}},
			unres: `persistentvolumeclaim "data" is being deleted`},
		{name: "ephemeral volume's claim", pod: testPod("p", "", "", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}}}
		}), unres: `persistentvolumeclaim "p-scratch" not found`},
		{name: "bound to a local volume on a", pod: testPod("p", "", "", withClaims("data")),
			tv:   testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("data", "local-path", "1Gi", boundTo("pv-a"))}, pvs: []*corev1.PersistentVolume{testPV("pv-a", "local-path", "1Gi", "a")}},
			want: map[string]string{"a": "", "b": affinity}},
		{name: "bound to a volume without affinity", pod: testPod("p", "", "", withClaims("data")),
			tv:   testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("data", "-", "1Gi", boundTo("nfs"))}, pvs: []*corev1.PersistentVolume{testPV("nfs", "", "1Gi", "")}},
			want: map[string]string{"a": "", "b": ""}},
		{name: "bound to a missing volume", pod: testPod("p", "", "", withClaims("data")),
			tv:   testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("data", "local-path", "1Gi", boundTo("gone"))}},
			want: map[string]string{"a": reasonVolumeNotExist, "b": reasonVolumeNotExist}},
		{name: "unbound without a class", pod: testPod("p", "", "", withClaims("data")),
			tv:    testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("data", "-", "1Gi")}},
			unres: unboundImmediateClaims},
		{name: "unbound, Immediate class", pod: testPod("p", "", "", withClaims("data")),
			tv:    testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("data", "fast", "1Gi")}},
			unres: unboundImmediateClaims},
		{name: "unbound, class missing", pod: testPod("p", "", "", withClaims("data")),
			tv:    testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("data", "nosuch", "1Gi")}},
			unres: unboundImmediateClaims},
		{name: "pre-bound claim not yet bound", pod: testPod("p", "", "", withClaims("data")),
			tv:    testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("data", "local-path", "1Gi", func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeName = "pv-a" })}},
			unres: unboundImmediateClaims},
		{name: "WaitForFirstConsumer, provisioned anywhere", pod: testPod("p", "", "", withClaims("data")),
			tv:   testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("data", "local-path", "1Gi")}},
			want: map[string]string{"a": "", "b": ""}, planOn: "b", plan: "data:provision@b"},
		{name: "allowedTopologies", pod: testPod("p", "", "", withClaims("data")),
			tv:   testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("data", "zoned", "1Gi")}},
			want: map[string]string{"a": "", "b": conflict}, planOn: "a", plan: "data:provision@a"},
		{name: "static volume on b", pod: testPod("p", "", "", withClaims("data")),
			tv:   testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("data", "static", "1Gi")}, pvs: []*corev1.PersistentVolume{testPV("pv-b", "static", "1Gi", "b")}},
			want: map[string]string{"a": conflict, "b": ""}, planOn: "b", plan: "data:pv-b"},
		{name: "static volume preferred over provisioning", pod: testPod("p", "", "", withClaims("data")),
			tv:   testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("data", "local-path", "1Gi")}, pvs: []*corev1.PersistentVolume{testPV("pv-b", "local-path", "1Gi", "b")}},
			want: map[string]string{"a": "", "b": ""}, planOn: "b", plan: "data:pv-b"},
		{name: "static volume too small", pod: testPod("p", "", "", withClaims("data")),
			tv:   testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("data", "static", "2Gi")}, pvs: []*corev1.PersistentVolume{testPV("pv-b", "static", "1Gi", "b")}},
			want: map[string]string{"a": conflict, "b": conflict}},
		{name: "static volume of another class", pod: testPod("p", "", "", withClaims("data")),
			tv:   testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("data", "static", "1Gi")}, pvs: []*corev1.PersistentVolume{testPV("pv-b", "other", "1Gi", "b")}},
			want: map[string]string{"a": conflict, "b": conflict}},
		{name: "static volume lacks an access mode", pod: testPod("p", "", "", withClaims("data")),
			tv: testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("data", "static", "1Gi", func(c *corev1.PersistentVolumeClaim) {
				c.Spec.AccessModes = append(c.Spec.AccessModes, corev1.ReadOnlyMany)
			})}, pvs: []*corev1.PersistentVolume{testPV("pv-b", "static", "1Gi", "b")}},
			want: map[string]string{"a": conflict, "b": conflict}},
		{name: "static volume's labels miss the selector", pod: testPod("p", "", "", withClaims("data")),
			tv: testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("data", "static", "1Gi", func(c *corev1.PersistentVolumeClaim) {
				c.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "gold"}}
			})}, pvs: []*corev1.PersistentVolume{testPV("pv-a", "static", "1Gi", "a"), testPV("pv-b", "static", "1Gi", "b", func(pv *corev1.PersistentVolume) { pv.Labels["tier"] = "gold" })}},
			want: map[string]string{"a": conflict, "b": ""}, planOn: "b", plan: "data:pv-b"},
		{name: "block volume for a filesystem claim", pod: testPod("p", "", "", withClaims("data")),
			tv: testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("data", "static", "1Gi")}, pvs: []*corev1.PersistentVolume{testPV("pv-b", "static", "1Gi", "b", func(pv *corev1.PersistentVolume) {
				pv.Spec.VolumeMode = &block
			})}},
			want: map[string]string{"a": conflict, "b": conflict}},
		{name: "static volume bound elsewhere", pod: testPod("p", "", "", withClaims("data")),
			tv: testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("data", "static", "1Gi")}, pvs: []*corev1.PersistentVolume{testPV("pv-b", "static", "1Gi", "b", func(pv *corev1.PersistentVolume) {
				pv.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "default", Name: "other"}
				pv.Status.Phase = corev1.VolumeBound
			})}},
			want: map[string]string{"a": conflict, "b": conflict}},
		{name: "static volume pre-bound to the claim", pod: testPod("p", "", "", withClaims("data")),
			tv: testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("data", "static", "1Gi")}, pvs: []*corev1.PersistentVolume{
				testPV("pv-a", "static", "1Gi", "a"),
				testPV("pv-b", "unrelated", "5Gi", "b", func(pv *corev1.PersistentVolume) {
					pv.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "default", Name: "data", UID: "uid-data"}
					pv.Status.Phase = corev1.VolumeBound
				})}},
			want: map[string]string{"a": "", "b": ""}, planOn: "b", plan: "data:pv-b"},
		{name: "smallest volume that fits", pod: testPod("p", "", "", withClaims("data")),
			tv: testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("data", "static", "1Gi")}, pvs: []*corev1.PersistentVolume{
				testPV("big", "static", "5Gi", "a"), testPV("small", "static", "2Gi", "a"), testPV("tiny", "static", "500Mi", "a")}},
			want: map[string]string{"a": "", "b": conflict}, planOn: "a", plan: "data:small"},
		{name: "one volume for two claims", pod: testPod("p", "", "", withClaims("one", "two")),
			tv: testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("one", "static", "1Gi"), testClaim("two", "static", "1Gi")},
				pvs: []*corev1.PersistentVolume{testPV("pv-a", "static", "1Gi", "a"), testPV("pv-b1", "static", "1Gi", "b"), testPV("pv-b2", "static", "1Gi", "b")}},
			want: map[string]string{"a": conflict, "b": ""}, planOn: "b", plan: "one:pv-b1 two:pv-b2"},
		{name: "selected-node annotation", pod: testPod("p", "", "", withClaims("data")),
			tv: testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("data", "local-path", "1Gi", func(c *corev1.PersistentVolumeClaim) {
				c.Annotations[annSelectedNode] = "b"
			})}},
			want: map[string]string{"a": conflict, "b": ""}, planOn: "b", plan: "data:provision@b"},
		{name: "node assumed for the claim by another pod", pod: testPod("p", "", "", withClaims("data")),
			tv:   testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("data", "local-path", "1Gi")}, assumedNodes: map[string]string{"default/data": "a"}},
			want: map[string]string{"a": "", "b": conflict}, planOn: "a", plan: "data:provision@a"},
		{name: "volume promised to another claim", pod: testPod("p", "", "", withClaims("data")),
			tv: testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("data", "static", "1Gi")}, pvs: []*corev1.PersistentVolume{testPV("pv-b", "static", "1Gi", "b")},
				assumedClaims: map[string]string{"pv-b": "default/other"}},
			want: map[string]string{"a": conflict, "b": conflict}},
		{name: "volume promised to this claim", pod: testPod("p", "", "", withClaims("data")),
			tv: testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("data", "static", "1Gi")}, pvs: []*corev1.PersistentVolume{testPV("pv-a", "static", "1Gi", "a"), testPV("pv-b", "static", "1Gi", "b")},
				assumedClaims: map[string]string{"pv-b": "default/data"}},
			want: map[string]string{"a": conflict, "b": ""}, planOn: "b", plan: "data:pv-b"},
		{name: "bound on a, unbound only on b", pod: testPod("p", "", "", withClaims("data", "more")),
			tv: testVolumes{claims: []*corev1.PersistentVolumeClaim{testClaim("data", "static", "1Gi", boundTo("pv-a")), testClaim("more", "static", "1Gi")},
				pvs: []*corev1.PersistentVolume{testPV("pv-a", "static", "1Gi", "a", func(pv *corev1.PersistentVolume) {
					pv.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "default", Name: "data", UID: "uid-data"}
					pv.Status.Phase = corev1.VolumeBound
				}), testPV("pv-b", "static", "1Gi", "b")}},
			want: map[string]string{"a": conflict, "b": affinity}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.tv.classes = classes
			v, unres := resolveVolumes(tc.pod, tc.tv.source())
			if unres != tc.unres {
				t.Fatalf("unresolvable %q, want %q", unres, tc.unres)
			}
			if unres != "" {
				return
			}
			p := newPodInfo(tc.pod, nil)
			p.volumes = v
			c := testCluster(nodes)
			cy := newCycle(p, c)
			for node, want := range tc.want {
				if got := strings.Join(volumeBinding{}.filter(cy, c.nodes[node]), "; "); got != want {
					t.Errorf("node %s: got %q, want %q", node, got, want)
				}
			}
			if tc.planOn != "" {
				plan, ok := planVolumes(v, c.nodes[tc.planOn].node)
				if got := planString(plan); !ok || got != tc.plan {
					t.Errorf("plan on %s: %q (ok %v), want %q", tc.planOn, got, ok, tc.plan)
				}
			}
		})
	}
}

// TestLocalVolumePinsThePod: a pod whose claim is bound to node a's local
// volume goes to a whatever the scores say, and is unschedulable once a
// is gone.
func TestLocalVolumePinsThePod(t *testing.T) {
	tv := testVolumes{
		claims: []*corev1.PersistentVolumeClaim{testClaim("data", "local-path", "1Gi", boundTo("pv-a"))},
		pvs:    []*corev1.PersistentVolume{testPV("pv-a", "local-path", "1Gi", "a")},
	}
	pod := testPod("p", "100m", "", withClaims("data"))
	// a is the fullest node: least allocated alone would avoid it.
	c := testCluster([]*corev1.Node{testNode("a", "4", "8Gi"), testNode("b", "4", "8Gi"), testNode("c", "4", "8Gi")},
		testPod("busy", "3", "6Gi", onNode("a")))
	ch := testChain(1)
	for i := range 20 {
		p := newPodInfo(pod, nil)
		p.volumes, p.unresolvable = resolveVolumes(pod, tv.source())
		node, err := ch.schedule(p, c)
		if err != nil || node != "a" {
			t.Fatalf("attempt %d: node %q, err %v; want a", i, node, err)
		}
	}
	c.removeNode("a")
	p := newPodInfo(pod, nil)
	p.volumes, p.unresolvable = resolveVolumes(pod, tv.source())
	_, err := ch.schedule(p, c)
	want := "0/2 nodes are available: 2 node(s) had volume node affinity conflict. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
	if err == nil || err.Error() != want {
		t.Errorf("without a: %v, want %q", err, want)
	}
}

func TestVolumeAssumptions(t *testing.T) {
	var a volumeAssumptions
	claim := testClaim("data", "local-path", "1Gi")
	pv := testPV("pv-a", "static", "1Gi", "a")
	a.assume("p1", []volumeAction{{claim: claim, node: "a"}, {claim: testClaim("other", "static", "1Gi"), pv: pv, node: "a"}})
	// A second pod sharing the claim does not take it over.
	a.assume("p2", []volumeAction{{claim: claim, node: "a"}})
	got := fmt.Sprint(a.claims, a.volumes)
	want := "map[default/data:{a p1}] map[pv-a:{default/other p1}]"
	if got != want {
		t.Errorf("assumed %s, want %s", got, want)
	}
	a.forget("p2")
	if got := fmt.Sprint(a.claims, a.volumes); got != want {
		t.Errorf("after forgetting p2: %s, want %s", got, want)
	}
	a.forget("p1")
	if len(a.claims)+len(a.volumes) != 0 {
		t.Errorf("after forgetting p1: %v %v, want nothing", a.claims, a.volumes)
	}
}

func TestReadWriteOncePod(t *testing.T) {
	rwop := func(c *corev1.PersistentVolumeClaim) {
		c.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod}
	}
	tv := testVolumes{
		claims: []*corev1.PersistentVolumeClaim{
			testClaim("solo", "-", "1Gi", rwop, boundTo("nfs")),
			testClaim("shared", "-", "1Gi", boundTo("nfs2")),
		},
		pvs: []*corev1.PersistentVolume{testPV("nfs", "", "1Gi", ""), testPV("nfs2", "", "1Gi", "")},
	}
	nodes := []*corev1.Node{testNode("a", "1", "1Gi"), testNode("b", "1", "1Gi")}
	tests := []struct {
		name  string
		pod   *corev1.Pod
		bound []*corev1.Pod
		want  string
	}{
		{"claim unused", testPod("p", "", "", withClaims("solo")), nil, ""},
		{"claim used on another node", testPod("p", "", "", withClaims("solo")),
			[]*corev1.Pod{testPod("q", "", "", onNode("b"), withClaims("solo"))}, reasonReadWriteOncePod},
		{"same name in another namespace", testPod("p", "", "", withClaims("solo")),
			[]*corev1.Pod{testPod("q", "", "", onNode("b"), withClaims("solo"), func(p *corev1.Pod) { p.Namespace = "other" })}, ""},
		{"user of a finished pod", testPod("p", "", "", withClaims("solo")),
			[]*corev1.Pod{testPod("q", "", "", onNode("b"), withClaims("solo"), func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded })}, ""},
		{"ReadWriteOnce claims may be shared", testPod("p", "", "", withClaims("shared")),
			[]*corev1.Pod{testPod("q", "", "", onNode("b"), withClaims("shared"))}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPodInfo(tc.pod, nil)
			var unres string
			p.volumes, unres = resolveVolumes(tc.pod, tv.source())
			if unres != "" {
				t.Fatal(unres)
			}
			c := testCluster(nodes, tc.bound...)
			cy := newCycle(p, c)
			if got := strings.Join(volumeRestrictions{}.filter(cy, c.nodes["a"]), "; "); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

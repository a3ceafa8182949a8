package nodeauth

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// world is a hand-filled set of caches, as the api-server would feed.
type world struct {
	pods, pvcs, pvs, nodes cache.Indexer
}

func newWorld(t *testing.T, objs ...any) *world {
	t.Helper()
	w := &world{
		pods:  cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{IndexPodsByNode: PodsByNode}),
		pvcs:  cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}),
		pvs:   cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{}),
		nodes: cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{}),
	}
	for _, o := range objs {
		w.add(t, o)
	}
	return w
}

func (w *world) add(t *testing.T, o any) {
	t.Helper()
	var err error
	switch o.(type) {
	case *corev1.Pod:
		err = w.pods.Add(o)
	case *corev1.PersistentVolumeClaim:
		err = w.pvcs.Add(o)
	case *corev1.PersistentVolume:
		err = w.pvs.Add(o)
	case *corev1.Node:
		err = w.nodes.Add(o)
	default:
		t.Fatalf("unexpected fixture %T", o)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func (w *world) options() Options {
	return Options{
		Pods:  w.pods,
		PVCs:  corev1listers.NewPersistentVolumeClaimLister(w.pvcs),
		PVs:   corev1listers.NewPersistentVolumeLister(w.pvs),
		Nodes: corev1listers.NewNodeLister(w.nodes),
	}
}

func pod(ns, name, node string, spec corev1.PodSpec) *corev1.Pod {
	spec.NodeName = node
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name)},
		Spec:       spec,
	}
}

func secretVolume(name string) corev1.Volume {
	return corev1.Volume{Name: "v-" + name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: name}}}
}

func claimVolume(claim string) corev1.Volume {
	return corev1.Volume{Name: "v-" + claim, VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}
}

// webPod runs on n1 and references objects every way a pod can.
func webPod() *corev1.Pod {
	return pod("default", "web", "n1", corev1.PodSpec{
		ServiceAccountName: "web-sa",
		ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "pull"}},
		InitContainers: []corev1.Container{{Name: "init", EnvFrom: []corev1.EnvFromSource{
			{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "init-secret"}}},
		}}},
		Containers: []corev1.Container{{
			Name: "app",
			Env: []corev1.EnvVar{{Name: "PW", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "env-secret"}, Key: "pw"}}}},
			EnvFrom: []corev1.EnvFromSource{
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "env-cm"}}},
			},
		}},
		EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debug",
			Env: []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "eph-cm"}, Key: "x"}}}},
		}}},
		Volumes: []corev1.Volume{
			secretVolume("vol-secret"),
			{Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "vol-cm"}}}},
			{Name: "proj", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "proj-secret"}}},
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}}},
			}}}},
			{Name: "csi", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{
				Driver: "x", NodePublishSecretRef: &corev1.LocalObjectReference{Name: "csi-secret"}}}},
			claimVolume("data"),
			{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}},
		},
	})
}

func claim(ns, name, volume string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.PersistentVolumeClaimSpec{VolumeName: volume},
	}
}

func volume(name, claimNS, claimName string) *corev1.PersistentVolume {
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if claimName != "" {
		pv.Spec.ClaimRef = &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: claimNS, Name: claimName}
	}
	return pv
}

// standardWorld: web on n1 (see webPod), other on n2, an unbound pod,
// and a kube-system pod on n1.
func standardWorld(t *testing.T) *world {
	return newWorld(t,
		webPod(),
		pod("default", "other", "n2", corev1.PodSpec{Volumes: []corev1.Volume{secretVolume("other-secret"), claimVolume("other-data")}}),
		pod("default", "pending", "", corev1.PodSpec{Volumes: []corev1.Volume{secretVolume("pending-secret")}}),
		pod("kube-system", "sys", "n1", corev1.PodSpec{Volumes: []corev1.Volume{secretVolume("sys-secret")}}),
		claim("default", "data", "pv-data"),
		claim("default", "other-data", "pv-other"),
		claim("default", "web-scratch", ""),
		volume("pv-data", "default", "data"),
		volume("pv-other", "default", "other-data"),
		volume("pv-scratch", "default", "web-scratch"),
		volume("pv-free", "", ""),
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", UID: "node-uid-n1"}},
	)
}

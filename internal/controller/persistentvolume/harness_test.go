package persistentvolume_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/k1s/k1s/internal/controller/persistentvolume"
	"github.com/k1s/k1s/internal/testcluster"
)

const timeout = 15 * time.Second

// startController runs the controller against a fresh api-server.
func startController(t *testing.T) kubernetes.Interface {
	t.Helper()
	client, err := kubernetes.NewForConfig(testcluster.StartAPIServer(t))
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := persistentvolume.New(persistentvolume.Options{
		Client:  client,
		Volumes: factory.Core().V1().PersistentVolumes(),
		Claims:  factory.Core().V1().PersistentVolumeClaims(),
		Classes: factory.Storage().V1().StorageClasses(),
		Nodes:   factory.Core().V1().Nodes(),
		Logger:  testcluster.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("controller Run: %v", err)
		}
		factory.Shutdown()
	})
	return client
}

type env struct {
	t      *testing.T
	ctx    context.Context
	client kubernetes.Interface
	ns     string
}

func newEnv(t *testing.T, client kubernetes.Interface, ns string) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), client: client, ns: ns}
	if _, err := client.CoreV1().Namespaces().Create(e.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return e
}

type pvOpt func(*corev1.PersistentVolume)

func (e *env) createPV(name, size, class string, opts ...pvOpt) {
	e.t.Helper()
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName:              class,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/" + name}},
		},
	}
	for _, o := range opts {
		o(pv)
	}
	if _, err := e.client.CoreV1().PersistentVolumes().Create(e.ctx, pv, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func labelled(l map[string]string) pvOpt { return func(pv *corev1.PersistentVolume) { pv.Labels = l } }
func reclaimPolicy(p corev1.PersistentVolumeReclaimPolicy) pvOpt {
	return func(pv *corev1.PersistentVolume) { pv.Spec.PersistentVolumeReclaimPolicy = p }
}
func claimRef(ns, name string, uid string) pvOpt {
	return func(pv *corev1.PersistentVolume) {
		pv.Spec.ClaimRef = &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: ns, Name: name, UID: types.UID(uid)}
	}
}
func onHost(host string) pvOpt {
	return func(pv *corev1.PersistentVolume) {
		pv.Spec.PersistentVolumeSource = corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/tmp/" + pv.Name}}
		pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{host}}},
		}}}}
	}
}
func annotated(k, v string) pvOpt {
	return func(pv *corev1.PersistentVolume) { metav1.SetMetaDataAnnotation(&pv.ObjectMeta, k, v) }
}

type claimOpt func(*corev1.PersistentVolumeClaim)

func (e *env) createClaim(name, size string, opts ...claimOpt) *corev1.PersistentVolumeClaim {
	e.t.Helper()
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
			StorageClassName: new(""),
		},
	}
	for _, o := range opts {
		o(claim)
	}
	got, err := e.client.CoreV1().PersistentVolumeClaims(e.ns).Create(e.ctx, claim, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

func class(name string) claimOpt {
	return func(c *corev1.PersistentVolumeClaim) { c.Spec.StorageClassName = new(name) }
}
func noClass() claimOpt {
	return func(c *corev1.PersistentVolumeClaim) { c.Spec.StorageClassName = nil }
}
func volumeName(pv string) claimOpt {
	return func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeName = pv }
}
func selector(l map[string]string) claimOpt {
	return func(c *corev1.PersistentVolumeClaim) { c.Spec.Selector = &metav1.LabelSelector{MatchLabels: l} }
}

func (e *env) createClass(name, provisioner string, waitForConsumer, isDefault bool) {
	e.t.Helper()
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: provisioner}
	if waitForConsumer {
		sc.VolumeBindingMode = new(storagev1.VolumeBindingWaitForFirstConsumer)
	}
	if isDefault {
		sc.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
	}
	if _, err := e.client.StorageV1().StorageClasses().Create(e.ctx, sc, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// waitBound waits until claim and volume are bound to each other and
// returns them.
func (e *env) waitBound(claim, volume string) (*corev1.PersistentVolumeClaim, *corev1.PersistentVolume) {
	e.t.Helper()
	var c *corev1.PersistentVolumeClaim
	var pv *corev1.PersistentVolume
	testcluster.Eventually(e.t, timeout, func() error {
		var err error
		if c, err = e.client.CoreV1().PersistentVolumeClaims(e.ns).Get(e.ctx, claim, metav1.GetOptions{}); err != nil {
			return err
		}
		if c.Spec.VolumeName != volume || c.Status.Phase != corev1.ClaimBound {
			return fmt.Errorf("claim %s: volume %q phase %q, want %s Bound", claim, c.Spec.VolumeName, c.Status.Phase, volume)
		}
		if pv, err = e.client.CoreV1().PersistentVolumes().Get(e.ctx, volume, metav1.GetOptions{}); err != nil {
			return err
		}
		if ref := pv.Spec.ClaimRef; ref == nil || ref.UID != c.UID || pv.Status.Phase != corev1.VolumeBound {
			return fmt.Errorf("volume %s: claimRef %v phase %q, want claim %s Bound", volume, pv.Spec.ClaimRef, pv.Status.Phase, c.UID)
		}
		return nil
	})
	return c, pv
}

func (e *env) waitVolumePhase(name string, phase corev1.PersistentVolumePhase) *corev1.PersistentVolume {
	e.t.Helper()
	var pv *corev1.PersistentVolume
	testcluster.Eventually(e.t, timeout, func() error {
		var err error
		if pv, err = e.client.CoreV1().PersistentVolumes().Get(e.ctx, name, metav1.GetOptions{}); err != nil {
			return err
		}
		if pv.Status.Phase != phase {
			return fmt.Errorf("volume %s phase %q, want %q", name, pv.Status.Phase, phase)
		}
		return nil
	})
	return pv
}

// waitEvent waits for an Event with reason about the named object (in the
// env's namespace, or "default" for volumes) and returns its message.
func (e *env) waitEvent(ns, name, reason string) string {
	e.t.Helper()
	var msg string
	testcluster.Eventually(e.t, timeout, func() error {
		list, err := e.client.CoreV1().Events(ns).List(e.ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, ev := range list.Items {
			if ev.InvolvedObject.Name == name && ev.Reason == reason {
				msg = ev.Message
				return nil
			}
		}
		return fmt.Errorf("no %s event for %s/%s", reason, ns, name)
	})
	return msg
}

func (e *env) getClaim(name string) *corev1.PersistentVolumeClaim {
	e.t.Helper()
	c, err := e.client.CoreV1().PersistentVolumeClaims(e.ns).Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) deleteClaim(name string) {
	e.t.Helper()
	if err := e.client.CoreV1().PersistentVolumeClaims(e.ns).Delete(e.ctx, name, metav1.DeleteOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

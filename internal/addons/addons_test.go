package addons_test

import (
	"context"
	"net/netip"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/k1s/k1s/internal/addons"
	"github.com/k1s/k1s/internal/testcluster"
)

func TestInstall(t *testing.T) {
	client := kubernetes.NewForConfigOrDie(testcluster.StartAPIServer(t))
	ctx := context.Background()
	o := addons.Options{Image: "k1s.local/k1s:v1", ClusterDNS: netip.MustParseAddr("10.43.0.10")}
	if err := addons.Install(ctx, client, o); err != nil {
		t.Fatalf("Install: %v", err)
	}
	svc, err := client.CoreV1().Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP != "10.43.0.10" {
		t.Errorf("kube-dns clusterIP = %s", svc.Spec.ClusterIP)
	}
	dep, err := client.AppsV1().Deployments("kube-system").Get(ctx, "k1s-dns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := client.AppsV1().DaemonSets("kube-system").Get(ctx, "k1s-ingress", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !ds.Spec.Template.Spec.HostNetwork {
		t.Error("the ingress DaemonSet is not hostNetwork")
	}
	class, err := client.NetworkingV1().IngressClasses().Get(ctx, addons.IngressClassName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if class.Annotations["ingressclass.kubernetes.io/is-default-class"] != "true" || class.Spec.Controller != addons.IngressController {
		t.Errorf("IngressClass = %+v", class)
	}

	sc, err := client.StorageV1().StorageClasses().Get(ctx, addons.StorageClassName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Provisioner != addons.LocalPathProvisioner || sc.Annotations["storageclass.kubernetes.io/is-default-class"] != "true" ||
		sc.VolumeBindingMode == nil || *sc.VolumeBindingMode != "WaitForFirstConsumer" {
		t.Errorf("StorageClass = %+v", sc)
	}

	// Again with the same settings: nothing changes.
	if err := addons.Install(ctx, client, o); err != nil {
		t.Fatalf("second Install: %v", err)
	}
	again, err := client.AppsV1().Deployments("kube-system").Get(ctx, "k1s-dns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Generation != dep.Generation {
		t.Errorf("a repeated Install changed the Deployment: generation %d -> %d", dep.Generation, again.Generation)
	}

	// A new build's image rolls the add-ons; a user's scaling of the DNS
	// is a change the next Install puts back (the add-on owns replicas).
	o.Image = "k1s.local/k1s:v2"
	if err := addons.Install(ctx, client, o); err != nil {
		t.Fatal(err)
	}
	dep, err = client.AppsV1().Deployments("kube-system").Get(ctx, "k1s-dns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := dep.Spec.Template.Spec.Containers[0].Image; got != "k1s.local/k1s:v2" {
		t.Errorf("image after upgrade = %s", got)
	}

	// Disabled add-ons are not installed; unknown names are refused.
	client2 := kubernetes.NewForConfigOrDie(testcluster.StartAPIServer(t))
	if err := addons.Install(ctx, client2, addons.Options{Image: "x", Disable: []string{addons.DNS, addons.Ingress, addons.LocalStorage}}); err != nil {
		t.Fatal(err)
	}
	if _, err := client2.AppsV1().Deployments("kube-system").Get(ctx, "k1s-dns", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("disabled DNS: %v", err)
	}
	if err := addons.Install(ctx, client2, addons.Options{Image: "x", Disable: []string{"traefik"}}); err == nil {
		t.Error("an unknown add-on name was accepted")
	}
}

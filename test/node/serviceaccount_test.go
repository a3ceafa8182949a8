package node

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// TestServiceAccountVolume: a pod finds its API credentials where
// client-go's in-cluster config looks, the token authenticates at the
// api-server, may list pods only once a RoleBinding allows it, and stops
// working once the pod is gone.
func TestServiceAccountVolume(t *testing.T) {
	needNode(t)
	mustKubectl(t, podYAML("sa-reader", "Always", "sleep 3600", ""), "apply", "-f", "-")
	t.Cleanup(func() {
		kubectlRaw(context.Background(), "", "delete", "pod", "sa-reader", "--grace-period=0", "--force")
	})
	waitJSONPath(t, 90*time.Second, "pod", "sa-reader", "{.status.phase}", "Running")
	const dir = "/var/run/secrets/kubernetes.io/serviceaccount"
	ns := strings.TrimSpace(mustKubectl(t, "", "exec", "sa-reader", "--", "cat", dir+"/namespace"))
	if ns != "default" {
		t.Errorf("namespace file = %q", ns)
	}
	ca := mustKubectl(t, "", "exec", "sa-reader", "--", "cat", dir+"/ca.crt")
	if !strings.Contains(ca, "BEGIN CERTIFICATE") {
		t.Errorf("ca.crt = %q", ca)
	}
	token := strings.TrimSpace(mustKubectl(t, "", "exec", "sa-reader", "--", "cat", dir+"/token"))
	if strings.Count(token, ".") != 2 {
		t.Fatalf("token %q is not a JWT", token)
	}
	admin, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	// The pod's credentials are an in-cluster config's: its CA verifies
	// the api-server and its token authenticates.
	cfg := &rest.Config{Host: admin.Host, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: []byte(ca)}}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Authenticated, but the account may do nothing until a RoleBinding
	// says so.
	_, err = client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("the pod's token before any binding: %v, want 403", err)
	}
	mustKubectl(t, "", "create", "rolebinding", "sa-reader-view", "--clusterrole=view", "--serviceaccount=default:default")
	t.Cleanup(func() { kubectlRaw(context.Background(), "", "delete", "rolebinding", "sa-reader-view") })
	eventually(t, 30*time.Second, func() error {
		_, err := client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
		return err
	})
	mustKubectl(t, "", "delete", "pod", "sa-reader", "--grace-period=0", "--force")
	eventually(t, 30*time.Second, func() error {
		_, err := client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
		if !apierrors.IsUnauthorized(err) {
			return fmt.Errorf("the deleted pod's token: %v, want 401", err)
		}
		return nil
	})
}

package apiserver_test

import (
	"context"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/k1s/k1s/internal/apiserver"
	"github.com/k1s/k1s/internal/satoken"
)

const testIssuer = "https://kubernetes.default.svc.cluster.local"

func startServerWithIssuer(t *testing.T) *testServer {
	t.Helper()
	return startServerWith(t, func(ts *testServer, c *apiserver.Config) {
		iss, err := satoken.NewIssuer(testIssuer, ts.bundle.ServiceAccountKey)
		if err != nil {
			t.Fatal(err)
		}
		c.ServiceAccountIssuer = iss
	})
}

// tokenClient is a client that authenticates with a bearer token only.
func tokenClient(t *testing.T, ts *testServer, token string) kubernetes.Interface {
	t.Helper()
	c, err := kubernetes.NewForConfig(&rest.Config{Host: "https://" + ts.addr, BearerToken: token,
		TLSClientConfig: rest.TLSClientConfig{CAData: ts.bundle.CACertPEM}, QPS: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTokenRequest(t *testing.T) {
	ts := startServerWithIssuer(t)
	ctx := context.Background()
	admin := ts.client()
	sa, err := admin.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "web"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod, err := admin.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1"},
		Spec:       corev1.PodSpec{ServiceAccountName: "web", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	request := func(name string, spec authenticationv1.TokenRequestSpec) (*authenticationv1.TokenRequest, error) {
		return admin.CoreV1().ServiceAccounts("default").CreateToken(ctx, name, &authenticationv1.TokenRequest{Spec: spec}, metav1.CreateOptions{})
	}
	bound, err := request("web", authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(3607)),
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}})
	if err != nil {
		t.Fatalf("TokenRequest: %v", err)
	}
	if bound.Status.Token == "" || time.Until(bound.Status.ExpirationTimestamp.Time) < 59*time.Minute {
		t.Fatalf("status = %+v", bound.Status)
	}
	if len(bound.Spec.Audiences) != 1 || bound.Spec.Audiences[0] != testIssuer {
		t.Errorf("audiences = %v, want the issuer", bound.Spec.Audiences)
	}

	// The token authenticates as the service account.
	review, err := tokenClient(t, ts, bound.Status.Token).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("SelfSubjectReview with the token: %v", err)
	}
	if got, want := review.Status.UserInfo.Username, "system:serviceaccount:default:web"; got != want {
		t.Errorf("user = %q, want %q", got, want)
	}
	if got := review.Status.UserInfo.Groups; len(got) != 3 || got[0] != "system:serviceaccounts" || got[1] != "system:serviceaccounts:default" {
		t.Errorf("groups = %v", got)
	}
	if _, err := tokenClient(t, ts, "a.b.c").CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); !apierrors.IsUnauthorized(err) {
		t.Errorf("a forged token: %v, want Unauthorized", err)
	}

	// Refusals with the right codes.
	for _, tc := range []struct {
		name string
		sa   string
		spec authenticationv1.TokenRequestSpec
		want func(error) bool
	}{
		{"unknown account", "nobody", authenticationv1.TokenRequestSpec{}, apierrors.IsNotFound},
		{"too short", "web", authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(60))}, apierrors.IsInvalid},
		{"unknown bound kind", "web", authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Service", Name: "x"}}, apierrors.IsInvalid},
		{"missing bound pod", "web", authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", Name: "gone"}}, apierrors.IsNotFound},
		{"stale bound uid", "web", authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", Name: pod.Name, UID: "other"}}, apierrors.IsConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := request(tc.sa, tc.spec); !tc.want(err) {
				t.Errorf("err = %v", err)
			}
		})
	}

	// Tokens for another audience are not accepted by the api-server.
	vault, err := request("web", authenticationv1.TokenRequestSpec{Audiences: []string{"vault"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tokenClient(t, ts, vault.Status.Token).CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); !apierrors.IsUnauthorized(err) {
		t.Errorf("a token for another audience: %v, want Unauthorized", err)
	}

	// Deleting the bound pod invalidates its token; recreating the
	// service account invalidates every token of the old one.
	if err := admin.CoreV1().Pods("default").Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0))}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		_, err := tokenClient(t, ts, bound.Status.Token).CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if apierrors.IsUnauthorized(err) {
			return nil
		}
		return errString("the deleted pod's token still works: " + errText(err))
	})
	unbound, err := request("web", authenticationv1.TokenRequestSpec{})
	if err != nil {
		t.Fatal(err)
	}
	// Authenticated (the account may not list pods: 403, not 401).
	if _, err := tokenClient(t, ts, unbound.Status.Token).CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("unbound token: %v, want Forbidden", err)
	}
	if err := admin.CoreV1().ServiceAccounts("default").Delete(ctx, sa.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "web"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		_, err := tokenClient(t, ts, unbound.Status.Token).CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if apierrors.IsUnauthorized(err) {
			return nil
		}
		return errString("the old account's token still works: " + errText(err))
	})
}

type errString string

func (e errString) Error() string { return string(e) }

func errText(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

func TestPodServiceAccountAdmission(t *testing.T) {
	ts := startServerWithIssuer(t)
	ctx := context.Background()
	admin := ts.client()
	if _, err := admin.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: "quiet"}, AutomountServiceAccountToken: ptr.To(false)}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		spec      corev1.PodSpec
		wantSA    string
		wantMount bool
	}{
		{"default account gets the volume", corev1.PodSpec{}, "default", true},
		{"pod opts out", corev1.PodSpec{AutomountServiceAccountToken: ptr.To(false)}, "default", false},
		{"account opts out", corev1.PodSpec{ServiceAccountName: "quiet"}, "quiet", false},
		{"pod overrides its account", corev1.PodSpec{ServiceAccountName: "quiet", AutomountServiceAccountToken: ptr.To(true)}, "quiet", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox"}}
			spec.Containers = []corev1.Container{{Name: "a", Image: "busybox"}, {Name: "b", Image: "busybox"}}
			pod, err := admin.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "p-"}, Spec: spec}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if pod.Spec.ServiceAccountName != tc.wantSA {
				t.Errorf("serviceAccountName = %q, want %q", pod.Spec.ServiceAccountName, tc.wantSA)
			}
			var vol string
			for _, v := range pod.Spec.Volumes {
				if v.Projected != nil && len(v.Projected.Sources) == 3 && v.Projected.Sources[0].ServiceAccountToken != nil {
					vol = v.Name
				}
			}
			if (vol != "") != tc.wantMount {
				t.Fatalf("volumes = %+v, want the token volume: %v", pod.Spec.Volumes, tc.wantMount)
			}
			if !tc.wantMount {
				return
			}
			for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
				found := false
				for _, m := range c.VolumeMounts {
					found = found || m.Name == vol && m.MountPath == apiserver.ServiceAccountMountPath && m.ReadOnly
				}
				if !found {
					t.Errorf("container %s mounts %+v, want %s at %s", c.Name, c.VolumeMounts, vol, apiserver.ServiceAccountMountPath)
				}
			}
		})
	}
}

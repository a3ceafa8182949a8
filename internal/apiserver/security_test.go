package apiserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/k1s/k1s/internal/apiserver"
	"github.com/k1s/k1s/internal/nodetoken"
)

// userClient is a client with a certificate for user in groups.
func userClient(t *testing.T, ts *testServer, user string, groups ...string) kubernetes.Interface {
	t.Helper()
	cert, key, err := ts.bundle.IssueClientCert(user, groups, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kubernetes.NewForConfig(&rest.Config{Host: "https://" + ts.addr, QPS: -1,
		TLSClientConfig: rest.TLSClientConfig{CAData: ts.bundle.CACertPEM, CertData: cert, KeyData: key}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAnonymousAndBadCredentials(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	anon, err := kubernetes.NewForConfig(&rest.Config{Host: "https://" + ts.addr, QPS: -1, TLSClientConfig: rest.TLSClientConfig{CAData: ts.bundle.CACertPEM}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anon.CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); !apierrors.IsUnauthorized(err) {
		t.Errorf("anonymous list: %v, want 401", err)
	}
	if _, err := tokenClient(t, ts, "not-a-token").CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); !apierrors.IsUnauthorized(err) {
		t.Errorf("bad token: %v, want 401", err)
	}
	if _, err := anon.Discovery().ServerVersion(); err != nil {
		t.Errorf("anonymous /version: %v", err)
	}
}

func TestRBACAuthorization(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	admin := ts.client()
	alice := userClient(t, ts, "alice", "devs")

	_, err := alice.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	want := `pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "default"`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Fatalf("alice before any binding: %v\nwant %s", err, want)
	}
	if _, err := alice.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil || !strings.HasSuffix(err.Error(), `cannot list resource "nodes" in API group "" at the cluster scope`) {
		t.Errorf("alice listing nodes: %v", err)
	}
	// view for the group devs, in default only.
	if _, err := admin.RbacV1().RoleBindings("default").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "devs-view"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "devs"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		_, err := alice.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		return err
	})
	cm, err := admin.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = alice.CoreV1().ConfigMaps("default").Delete(ctx, cm.Name, metav1.DeleteOptions{})
	want = `configmaps "c" is forbidden: User "alice" cannot delete resource "configmaps" in API group "" in the namespace "default"`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Errorf("view deleting: %v\nwant %s", err, want)
	}
	if _, err := alice.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("view listing secrets: %v, want 403", err)
	}
	if _, err := alice.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("view in default listing kube-system: %v, want 403", err)
	}

	// Escalation: alice may not create a role granting what she lacks,
	// nor bind edit; a role within her rights is fine once she may
	// create roles.
	if _, err := admin.RbacV1().Roles("default").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "role-admin"},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"create", "get"}, APIGroups: []string{rbacv1.GroupName}, Resources: []string{"roles", "rolebindings"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().RoleBindings("default").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "alice-roles"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "role-admin"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		_, err := alice.RbacV1().Roles("default").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "reader"},
			Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}}}, metav1.CreateOptions{})
		return err
	})
	_, err = alice.RbacV1().Roles("default").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "deleter"},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"delete"}, APIGroups: []string{""}, Resources: []string{"pods"}}}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "attempting to grant RBAC permissions not currently held") {
		t.Errorf("escalating role: %v", err)
	}
	_, err = alice.RbacV1().RoleBindings("default").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "alice-edit"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice"}}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("binding edit: %v, want 403", err)
	}

	// Reviews.
	sar, err := admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: "bob", Groups: []string{"devs"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "default", Verb: "get", Resource: "pods"}}}, metav1.CreateOptions{})
	if err != nil || !sar.Status.Allowed || !strings.Contains(sar.Status.Reason, "devs-view") {
		t.Errorf("SubjectAccessReview for bob in devs: %+v %v", sar, err)
	}
	lsar, err := admin.AuthorizationV1().LocalSubjectAccessReviews("kube-system").Create(ctx, &authorizationv1.LocalSubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: "bob", Groups: []string{"devs"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "pods"}}}, metav1.CreateOptions{})
	if err != nil || lsar.Status.Allowed {
		t.Errorf("LocalSubjectAccessReview in kube-system: %+v %v", lsar, err)
	}
	ssar, err := alice.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "default", Verb: "watch", Group: "apps", Resource: "deployments"}}}, metav1.CreateOptions{})
	if err != nil || !ssar.Status.Allowed {
		t.Errorf("SelfSubjectAccessReview: %+v %v", ssar, err)
	}
	if _, err := alice.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: "bob", NonResourceAttributes: &authorizationv1.NonResourceAttributes{Verb: "get", Path: "/healthz"}}}, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("alice asking about bob: %v, want 403", err)
	}
	rules, err := alice.AuthorizationV1().SelfSubjectRulesReviews().Create(ctx, &authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: "default"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range rules.Status.ResourceRules {
		for _, res := range r.Resources {
			found = found || res == "configmaps"
		}
	}
	if !found {
		t.Errorf("SelfSubjectRulesReview in default lists no configmaps: %+v", rules.Status)
	}
}

// A node may read a secret only while a pod bound to it uses the secret,
// may update only its own Node, and may update the status only of its own
// pods.
func TestNodeAuthorization(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	admin := ts.client()
	n1 := userClient(t, ts, "system:node:n1", "system:nodes")
	for _, n := range []string{"n1", "n2"} {
		if _, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admin.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db"}, StringData: map[string]string{"p": "x"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := func(name, node string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{NodeName: node,
			Containers: []corev1.Container{{Name: "c", Image: "busybox", Env: []corev1.EnvVar{{Name: "P", ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "p"}}}}}}}}
	}
	if _, err := admin.CoreV1().Pods("default").Create(ctx, pod("on-n2", "n2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := n1.CoreV1().Secrets("default").Get(ctx, "db", metav1.GetOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "no relationship found between node 'n1' and this object") {
		t.Fatalf("n1 reading n2's pod's secret: %v", err)
	}
	if _, err := admin.CoreV1().Pods("default").Create(ctx, pod("on-n1", "n1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		_, err := n1.CoreV1().Secrets("default").Get(ctx, "db", metav1.GetOptions{})
		return err
	})
	if _, err := n1.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("n1 listing secrets: %v, want 403", err)
	}
	// Its own Node, not another.
	for name, wantOK := range map[string]bool{"n1": true, "n2": false} {
		node, err := n1.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		node.Labels = map[string]string{"touched": "yes"}
		_, err = n1.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
		if (err == nil) != wantOK {
			t.Errorf("n1 updating node %s: %v", name, err)
		}
	}
	// Pod status: its own pods only.
	for name, wantOK := range map[string]bool{"on-n1": true, "on-n2": false} {
		p, err := n1.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Status.Message = "seen"
		_, err = n1.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{})
		if (err == nil) != wantOK {
			t.Errorf("n1 updating the status of %s: %v", name, err)
		}
	}
	if err := n1.CoreV1().Pods("default").Delete(ctx, "on-n2", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("n1 deleting n2's pod: %v, want 403", err)
	}
	// Deleting the pod takes the access away.
	if err := admin.CoreV1().Pods("default").Delete(ctx, "on-n1", *metav1.NewDeleteOptions(0)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if _, err := n1.CoreV1().Secrets("default").Get(ctx, "db", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
			return errString("still readable: " + errText(err))
		}
		return nil
	})
}

// The join token buys a node certificate and nothing else; a node renews
// only its own; a wrong token is refused.
func TestNodeCertificateExchange(t *testing.T) {
	ts := startServerWith(t, func(ts *testServer, c *apiserver.Config) {
		c.NodeToken = "secret"
		c.ClientCertSigner = ts.bundle.SignClientCSR
		c.NodeCertTTL = time.Hour
	})
	ctx := context.Background()
	bootstrap := tokenClient(t, ts, "secret")
	if _, err := bootstrap.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("the join token listing nodes: %v, want 403", err)
	}
	request := func(auth func(*http.Request), client *http.Client, cn string, orgs ...string) (int, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn, Organization: orgs}}, key)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, "https://"+ts.addr+nodetoken.CertPath, strings.NewReader(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))))
		if auth != nil {
			auth(req)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			body.WriteString(string(buf[:n]))
			if err != nil {
				break
			}
		}
		return resp.StatusCode, []byte(body.String())
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ts.bundle.CACertPEM)
	plain := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig(pool)}}
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	if code, _ := request(bearer("wrong"), plain, "system:node:n1", "system:nodes"); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d, want 401", code)
	}
	if code, _ := request(bearer("secret"), plain, "system:admin", "system:masters"); code != http.StatusForbidden {
		t.Errorf("the token asking for an admin certificate: %d, want 403", code)
	}
	code, certPEM := request(bearer("secret"), plain, "system:node:n1", "system:nodes")
	if code != http.StatusCreated {
		t.Fatalf("node certificate: %d %s", code, certPEM)
	}
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "system:node:n1" || cert.NotAfter.Sub(cert.NotBefore) > 2*time.Hour {
		t.Errorf("issued %s valid %v", cert.Subject, cert.NotAfter.Sub(cert.NotBefore))
	}
	// As node n1: its own identity again and the shared ones, not n2's.
	n1cert, n1key, _ := ts.bundle.IssueClientCert("system:node:n1", []string{"system:nodes"}, time.Hour)
	pair, err := tlsPair(n1cert, n1key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := tlsConfig(pool)
	cfg.Certificates = append(cfg.Certificates, pair)
	asNode := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	for _, c := range []struct {
		cn   string
		orgs []string
		want int
	}{
		{"system:node:n1", []string{"system:nodes"}, http.StatusCreated},
		{"system:kube-proxy", nil, http.StatusCreated},
		{"system:node:n2", []string{"system:nodes"}, http.StatusForbidden},
		{"system:node:n1", []string{"system:masters"}, http.StatusForbidden},
	} {
		if code, body := request(nil, asNode, c.cn, c.orgs...); code != c.want {
			t.Errorf("n1 asking for %s %v: %d %s, want %d", c.cn, c.orgs, code, body, c.want)
		}
	}
}

// A quota refuses the pod that would exceed it, naming the quota.
func TestQuotaAdmission(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	admin := ts.client()
	q, err := admin.CoreV1().ResourceQuotas("default").Create(ctx, &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "two-pods"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("2")}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// What the resourcequota controller does: fill the status.
	q.Status = corev1.ResourceQuotaStatus{Hard: q.Spec.Hard, Used: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("0")}}
	if _, err := admin.CoreV1().ResourceQuotas("default").UpdateStatus(ctx, q, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"a", "b", "c"} {
		_, err := admin.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}, metav1.CreateOptions{})
		if i < 2 && err != nil {
			t.Fatalf("pod %s: %v", name, err)
		}
		if i == 2 {
			want := `pods "c" is forbidden: exceeded quota: two-pods, requested: pods=1, used: pods=2, limited: pods=2`
			if !apierrors.IsForbidden(err) || err.Error() != want {
				t.Errorf("third pod: %v\nwant %s", err, want)
			}
		}
	}
	got, err := admin.CoreV1().ResourceQuotas("default").Get(ctx, "two-pods", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if used := got.Status.Used[corev1.ResourcePods]; used.Value() != 2 {
		t.Errorf("status.used.pods = %s, want 2", used.String())
	}
}

// Pod Security admission refuses what a namespace's enforce level
// forbids; LimitRanger fills in defaults.
func TestPodSecurityAndLimitRanger(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	admin := ts.client()
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "strict",
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "baseline"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	priv := true
	_, err := admin.CoreV1().Pods("strict").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "root"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox", SecurityContext: &corev1.SecurityContext{Privileged: &priv}}}}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `violates PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)`) {
		t.Errorf("privileged pod in a baseline namespace: %v", err)
	}
	if _, err := admin.CoreV1().LimitRanges("strict").Create(ctx, &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "defaults"},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer,
			Default: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m")},
			Max:     corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		p, err := admin.CoreV1().Pods("strict").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "plain-"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		if got := p.Spec.Containers[0].Resources.Limits[corev1.ResourceCPU]; got.String() != "200m" {
			return errString("default cpu limit " + got.String())
		}
		return nil
	})
	_, err = admin.CoreV1().Pods("strict").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "big"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox", Resources: corev1.ResourceRequirements{
			Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "maximum cpu usage per Container is 500m, but limit is 1") {
		t.Errorf("pod over the LimitRange: %v", err)
	}
}

func tlsConfig(pool *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

func tlsPair(certPEM, keyPEM []byte) (tls.Certificate, error) {
	return tls.X509KeyPair(certPEM, keyPEM)
}

// Impersonation (`kubectl --as`) needs the impersonate verb; the request
// is then authorized as the impersonated user. TokenReview says whose a
// token is. Discovery lists the reviews.
func TestImpersonationTokenReviewAndDiscovery(t *testing.T) {
	ts := startServerWithIssuer(t)
	ctx := context.Background()
	admin := ts.client()
	as := func(user string, groups ...string) kubernetes.Interface {
		cfg := ts.config()
		cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
		c, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// The admin may impersonate anyone; bob may do nothing.
	if _, err := as("bob").CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) ||
		!strings.Contains(err.Error(), `User "bob" cannot list resource "pods"`) {
		t.Errorf("admin as bob: %v", err)
	}
	if _, err := as("bob", "system:masters").CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("admin as bob in system:masters: %v", err)
	}
	carol := userClient(t, ts, "carol")
	cfg := &rest.Config{Host: "https://" + ts.addr, QPS: -1, TLSClientConfig: rest.TLSClientConfig{CAData: ts.bundle.CACertPEM},
		Impersonate: rest.ImpersonationConfig{UserName: "system:admin", Groups: []string{"system:masters"}}}
	cert, key, _ := ts.bundle.IssueClientCert("carol", nil, time.Hour)
	cfg.CertData, cfg.KeyData = cert, key
	carolAsAdmin := kubernetes.NewForConfigOrDie(cfg)
	_, err := carolAsAdmin.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	want := `users "system:admin" is forbidden: User "carol" cannot impersonate resource "users" in API group "" at the cluster scope`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Errorf("carol impersonating the admin: %v\nwant %s", err, want)
	}
	_ = carol

	// TokenReview.
	if _, err := admin.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := admin.CoreV1().ServiceAccounts("default").CreateToken(ctx, "robot", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	review, err := admin.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: tr.Status.Token}}, metav1.CreateOptions{})
	if err != nil || !review.Status.Authenticated || review.Status.User.Username != "system:serviceaccount:default:robot" {
		t.Errorf("token review: %+v %v", review, err)
	}
	review, err = admin.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: "a.b.c"}}, metav1.CreateOptions{})
	if err != nil || review.Status.Authenticated || review.Status.Error == "" {
		t.Errorf("review of a bad token: %+v %v", review, err)
	}

	// Discovery lists the reviews.
	list, err := admin.Discovery().ServerResourcesForGroupVersion("authorization.k8s.io/v1")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range list.APIResources {
		names = append(names, r.Name)
	}
	if got := strings.Join(names, ","); got != "localsubjectaccessreviews,selfsubjectaccessreviews,selfsubjectrulesreviews,subjectaccessreviews" {
		t.Errorf("authorization.k8s.io/v1 resources: %s", got)
	}
}

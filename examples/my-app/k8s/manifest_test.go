package k8s

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/k1s/k1s/internal/admission/podsecurity"
	"github.com/k1s/k1s/internal/image"
	"github.com/k1s/k1s/internal/testcluster"
)

// objects is my-app.yaml decoded, by kind and name.
type objects struct {
	order        []string // "Kind/name" in file order
	secrets      map[string]*corev1.Secret
	configMaps   map[string]*corev1.ConfigMap
	services     map[string]*corev1.Service
	statefulSets map[string]*appsv1.StatefulSet
	deployments  map[string]*appsv1.Deployment
	ingresses    map[string]*networkingv1.Ingress
}

// decode splits the stream and decodes each document strictly (an
// unknown or misspelt field fails) into its typed object.
func decode(t *testing.T, stream []byte) *objects {
	t.Helper()
	o := &objects{
		secrets: map[string]*corev1.Secret{}, configMaps: map[string]*corev1.ConfigMap{},
		services: map[string]*corev1.Service{}, statefulSets: map[string]*appsv1.StatefulSet{},
		deployments: map[string]*appsv1.Deployment{}, ingresses: map[string]*networkingv1.Ingress{},
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return o
		}
		if err != nil {
			t.Fatal(err)
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			t.Fatal(err)
		}
		if tm.Kind == "" {
			continue // comments only
		}
		var obj interface {
			GetName() string
			GetNamespace() string
		}
		switch tm.APIVersion + " " + tm.Kind {
		case "v1 Secret":
			obj = &corev1.Secret{}
		case "v1 ConfigMap":
			obj = &corev1.ConfigMap{}
		case "v1 Service":
			obj = &corev1.Service{}
		case "apps/v1 StatefulSet":
			obj = &appsv1.StatefulSet{}
		case "apps/v1 Deployment":
			obj = &appsv1.Deployment{}
		case "networking.k8s.io/v1 Ingress":
			obj = &networkingv1.Ingress{}
		default:
			t.Fatalf("unexpected %s %s", tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Fatalf("%s: %v", tm.Kind, err)
		}
		name := obj.GetName()
		if obj.GetNamespace() != "" {
			t.Errorf("%s %s names namespace %s: the manifests go to the current one", tm.Kind, name, obj.GetNamespace())
		}
		o.order = append(o.order, tm.Kind+"/"+name)
		switch v := obj.(type) {
		case *corev1.Secret:
			o.secrets[name] = v
		case *corev1.ConfigMap:
			o.configMaps[name] = v
		case *corev1.Service:
			o.services[name] = v
		case *appsv1.StatefulSet:
			o.statefulSets[name] = v
		case *appsv1.Deployment:
			o.deployments[name] = v
		case *networkingv1.Ingress:
			o.ingresses[name] = v
		}
	}
}

func TestManifestObjects(t *testing.T) {
	o := decode(t, Manifest())
	want := []string{
		"Secret/db-credentials", "ConfigMap/my-app-config", "Service/db", "Service/db-service",
		"StatefulSet/db", "Deployment/my-app", "Service/my-app", "Ingress/my-app",
	}
	if !slices.Equal(o.order, want) {
		t.Errorf("objects = %v, want %v", o.order, want)
	}
	secret, config := o.secrets["db-credentials"], o.configMaps["my-app-config"]
	if secret == nil || config == nil {
		t.Fatal("no Secret db-credentials or ConfigMap my-app-config")
	}
	for _, k := range []string{"DB_USER", "DB_PASSWORD"} {
		if secret.StringData[k] == "" {
			t.Errorf("Secret db-credentials has no %s", k)
		}
	}
	if got := config.Data["DB_URL"]; got != "db-service" {
		t.Errorf("DB_URL = %q, want db-service", got)
	}
	if got := config.Data["GREETING"]; got != "hello" {
		t.Errorf("GREETING = %q, want hello", got)
	}

	db, app := o.statefulSets["db"], o.deployments["my-app"]
	if db == nil || app == nil {
		t.Fatal("no StatefulSet db or Deployment my-app")
	}
	// StatefulSet db.
	if *db.Spec.Replicas != 1 || db.Spec.ServiceName != "db" {
		t.Errorf("db: replicas %d, serviceName %q", *db.Spec.Replicas, db.Spec.ServiceName)
	}
	if h := o.services["db"]; h == nil || h.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("db's governing Service db is missing or not headless: %+v", h)
	}
	if len(db.Spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("db: %d volumeClaimTemplates, want 1", len(db.Spec.VolumeClaimTemplates))
	}
	vct := db.Spec.VolumeClaimTemplates[0]
	if vct.Name != "data" || vct.Spec.StorageClassName != nil || vct.Spec.Resources.Requests.Storage().String() != "1Gi" {
		t.Errorf("db claim template = %s class %v size %s; want data, default class, 1Gi",
			vct.Name, vct.Spec.StorageClassName, vct.Spec.Resources.Requests.Storage())
	}
	if g := db.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g != 5 {
		t.Errorf("db terminationGracePeriodSeconds = %v, want 5", g)
	}
	dbc := db.Spec.Template.Spec.Containers[0]
	if dbc.Image != image.AppDBImageRef || dbc.ImagePullPolicy != corev1.PullNever {
		t.Errorf("db image %s (%s), want %s (Never)", dbc.Image, dbc.ImagePullPolicy, image.AppDBImageRef)
	}
	if len(dbc.EnvFrom) != 1 || dbc.EnvFrom[0].SecretRef == nil || dbc.EnvFrom[0].SecretRef.Name != secret.Name {
		t.Errorf("db envFrom = %+v, want the Secret", dbc.EnvFrom)
	}
	if len(dbc.VolumeMounts) != 1 || dbc.VolumeMounts[0].Name != vct.Name || dbc.VolumeMounts[0].MountPath != "/data" {
		t.Errorf("db volumeMounts = %+v", dbc.VolumeMounts)
	}

	// Deployment my-app.
	if *app.Spec.Replicas != 2 {
		t.Errorf("my-app replicas = %d, want 2", *app.Spec.Replicas)
	}
	ru := app.Spec.Strategy.RollingUpdate
	if ru == nil || *ru.MaxUnavailable != intstr.FromInt32(0) || *ru.MaxSurge != intstr.FromInt32(1) {
		t.Errorf("my-app rollingUpdate = %+v, want maxUnavailable 0, maxSurge 1", ru)
	}
	appc := app.Spec.Template.Spec.Containers[0]
	if appc.Image != image.AppImageRef || appc.ImagePullPolicy != corev1.PullNever {
		t.Errorf("my-app image %s (%s), want %s (Never)", appc.Image, appc.ImagePullPolicy, image.AppImageRef)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range appc.Env {
		env[e.Name] = e
	}
	if f := env["POD_NAME"].ValueFrom; f == nil || f.FieldRef == nil || f.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("POD_NAME = %+v, want the downward API's metadata.name", env["POD_NAME"])
	}
	for _, k := range []string{"DB_URL", "GREETING"} {
		f := env[k].ValueFrom
		if f == nil || f.ConfigMapKeyRef == nil || f.ConfigMapKeyRef.Name != config.Name || config.Data[f.ConfigMapKeyRef.Key] == "" {
			t.Errorf("%s = %+v, want a key of ConfigMap %s", k, env[k], config.Name)
		}
	}
	for _, k := range []string{"DB_USER", "DB_PASSWORD"} {
		f := env[k].ValueFrom
		if f == nil || f.SecretKeyRef == nil || f.SecretKeyRef.Name != secret.Name || secret.StringData[f.SecretKeyRef.Key] == "" {
			t.Errorf("%s = %+v, want a key of Secret %s", k, env[k], secret.Name)
		}
	}
	if p := appc.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" {
		t.Errorf("my-app readiness probe = %+v, want GET /readyz", p)
	}
	if p := appc.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" {
		t.Errorf("my-app liveness probe = %+v, want GET /healthz", p)
	}
	if r := appc.Resources.Requests; r.Cpu().String() != "10m" || r.Memory().String() != "16Mi" {
		t.Errorf("my-app requests = %v, want cpu 10m memory 16Mi", r)
	}
	// The grace period covers preStop, the drain and the shutdown.
	if g := app.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || appc.Lifecycle == nil ||
		appc.Lifecycle.PreStop == nil || appc.Lifecycle.PreStop.Sleep == nil ||
		*g < appc.Lifecycle.PreStop.Sleep.Seconds+3+10 {
		t.Errorf("my-app: grace %v, preStop %+v: want a preStop sleep and room for the drain", g, appc.Lifecycle)
	}

	// Services select the pods and reach a port their containers have.
	for _, tt := range []struct {
		service string
		port    int32
		tmpl    *corev1.PodTemplateSpec
	}{
		{"db", 5432, &db.Spec.Template},
		{"db-service", 5432, &db.Spec.Template},
		{"my-app", 80, &app.Spec.Template},
	} {
		svc := o.services[tt.service]
		if svc == nil {
			t.Errorf("no Service %s", tt.service)
			continue
		}
		for k, v := range svc.Spec.Selector {
			if tt.tmpl.Labels[k] != v {
				t.Errorf("Service %s selects %s=%s, pods have %q", tt.service, k, v, tt.tmpl.Labels[k])
			}
		}
		if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != tt.port {
			t.Errorf("Service %s ports = %+v, want %d", tt.service, svc.Spec.Ports, tt.port)
			continue
		}
		if !hasPort(tt.tmpl.Spec.Containers[0], svc.Spec.Ports[0].TargetPort) {
			t.Errorf("Service %s targets %s, which the container does not have", tt.service, svc.Spec.Ports[0].TargetPort.String())
		}
	}
	for _, sel := range []struct {
		name string
		sel  *metav1.LabelSelector
		tmpl *corev1.PodTemplateSpec
	}{{"db", db.Spec.Selector, &db.Spec.Template}, {"my-app", app.Spec.Selector, &app.Spec.Template}} {
		for k, v := range sel.sel.MatchLabels {
			if sel.tmpl.Labels[k] != v {
				t.Errorf("%s selector %s=%s does not match its template", sel.name, k, v)
			}
		}
	}

	// Ingress my-app.
	ing := o.ingresses["my-app"]
	if ing == nil {
		t.Fatal("no Ingress my-app")
	}
	if ing.Spec.IngressClassName != nil {
		t.Errorf("ingressClassName = %q, want the default class", *ing.Spec.IngressClassName)
	}
	if len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].Host != "my-app.com" || len(ing.Spec.Rules[0].HTTP.Paths) != 1 {
		t.Fatalf("ingress rules = %+v", ing.Spec.Rules)
	}
	p := ing.Spec.Rules[0].HTTP.Paths[0]
	if p.Path != "/" || p.PathType == nil || *p.PathType != networkingv1.PathTypePrefix ||
		p.Backend.Service == nil || p.Backend.Service.Name != "my-app" || p.Backend.Service.Port.Number != 80 {
		t.Errorf("ingress path = %+v, want / Prefix to my-app:80", p)
	}
}

func hasPort(c corev1.Container, target intstr.IntOrString) bool {
	for _, p := range c.Ports {
		if (target.Type == intstr.String && p.Name == target.StrVal) || (target.Type == intstr.Int && p.ContainerPort == target.IntVal) {
			return true
		}
	}
	return false
}

func TestManifestPodSecurityRestricted(t *testing.T) {
	o := decode(t, Manifest())
	for name, tmpl := range map[string]*corev1.PodTemplateSpec{
		"StatefulSet/db":    &o.statefulSets["db"].Spec.Template,
		"Deployment/my-app": &o.deployments["my-app"].Spec.Template,
	} {
		if vs := podsecurity.Evaluate(podsecurity.Restricted, &tmpl.ObjectMeta, &tmpl.Spec); len(vs) != 0 {
			t.Errorf("%s violates restricted: %s", name, podsecurity.FormatViolations(vs))
		}
		sc := tmpl.Spec.SecurityContext
		if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != image.AppUID {
			t.Errorf("%s: runAsUser = %+v, want the images' user %d", name, sc, image.AppUID)
		}
	}
}

// TestManifestAccepted creates every object in a real api-server: it
// validates them as a cluster would.
func TestManifestAccepted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and an api-server")
	}
	cs, err := kubernetes.NewForConfig(testcluster.StartAPIServer(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const ns = "my-app-test"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	o := decode(t, Manifest())
	opts := metav1.CreateOptions{}
	for _, ref := range o.order {
		kind, name, _ := strings.Cut(ref, "/")
		var err error
		switch kind {
		case "Secret":
			_, err = cs.CoreV1().Secrets(ns).Create(ctx, o.secrets[name], opts)
		case "ConfigMap":
			_, err = cs.CoreV1().ConfigMaps(ns).Create(ctx, o.configMaps[name], opts)
		case "Service":
			_, err = cs.CoreV1().Services(ns).Create(ctx, o.services[name], opts)
		case "StatefulSet":
			_, err = cs.AppsV1().StatefulSets(ns).Create(ctx, o.statefulSets[name], opts)
		case "Deployment":
			_, err = cs.AppsV1().Deployments(ns).Create(ctx, o.deployments[name], opts)
		case "Ingress":
			_, err = cs.NetworkingV1().Ingresses(ns).Create(ctx, o.ingresses[name], opts)
		}
		if err != nil {
			t.Errorf("create %s: %v", ref, err)
		}
	}
	s, err := cs.CoreV1().Secrets(ns).Get(ctx, "db-credentials", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(s.Data["DB_USER"]); got != o.secrets["db-credentials"].StringData["DB_USER"] {
		t.Errorf("stored Secret DB_USER = %q", got)
	}
}

package envvar

import (
	"context"
	"errors"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// fakeSource serves objects from maps keyed "namespace/name".
type fakeSource struct {
	configMaps map[string]*v1.ConfigMap
	secrets    map[string]*v1.Secret
	err        error // returned for every call when set
}

func (f *fakeSource) ConfigMap(_ context.Context, ns, name string) (*v1.ConfigMap, error) {
	if f.err != nil {
		return nil, f.err
	}
	if cm, ok := f.configMaps[ns+"/"+name]; ok {
		return cm, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, name)
}

func (f *fakeSource) Secret(_ context.Context, ns, name string) (*v1.Secret, error) {
	if f.err != nil {
		return nil, f.err
	}
	if s, ok := f.secrets[ns+"/"+name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
}

func testSource() *fakeSource {
	return &fakeSource{
		configMaps: map[string]*v1.ConfigMap{
			"ns/cm": {Data: map[string]string{"A": "a", "B": "b", "bad=key": "x", "1X": "one"}},
		},
		secrets: map[string]*v1.Secret{
			"ns/sec": {Data: map[string][]byte{"PASS": []byte("hunter2"), "A": []byte("from-secret")}},
		},
	}
}

func testPod() *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "p", Namespace: "ns", UID: "uid-1",
			Labels:      map[string]string{"app": "web", "tier": "front"},
			Annotations: map[string]string{"note": `say "hi"`},
		},
		Spec: v1.PodSpec{NodeName: "node1", ServiceAccountName: "sa"},
	}
}

func ptr[T any](v T) *T { return &v }

func field(path string) *v1.EnvVarSource {
	return &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: path}}
}

func res(name, divisor string) *v1.EnvVarSource {
	sel := &v1.ResourceFieldSelector{Resource: name}
	if divisor != "" {
		sel.Divisor = resource.MustParse(divisor)
	}
	return &v1.EnvVarSource{ResourceFieldRef: sel}
}

func render(kvs []*runtimeapi.KeyValue) string {
	parts := make([]string, len(kvs))
	for i, kv := range kvs {
		parts[i] = kv.Key + "=" + string(kv.Value)
	}
	return strings.Join(parts, ";")
}

func TestEnv(t *testing.T) {
	opts := Options{
		PodIPs: []string{"10.0.0.5", "fd00::5"},
		HostIP: "192.168.1.1",
		NodeAllocatable: v1.ResourceList{
			v1.ResourceCPU:    resource.MustParse("4"),
			v1.ResourceMemory: resource.MustParse("8Gi"),
		},
	}
	limited := v1.ResourceRequirements{
		Limits:   v1.ResourceList{v1.ResourceCPU: resource.MustParse("250m"), v1.ResourceMemory: resource.MustParse("64Mi")},
		Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("100m")},
	}
	tests := []struct {
		name     string
		c        v1.Container
		opts     *Options
		want     string
		wantWarn string
		wantErr  string
		notFound bool
	}{
		{
			name: "plain values and expansion of earlier vars only",
			c: v1.Container{Env: []v1.EnvVar{
				{Name: "X", Value: "x"},
				{Name: "Y", Value: "$(X)-$(Z)-$$(X)"},
				{Name: "Z", Value: "z"},
				{Name: "EMPTY"},
			}},
			want: "X=x;Y=x-$(Z)-$(X);Z=z;EMPTY=",
		},
		{
			name: "envFrom configMap with prefix skips invalid keys",
			c: v1.Container{EnvFrom: []v1.EnvFromSource{
				{Prefix: "P_", ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "cm"}}},
			}},
			want:     "P_1X=one;P_A=a;P_B=b",
			wantWarn: "InvalidEnvironmentVariableNames: Keys [P_bad=key] from the EnvFrom configMap ns/cm were skipped since they are considered invalid environment variable names.",
		},
		{
			name: "later entries win, keep first position",
			c: v1.Container{
				EnvFrom: []v1.EnvFromSource{
					{ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "cm"}}},
					{SecretRef: &v1.SecretEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "sec"}}},
				},
				Env: []v1.EnvVar{{Name: "B", Value: "$(A)!"}},
			},
			want:     "1X=one;A=from-secret;B=from-secret!;PASS=hunter2",
			wantWarn: "InvalidEnvironmentVariableNames: Keys [bad=key] from the EnvFrom configMap ns/cm were skipped since they are considered invalid environment variable names.",
		},
		{
			name: "missing optional envFrom is skipped",
			c: v1.Container{EnvFrom: []v1.EnvFromSource{
				{ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "nope"}, Optional: ptr(true)}},
				{SecretRef: &v1.SecretEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "nope"}, Optional: ptr(true)}},
			}},
			want: "",
		},
		{
			name: "missing envFrom configMap",
			c: v1.Container{EnvFrom: []v1.EnvFromSource{
				{ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "nope"}}},
			}},
			wantErr:  `configmap "nope" not found`,
			notFound: true,
		},
		{
			name: "missing envFrom secret",
			c: v1.Container{EnvFrom: []v1.EnvFromSource{
				{SecretRef: &v1.SecretEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "nope"}}},
			}},
			wantErr:  `secret "nope" not found`,
			notFound: true,
		},
		{
			name: "key refs",
			c: v1.Container{Env: []v1.EnvVar{
				{Name: "CA", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "cm"}, Key: "A"}}},
				{Name: "SP", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "sec"}, Key: "PASS"}}},
			}},
			want: "CA=a;SP=hunter2",
		},
		{
			name: "optional key refs that miss leave earlier value",
			c: v1.Container{Env: []v1.EnvVar{
				{Name: "K", Value: "keep"},
				{Name: "K", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "cm"}, Key: "nokey", Optional: ptr(true)}}},
				{Name: "K", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "nocm"}, Key: "A", Optional: ptr(true)}}},
				{Name: "K", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "sec"}, Key: "nokey", Optional: ptr(true)}}},
				{Name: "K", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "nosec"}, Key: "A", Optional: ptr(true)}}},
			}},
			want: "K=keep",
		},
		{
			name: "missing configMap key",
			c: v1.Container{Env: []v1.EnvVar{
				{Name: "K", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "cm"}, Key: "k"}}},
			}},
			wantErr: "couldn't find key k in ConfigMap ns/cm",
		},
		{
			name: "missing secret key",
			c: v1.Container{Env: []v1.EnvVar{
				{Name: "K", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "sec"}, Key: "k"}}},
			}},
			wantErr: "couldn't find key k in Secret ns/sec",
		},
		{
			name: "missing configMap for key ref",
			c: v1.Container{Env: []v1.EnvVar{
				{Name: "K", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "x"}, Key: "k"}}},
			}},
			wantErr:  `configmap "x" not found`,
			notFound: true,
		},
		{
			name: "field refs",
			c: v1.Container{Env: []v1.EnvVar{
				{Name: "NAME", ValueFrom: field("metadata.name")},
				{Name: "NS", ValueFrom: field("metadata.namespace")},
				{Name: "UID", ValueFrom: field("metadata.uid")},
				{Name: "APP", ValueFrom: field("metadata.labels['app']")},
				{Name: "NOTE", ValueFrom: field("metadata.annotations['note']")},
				{Name: "NOLABEL", ValueFrom: field("metadata.labels['missing']")},
				{Name: "NODE", ValueFrom: field("spec.nodeName")},
				{Name: "SA", ValueFrom: field("spec.serviceAccountName")},
				{Name: "IP", ValueFrom: field("status.podIP")},
				{Name: "IPS", ValueFrom: field("status.podIPs")},
				{Name: "HOST", ValueFrom: field("status.hostIP")},
				{Name: "HOSTS", ValueFrom: field("status.hostIPs")},
				{Name: "LABELS", ValueFrom: field("metadata.labels")},
				{Name: "REF", Value: "$(NAME).$(NS)"},
			}},
			want: `NAME=p;NS=ns;UID=uid-1;APP=web;NOTE=say "hi";NOLABEL=;NODE=node1;SA=sa;IP=10.0.0.5;IPS=10.0.0.5,fd00::5;` +
				"HOST=192.168.1.1;HOSTS=192.168.1.1;LABELS=app=\"web\"\ntier=\"front\";REF=p.ns",
		},
		{
			name:    "unsupported field",
			c:       v1.Container{Env: []v1.EnvVar{{Name: "X", ValueFrom: field("spec.bogus")}}},
			wantErr: "unsupported fieldPath: spec.bogus",
		},
		{
			name: "resource refs with limits set",
			c: v1.Container{Name: "c", Resources: limited, Env: []v1.EnvVar{
				{Name: "LCPU", ValueFrom: res("limits.cpu", "")},
				{Name: "LCPUM", ValueFrom: res("limits.cpu", "1m")},
				{Name: "RCPU", ValueFrom: res("requests.cpu", "")},
				{Name: "LMEM", ValueFrom: res("limits.memory", "")},
				{Name: "LMEMMI", ValueFrom: res("limits.memory", "1Mi")},
				{Name: "RMEM", ValueFrom: res("requests.memory", "")},
			}},
			want: "LCPU=1;LCPUM=250;RCPU=1;LMEM=67108864;LMEMMI=64;RMEM=0",
		},
		{
			name: "unset limits default to node allocatable",
			c: v1.Container{Name: "c", Env: []v1.EnvVar{
				{Name: "LCPU", ValueFrom: res("limits.cpu", "")},
				{Name: "LMEM", ValueFrom: res("limits.memory", "1Gi")},
				{Name: "LEPH", ValueFrom: res("limits.ephemeral-storage", "")},
			}},
			want: "LCPU=4;LMEM=8;LEPH=0",
		},
		{
			name:    "unsupported resource",
			c:       v1.Container{Name: "c", Env: []v1.EnvVar{{Name: "X", ValueFrom: res("limits.gpu", "")}}},
			wantErr: "unsupported container resource : limits.gpu",
		},
		{
			name: "service env is referable and comes last unless defined",
			c: v1.Container{Env: []v1.EnvVar{
				{Name: "URL", Value: "http://$(WEB_SERVICE_HOST)"},
				{Name: "WEB_SERVICE_PORT", Value: "mine"},
			}},
			opts: &Options{ServiceEnv: map[string]string{"WEB_SERVICE_HOST": "10.96.0.9", "WEB_SERVICE_PORT": "80"}},
			want: "URL=http://10.96.0.9;WEB_SERVICE_PORT=mine;WEB_SERVICE_HOST=10.96.0.9",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := opts
			if tt.opts != nil {
				o = *tt.opts
			}
			var warns []string
			o.Warn = func(reason, msg string) { warns = append(warns, reason+": "+msg) }
			got, err := Env(context.Background(), testSource(), testPod(), &tt.c, o)
			if tt.wantErr != "" {
				var ce *ConfigError
				if !errors.As(err, &ce) {
					t.Fatalf("err = %v, want a *ConfigError", err)
				}
				if err.Error() != tt.wantErr {
					t.Errorf("err = %q, want %q", err, tt.wantErr)
				}
				if apierrors.IsNotFound(err) != tt.notFound {
					t.Errorf("IsNotFound = %v, want %v", apierrors.IsNotFound(err), tt.notFound)
				}
				return
			}
			if err != nil {
				t.Fatalf("Env: %v", err)
			}
			if g := render(got); g != tt.want {
				t.Errorf("env =\n %q\nwant\n %q", g, tt.want)
			}
			if w := strings.Join(warns, "|"); w != tt.wantWarn {
				t.Errorf("warnings = %q, want %q", w, tt.wantWarn)
			}
		})
	}
}

func TestEnvSourceFailure(t *testing.T) {
	src := &fakeSource{err: errors.New("connection refused")}
	c := &v1.Container{EnvFrom: []v1.EnvFromSource{
		{ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "cm"}, Optional: ptr(true)}},
	}}
	_, err := Env(context.Background(), src, testPod(), c, Options{})
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *ConfigError even for optional sources on a non-NotFound error", err)
	}
	if want := "couldn't get configmap cm: connection refused"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

func TestEnvIPDefaults(t *testing.T) {
	pod := testPod()
	pod.Status.PodIP = "10.1.1.1"
	pod.Status.HostIP = "192.168.9.9"
	c := &v1.Container{Env: []v1.EnvVar{
		{Name: "IP", ValueFrom: field("status.podIP")},
		{Name: "IPS", ValueFrom: field("status.podIPs")},
		{Name: "HOST", ValueFrom: field("status.hostIP")},
	}}
	got, err := Env(context.Background(), testSource(), pod, c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if g, want := render(got), "IP=10.1.1.1;IPS=10.1.1.1;HOST=192.168.9.9"; g != want {
		t.Errorf("env = %q, want %q", g, want)
	}
}

func TestExpand(t *testing.T) {
	env := []*runtimeapi.KeyValue{
		{Key: "VAR_A", Value: []byte("A")},
		{Key: "VAR_B", Value: []byte("B")},
		{Key: "VAR_B", Value: []byte("B2")},
		{Key: "EMPTY", Value: nil},
	}
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"plain", "plain"},
		{"$(VAR_A)", "A"},
		{"$(VAR_B)", "B2"},
		{"x$(VAR_A)y$(VAR_A)", "xAyA"},
		{"$(EMPTY)", ""},
		{"$(UNKNOWN)", "$(UNKNOWN)"},
		{"$$(VAR_A)", "$(VAR_A)"},
		{"$$$(VAR_A)", "$A"},
		{"$$$$(VAR_A)", "$$(VAR_A)"},
		{"$$", "$"},
		{"$", "$"},
		{"a$", "a$"},
		{"$VAR_A", "$VAR_A"},
		{"$(VAR_A", "$(VAR_A"},
		{"$(VAR_A$(VAR_B)", "$(VAR_A$(VAR_B)"},
		{"$(VAR_A)$(", "A$("},
		{"$()", "$()"},
		{"${VAR_A}", "${VAR_A}"},
		{"$(VAR_A)-$$-$(VAR_B)", "A-$-B2"},
		{"$(VAR_A )", "$(VAR_A )"},
	}
	for _, tt := range tests {
		got := Expand([]string{tt.in}, env)
		if got[0] != tt.want {
			t.Errorf("Expand(%q) = %q, want %q", tt.in, got[0], tt.want)
		}
	}
	if got := Expand(nil, env); got != nil {
		t.Errorf("Expand(nil) = %q, want nil", got)
	}
}

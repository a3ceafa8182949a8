package limitranger

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/k1s/k1s/internal/admission"
)

func list(pairs ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i < len(pairs); i += 2 {
		l[corev1.ResourceName(pairs[i])] = resource.MustParse(pairs[i+1])
	}
	return l
}

func limitRange(ns, name string, items ...corev1.LimitRangeItem) *corev1.LimitRange {
	return &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.LimitRangeSpec{Limits: items}}
}

func newPlugin(t *testing.T, ranges ...*corev1.LimitRange) *Plugin {
	t.Helper()
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, lr := range ranges {
		if err := idx.Add(lr); err != nil {
			t.Fatal(err)
		}
	}
	p, err := New(Options{LimitRanges: corev1listers.NewLimitRangeLister(idx)})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	podsGVR   = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	claimsGVR = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}
)

func container(name string, requests, limits corev1.ResourceList) corev1.Container {
	return corev1.Container{Name: name, Image: "busybox", Resources: corev1.ResourceRequirements{Requests: requests, Limits: limits}}
}

func pod(name string, cs ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Spec: corev1.PodSpec{Containers: cs}}
}

func podCreate(p *corev1.Pod) *admission.Attributes {
	return &admission.Attributes{Operation: admission.Create, Resource: podsGVR, Namespace: p.Namespace, Name: p.Name, Object: p}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func equalLists(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || v.Cmp(w) != 0 {
			return false
		}
	}
	return true
}

func TestAdmitDefaults(t *testing.T) {
	defaults := limitRange("ns", "defaults", corev1.LimitRangeItem{
		Type:           corev1.LimitTypeContainer,
		Default:        list("cpu", "500m", "memory", "256Mi"),
		DefaultRequest: list("cpu", "100m", "memory", "128Mi"),
	})
	// Only max: LimitRange defaulting makes it the default limit and request.
	maxOnly := limitRange("ns", "max", corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Max: list("cpu", "2")})
	tests := []struct {
		name         string
		ranges       []*corev1.LimitRange
		pod          *corev1.Pod
		wantRequests []corev1.ResourceList // per container, then init containers
		wantLimits   []corev1.ResourceList
		wantNote     string
	}{
		{
			name:         "no limit ranges: only requests from limits",
			pod:          pod("p", container("c", nil, list("cpu", "1"))),
			wantRequests: []corev1.ResourceList{list("cpu", "1")},
			wantLimits:   []corev1.ResourceList{list("cpu", "1")},
		},
		{
			name:         "empty container gets both defaults",
			ranges:       []*corev1.LimitRange{defaults},
			pod:          pod("p", container("c", nil, nil)),
			wantRequests: []corev1.ResourceList{list("cpu", "100m", "memory", "128Mi")},
			wantLimits:   []corev1.ResourceList{list("cpu", "500m", "memory", "256Mi")},
			wantNote:     "LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c",
		},
		{
			name:         "a set limit becomes the request, not the default request",
			ranges:       []*corev1.LimitRange{defaults},
			pod:          pod("p", container("c", nil, list("cpu", "300m"))),
			wantRequests: []corev1.ResourceList{list("cpu", "300m", "memory", "128Mi")},
			wantLimits:   []corev1.ResourceList{list("cpu", "300m", "memory", "256Mi")},
			wantNote:     "LimitRanger plugin set: memory request for container c; memory limit for container c",
		},
		{
			name:         "set values are kept",
			ranges:       []*corev1.LimitRange{defaults},
			pod:          pod("p", container("c", list("cpu", "50m", "memory", "1Gi"), list("cpu", "1", "memory", "2Gi"))),
			wantRequests: []corev1.ResourceList{list("cpu", "50m", "memory", "1Gi")},
			wantLimits:   []corev1.ResourceList{list("cpu", "1", "memory", "2Gi")},
		},
		{
			name:         "max becomes default limit and request",
			ranges:       []*corev1.LimitRange{maxOnly},
			pod:          pod("p", container("c", nil, nil)),
			wantRequests: []corev1.ResourceList{list("cpu", "2")},
			wantLimits:   []corev1.ResourceList{list("cpu", "2")},
			wantNote:     "LimitRanger plugin set: cpu request for container c; cpu limit for container c",
		},
		{
			name:   "init containers are defaulted too",
			ranges: []*corev1.LimitRange{defaults},
			pod: func() *corev1.Pod {
				p := pod("p", container("c", list("cpu", "1", "memory", "1Gi"), list("cpu", "1", "memory", "1Gi")))
				p.Spec.InitContainers = []corev1.Container{container("i", nil, nil)}
				return p
			}(),
			wantRequests: []corev1.ResourceList{list("cpu", "1", "memory", "1Gi"), list("cpu", "100m", "memory", "128Mi")},
			wantLimits:   []corev1.ResourceList{list("cpu", "1", "memory", "1Gi"), list("cpu", "500m", "memory", "256Mi")},
			wantNote:     "LimitRanger plugin set: cpu, memory request for init container i; cpu, memory limit for init container i",
		},
		{
			name:         "other namespaces' ranges do not apply",
			ranges:       []*corev1.LimitRange{limitRange("other", "defaults", defaults.Spec.Limits...)},
			pod:          pod("p", container("c", nil, nil)),
			wantRequests: []corev1.ResourceList{nil},
			wantLimits:   []corev1.ResourceList{nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlugin(t, tt.ranges...)
			if err := p.Admit(context.Background(), podCreate(tt.pod)); err != nil {
				t.Fatalf("Admit: %v", err)
			}
			all := append(append([]corev1.Container{}, tt.pod.Spec.Containers...), tt.pod.Spec.InitContainers...)
			for i, c := range all {
				if !equalLists(c.Resources.Requests, tt.wantRequests[i]) {
					t.Errorf("%s requests = %v, want %v", c.Name, c.Resources.Requests, tt.wantRequests[i])
				}
				if !equalLists(c.Resources.Limits, tt.wantLimits[i]) {
					t.Errorf("%s limits = %v, want %v", c.Name, c.Resources.Limits, tt.wantLimits[i])
				}
			}
			if got := tt.pod.Annotations[Annotation]; got != tt.wantNote {
				t.Errorf("annotation = %q, want %q", got, tt.wantNote)
			}
		})
	}
	// The lister's objects are never changed.
	if _, ok := maxOnly.Spec.Limits[0].Default["cpu"]; ok {
		t.Error("Admit changed a cached LimitRange")
	}
}

func TestAdmitUnstructured(t *testing.T) {
	p := newPlugin(t, limitRange("ns", "d", corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Default: list("memory", "64Mi")}))
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(pod("p", container("c", nil, nil)))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	a := &admission.Attributes{Operation: admission.Create, Resource: podsGVR, Namespace: "ns", Name: "p", Object: u}
	if err := p.Admit(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "containers")
	limit, _, _ := unstructured.NestedString(cs[0].(map[string]any), "resources", "limits", "memory")
	request, _, _ := unstructured.NestedString(cs[0].(map[string]any), "resources", "requests", "memory")
	if limit != "64Mi" || request != "64Mi" {
		t.Errorf("limit %q request %q, want 64Mi both", limit, request)
	}
}

func TestValidatePods(t *testing.T) {
	containerBounds := limitRange("ns", "bounds", corev1.LimitRangeItem{
		Type:                 corev1.LimitTypeContainer,
		Min:                  list("cpu", "100m"),
		Max:                  list("cpu", "500m", "memory", "1Gi"),
		MaxLimitRequestRatio: list("cpu", "2"),
	})
	podBounds := limitRange("ns", "pod", corev1.LimitRangeItem{
		Type: corev1.LimitTypePod,
		Max:  list("cpu", "1"),
		Min:  list("memory", "100Mi"),
	})
	tests := []struct {
		name    string
		ranges  []*corev1.LimitRange
		pod     *corev1.Pod
		op      admission.Operation
		wantErr string
	}{
		{
			name:   "within bounds",
			ranges: []*corev1.LimitRange{containerBounds},
			pod:    pod("x", container("c", list("cpu", "200m", "memory", "1Gi"), list("cpu", "400m", "memory", "1Gi"))),
		},
		{
			name:    "above max limit",
			ranges:  []*corev1.LimitRange{containerBounds},
			pod:     pod("x", container("c", list("cpu", "500m", "memory", "1Gi"), list("cpu", "1", "memory", "1Gi"))),
			wantErr: `pods "x" is forbidden: maximum cpu usage per Container is 500m, but limit is 1`,
		},
		{
			name:    "no limit for a max",
			ranges:  []*corev1.LimitRange{containerBounds},
			pod:     pod("x", container("c", list("cpu", "200m"), list("cpu", "400m"))),
			wantErr: `pods "x" is forbidden: maximum memory usage per Container is 1Gi.  No limit is specified`,
		},
		{
			name:   "several violations are aggregated",
			ranges: []*corev1.LimitRange{containerBounds},
			pod:    pod("x", container("c", list("cpu", "50m", "memory", "1Gi"), list("cpu", "450m", "memory", "2Gi"))),
			wantErr: `pods "x" is forbidden: [minimum cpu usage per Container is 100m, but request is 50m, ` +
				`maximum memory usage per Container is 1Gi, but limit is 2Gi, ` +
				`cpu max limit to request ratio per Container is 2, but provided ratio is 9.000000]`,
		},
		{
			name:    "ratio without request",
			ranges:  []*corev1.LimitRange{limitRange("ns", "r", corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, MaxLimitRequestRatio: list("memory", "2")})},
			pod:     pod("x", container("c", nil, nil)),
			wantErr: `pods "x" is forbidden: memory max limit to request ratio per Container is 2, but no request is specified or request is 0`,
		},
		{
			name:    "min without request",
			ranges:  []*corev1.LimitRange{limitRange("ns", "m", corev1.LimitRangeItem{Type: corev1.LimitTypePod, Min: list("cpu", "1")})},
			pod:     pod("x", container("c", nil, nil)),
			wantErr: `pods "x" is forbidden: minimum cpu usage per Pod is 1.  No request is specified`,
		},
		{
			name:   "init containers are checked",
			ranges: []*corev1.LimitRange{containerBounds},
			pod: func() *corev1.Pod {
				p := pod("x", container("c", list("cpu", "200m", "memory", "1Gi"), list("cpu", "400m", "memory", "1Gi")))
				p.Spec.InitContainers = []corev1.Container{container("i", list("cpu", "200m", "memory", "1Gi"), list("cpu", "600m", "memory", "1Gi"))}
				return p
			}(),
			wantErr: `pods "x" is forbidden: [maximum cpu usage per Container is 500m, but limit is 600m, ` +
				`cpu max limit to request ratio per Container is 2, but provided ratio is 3.000000]`,
		},
		{
			name:   "pod total over max",
			ranges: []*corev1.LimitRange{podBounds},
			pod: pod("x",
				container("a", list("cpu", "600m", "memory", "64Mi"), list("cpu", "600m", "memory", "64Mi")),
				container("b", list("cpu", "600m", "memory", "64Mi"), list("cpu", "600m", "memory", "64Mi"))),
			wantErr: `pods "x" is forbidden: maximum cpu usage per Pod is 1, but limit is 1200m`,
		},
		{
			name:   "pod total within bounds",
			ranges: []*corev1.LimitRange{podBounds},
			pod: pod("x",
				container("a", list("cpu", "400m", "memory", "64Mi"), list("cpu", "500m", "memory", "64Mi")),
				container("b", list("cpu", "400m", "memory", "64Mi"), list("cpu", "500m", "memory", "64Mi"))),
		},
		{
			name:   "largest init container counts when it is larger",
			ranges: []*corev1.LimitRange{podBounds},
			pod: func() *corev1.Pod {
				p := pod("x", container("a", list("cpu", "100m", "memory", "128Mi"), list("cpu", "100m", "memory", "128Mi")))
				p.Spec.InitContainers = []corev1.Container{container("i", list("cpu", "2", "memory", "64Mi"), list("cpu", "2", "memory", "64Mi"))}
				return p
			}(),
			wantErr: `pods "x" is forbidden: maximum cpu usage per Pod is 1, but limit is 2`,
		},
		{
			name:   "sidecars add to the pod total",
			ranges: []*corev1.LimitRange{podBounds},
			pod: func() *corev1.Pod {
				p := pod("x", container("a", list("cpu", "600m", "memory", "128Mi"), list("cpu", "600m", "memory", "128Mi")))
				sidecar := container("s", list("cpu", "600m"), list("cpu", "600m"))
				sidecar.RestartPolicy = new(corev1.ContainerRestartPolicyAlways)
				p.Spec.InitContainers = []corev1.Container{sidecar}
				return p
			}(),
			wantErr: `pods "x" is forbidden: maximum cpu usage per Pod is 1, but limit is 1200m`,
		},
		{
			name:   "generateName names the pod",
			ranges: []*corev1.LimitRange{containerBounds},
			pod: func() *corev1.Pod {
				p := pod("", container("c", list("cpu", "500m", "memory", "1Gi"), list("cpu", "1", "memory", "1Gi")))
				p.GenerateName = "web-"
				return p
			}(),
			wantErr: `pods "web-" is forbidden: maximum cpu usage per Container is 500m, but limit is 1`,
		},
		{
			name:   "pod updates are not checked",
			ranges: []*corev1.LimitRange{containerBounds},
			op:     admission.Update,
			pod:    pod("x", container("c", list("cpu", "500m", "memory", "1Gi"), list("cpu", "1", "memory", "1Gi"))),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlugin(t, tt.ranges...)
			a := podCreate(tt.pod)
			if tt.op != "" {
				a.Operation, a.OldObject = tt.op, tt.pod.DeepCopy()
			}
			err := p.Validate(context.Background(), a)
			if got := errString(err); got != tt.wantErr {
				t.Errorf("Validate:\n got %q\nwant %q", got, tt.wantErr)
			}
			if tt.wantErr != "" && !apierrors.IsForbidden(err) {
				t.Errorf("error %v is not Forbidden", err)
			}
		})
	}
}

// TestAdmitThenValidate runs the plugin as the api-server does: defaults
// first, then bounds.
func TestAdmitThenValidate(t *testing.T) {
	lr := limitRange("ns", "lr", corev1.LimitRangeItem{
		Type:    corev1.LimitTypeContainer,
		Default: list("cpu", "1"),
		Max:     list("cpu", "500m"),
	})
	p := newPlugin(t, lr)
	ctx := context.Background()

	// The default (1) beats max (500m): upstream refuses such pods too.
	a := podCreate(pod("x", container("c", nil, nil)))
	if err := p.Admit(ctx, a); err != nil {
		t.Fatal(err)
	}
	want := `pods "x" is forbidden: maximum cpu usage per Container is 500m, but limit is 1`
	if got := errString(p.Validate(ctx, a)); got != want {
		t.Errorf("Validate = %q, want %q", got, want)
	}

	a = podCreate(pod("y", container("c", nil, list("cpu", "250m"))))
	if err := p.Admit(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(ctx, a); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func claim(name, storage string) *corev1.PersistentVolumeClaim {
	c := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}}
	if storage != "" {
		c.Spec.Resources.Requests = list("storage", storage)
	}
	return c
}

func TestValidateClaims(t *testing.T) {
	lr := limitRange("ns", "storage", corev1.LimitRangeItem{
		Type: corev1.LimitTypePersistentVolumeClaim,
		Min:  list("storage", "1Gi"),
		Max:  list("storage", "10Gi"),
	})
	deleting := claim("d", "20Gi")
	deleting.DeletionTimestamp = &metav1.Time{}
	tests := []struct {
		name    string
		op      admission.Operation
		claim   *corev1.PersistentVolumeClaim
		old     *corev1.PersistentVolumeClaim
		sub     string
		wantErr string
	}{
		{name: "within bounds", op: admission.Create, claim: claim("c", "5Gi")},
		{name: "too small", op: admission.Create, claim: claim("c", "500Mi"),
			wantErr: `persistentvolumeclaims "c" is forbidden: minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi`},
		{name: "too large", op: admission.Create, claim: claim("c", "20Gi"),
			wantErr: `persistentvolumeclaims "c" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi`},
		{name: "no request", op: admission.Create, claim: claim("c", ""),
			wantErr: `persistentvolumeclaims "c" is forbidden: [minimum storage usage per PersistentVolumeClaim is 1Gi.  No request is specified, ` +
				`maximum storage usage per PersistentVolumeClaim is 10Gi.  No request is specified]`},
		{name: "resize beyond max", op: admission.Update, claim: claim("c", "20Gi"), old: claim("c", "5Gi"),
			wantErr: `persistentvolumeclaims "c" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi`},
		{name: "claim being deleted", op: admission.Update, claim: claim("d", "20Gi"), old: deleting},
		{name: "status subresource", op: admission.Update, claim: claim("c", "20Gi"), old: claim("c", "20Gi"), sub: "status"},
	}
	p := newPlugin(t, lr)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &admission.Attributes{Operation: tt.op, Resource: claimsGVR, Subresource: tt.sub, Namespace: "ns", Name: tt.claim.Name, Object: tt.claim}
			if tt.old != nil {
				a.OldObject = tt.old
			}
			if got := errString(p.Validate(context.Background(), a)); got != tt.wantErr {
				t.Errorf("Validate:\n got %q\nwant %q", got, tt.wantErr)
			}
			// Claims are never defaulted.
			before := tt.claim.DeepCopy()
			if err := p.Admit(context.Background(), a); err != nil {
				t.Errorf("Admit: %v", err)
			}
			if !equalLists(before.Spec.Resources.Requests, tt.claim.Spec.Resources.Requests) {
				t.Error("Admit changed a claim")
			}
		})
	}
}

func TestOtherResourcesIgnored(t *testing.T) {
	p := newPlugin(t, limitRange("ns", "lr", corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Max: list("cpu", "1m")}))
	a := &admission.Attributes{Operation: admission.Create, Resource: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"},
		Namespace: "ns", Object: &corev1.ConfigMap{}}
	if err := p.Validate(context.Background(), a); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if err := p.Admit(context.Background(), a); err != nil {
		t.Errorf("Admit: %v", err)
	}
}

func TestNewRequiresLister(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without LimitRanges succeeded")
	}
}

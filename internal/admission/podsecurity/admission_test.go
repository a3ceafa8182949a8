package podsecurity

import (
	"context"
	"net/http"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/k1s/k1s/internal/admission"
)

func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

// newPlugin returns a plugin over hand-filled namespace and pod indexers.
func newPlugin(t *testing.T, opts Options, objs ...runtime.Object) *Plugin {
	t.Helper()
	nsIndexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	podIndexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, o := range objs {
		idx := nsIndexer
		if _, ok := o.(*corev1.Pod); ok {
			idx = podIndexer
		}
		if err := idx.Add(o); err != nil {
			t.Fatal(err)
		}
	}
	opts.Namespaces = corev1listers.NewNamespaceLister(nsIndexer)
	if opts.Pods == nil {
		opts.Pods = corev1listers.NewPodLister(podIndexer)
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	podsGVR        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	namespacesGVR  = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	deploymentsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	cronjobsGVR    = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}
)

func podCreate(ns string, pod *corev1.Pod) *admission.Attributes {
	pod.Namespace = ns
	return &admission.Attributes{Operation: admission.Create, Resource: podsGVR, Namespace: ns, Name: pod.Name, Object: pod, User: "alice"}
}

// plainPod breaks restricted (but not baseline) in the usual four ways.
func plainPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
}

func hostNetworkPod(name string) *corev1.Pod {
	p := plainPod(name)
	p.Spec.HostNetwork = true
	return p
}

const restrictedViolations = `allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), ` +
	`unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), ` +
	`runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), ` +
	`seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`

func TestPodDecisions(t *testing.T) {
	restricted := namespace("r", map[string]string{EnforceLevelLabel: "restricted"})
	warnOnly := namespace("w", map[string]string{WarnLevelLabel: "restricted", WarnVersionLabel: "v1.30"})
	mixed := namespace("m", map[string]string{EnforceLevelLabel: "baseline", WarnLevelLabel: "restricted", AuditLevelLabel: "restricted"})
	plain := namespace("plain", nil)
	broken := namespace("broken", map[string]string{EnforceLevelLabel: "nope"})
	exempt := namespace("exempt", map[string]string{EnforceLevelLabel: "restricted"})
	objs := []runtime.Object{restricted, warnOnly, mixed, plain, broken, exempt}
	opts := Options{ExemptNamespaces: []string{"exempt"}, ExemptUsers: []string{"system:serviceaccount:kube-system:daemon-set-controller"}, ExemptRuntimeClasses: []string{"kata"}}

	tests := []struct {
		name         string
		attrs        *admission.Attributes
		wantErr      string
		wantWarnings []string
		wantAudit    map[string]string
	}{
		{
			name:      "restricted refuses a plain pod",
			attrs:     podCreate("r", plainPod("x")),
			wantErr:   `pods "x" is forbidden: violates PodSecurity "restricted:latest": ` + restrictedViolations,
			wantAudit: map[string]string{EnforcePolicyAnnotation: "restricted:latest"},
		},
		{
			name:      "restricted admits a restricted pod",
			attrs:     podCreate("r", restrictedPod()),
			wantAudit: map[string]string{EnforcePolicyAnnotation: "restricted:latest"},
		},
		{
			name:  "unlabelled namespace admits anything",
			attrs: podCreate("plain", hostNetworkPod("x")),
		},
		{
			name:         "warn only warns with the label's version",
			attrs:        podCreate("w", plainPod("x")),
			wantWarnings: []string{`would violate PodSecurity "restricted:v1.30": ` + restrictedViolations},
			wantAudit:    map[string]string{EnforcePolicyAnnotation: "privileged:latest"},
		},
		{
			name:         "enforce baseline, warn and audit restricted",
			attrs:        podCreate("m", plainPod("x")),
			wantWarnings: []string{`would violate PodSecurity "restricted:latest": ` + restrictedViolations},
			wantAudit: map[string]string{
				EnforcePolicyAnnotation:   "baseline:latest",
				AuditViolationsAnnotation: `would violate PodSecurity "restricted:latest": ` + restrictedViolations,
			},
		},
		{
			name:    "refused pods get no warnings",
			attrs:   podCreate("m", hostNetworkPod("x")),
			wantErr: `pods "x" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true)`,
			wantAudit: map[string]string{
				EnforcePolicyAnnotation: "baseline:latest",
				AuditViolationsAnnotation: `would violate PodSecurity "restricted:latest": host namespaces (hostNetwork=true), ` +
					restrictedViolations,
			},
		},
		{
			name: "generateName names the refused pod",
			attrs: func() *admission.Attributes {
				p := plainPod("")
				p.GenerateName = "web-"
				return podCreate("r", p)
			}(),
			wantErr:   `pods "web-" is forbidden: violates PodSecurity "restricted:latest": ` + restrictedViolations,
			wantAudit: map[string]string{EnforcePolicyAnnotation: "restricted:latest"},
		},
		{
			name:    "invalid enforce label fails closed",
			attrs:   podCreate("broken", plainPod("x")),
			wantErr: `pods "x" is forbidden: violates PodSecurity "restricted:latest": ` + restrictedViolations,
			wantAudit: map[string]string{
				EnforcePolicyAnnotation: "restricted:latest",
				ErrorAnnotation:         `Failed to parse policy: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "nope": must be one of privileged, baseline, restricted`,
			},
		},
		{
			name:  "exempt namespace",
			attrs: podCreate("exempt", hostNetworkPod("x")),
		},
		{
			name: "exempt user",
			attrs: func() *admission.Attributes {
				a := podCreate("r", hostNetworkPod("x"))
				a.User = "system:serviceaccount:kube-system:daemon-set-controller"
				return a
			}(),
		},
		{
			name: "exempt runtime class",
			attrs: func() *admission.Attributes {
				p := hostNetworkPod("x")
				p.Spec.RuntimeClassName = new("kata")
				return podCreate("r", p)
			}(),
		},
		{
			name: "status updates are ignored",
			attrs: func() *admission.Attributes {
				a := podCreate("r", hostNetworkPod("x"))
				a.Operation, a.Subresource, a.OldObject = admission.Update, "status", hostNetworkPod("x")
				return a
			}(),
		},
		{
			name: "metadata-only update of a violating pod is allowed",
			attrs: func() *admission.Attributes {
				old := hostNetworkPod("x")
				p := hostNetworkPod("x")
				p.Labels = map[string]string{"a": "b"}
				a := podCreate("r", p)
				a.Operation, a.OldObject = admission.Update, old
				return a
			}(),
		},
		{
			name: "image update of a violating pod is evaluated",
			attrs: func() *admission.Attributes {
				old := hostNetworkPod("x")
				p := hostNetworkPod("x")
				p.Spec.Containers[0].Image = "busybox:2"
				a := podCreate("m", p)
				a.Operation, a.OldObject = admission.Update, old
				return a
			}(),
			wantErr: `pods "x" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true)`,
			wantAudit: map[string]string{
				EnforcePolicyAnnotation: "baseline:latest",
				AuditViolationsAnnotation: `would violate PodSecurity "restricted:latest": host namespaces (hostNetwork=true), ` +
					restrictedViolations,
			},
		},
		{
			name: "added ephemeral container is evaluated",
			attrs: func() *admission.Attributes {
				old := restrictedPod()
				p := restrictedPod()
				p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
					Name: "debug", SecurityContext: &corev1.SecurityContext{Privileged: new(true)}}}}
				a := podCreate("m", p)
				a.Name = "p"
				a.Operation, a.Subresource, a.OldObject = admission.Update, "ephemeralcontainers", old
				return a
			}(),
			wantErr: `pods "p" is forbidden: violates PodSecurity "baseline:latest": privileged (container "debug" must not set securityContext.privileged=true)`,
			wantAudit: map[string]string{
				EnforcePolicyAnnotation: "baseline:latest",
				AuditViolationsAnnotation: `would violate PodSecurity "restricted:latest": privileged (container "debug" must not set securityContext.privileged=true), ` +
					`allowPrivilegeEscalation != false (container "debug" must set securityContext.allowPrivilegeEscalation=false), ` +
					`unrestricted capabilities (container "debug" must set securityContext.capabilities.drop=["ALL"])`,
			},
		},
		{
			name: "deletes are not evaluated",
			attrs: func() *admission.Attributes {
				a := podCreate("r", hostNetworkPod("x"))
				a.Operation, a.Object, a.OldObject = admission.Delete, nil, hostNetworkPod("x")
				return a
			}(),
		},
		{
			name: "unstructured pods are evaluated",
			attrs: func() *admission.Attributes {
				p := hostNetworkPod("x")
				p.Namespace = "m"
				u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(p)
				if err != nil {
					t.Fatal(err)
				}
				a := podCreate("m", plainPod("x"))
				a.Object = &unstructured.Unstructured{Object: u}
				return a
			}(),
			wantErr: `pods "x" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true)`,
			wantAudit: map[string]string{
				EnforcePolicyAnnotation: "baseline:latest",
				AuditViolationsAnnotation: `would violate PodSecurity "restricted:latest": host namespaces (hostNetwork=true), ` +
					restrictedViolations,
			},
		},
	}
	p := newPlugin(t, opts, objs...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := p.Decide(context.Background(), tt.attrs)
			checkDecision(t, d, tt.wantErr, tt.wantWarnings, tt.wantAudit)
			if tt.wantErr != "" {
				if !apierrors.IsForbidden(d.Err) {
					t.Errorf("error %v is not Forbidden", d.Err)
				}
				if code := apierrors.ReasonForError(d.Err); code != metav1.StatusReasonForbidden {
					t.Errorf("reason = %s", code)
				}
			}
			// Validate and Warnings are views of Decide.
			if err := p.Validate(context.Background(), tt.attrs); errString(err) != tt.wantErr {
				t.Errorf("Validate = %v, want %q", err, tt.wantErr)
			}
			if w := p.Warnings(context.Background(), tt.attrs); len(w) != len(tt.wantWarnings) {
				t.Errorf("Warnings = %q, want %q", w, tt.wantWarnings)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func checkDecision(t *testing.T, d Decision, wantErr string, wantWarnings []string, wantAudit map[string]string) {
	t.Helper()
	if got := errString(d.Err); got != wantErr {
		t.Errorf("error:\n got %q\nwant %q", got, wantErr)
	}
	if len(d.Warnings) != len(wantWarnings) {
		t.Errorf("warnings:\n got %q\nwant %q", d.Warnings, wantWarnings)
	} else {
		for i := range d.Warnings {
			if d.Warnings[i] != wantWarnings[i] {
				t.Errorf("warning %d:\n got %q\nwant %q", i, d.Warnings[i], wantWarnings[i])
			}
		}
	}
	if len(d.AuditAnnotations) != len(wantAudit) {
		t.Errorf("audit annotations:\n got %q\nwant %q", d.AuditAnnotations, wantAudit)
	}
	for k, v := range wantAudit {
		if d.AuditAnnotations[k] != v {
			t.Errorf("audit %s:\n got %q\nwant %q", k, d.AuditAnnotations[k], v)
		}
	}
}

func TestWorkloadsWarnNeverRefuse(t *testing.T) {
	template := corev1.PodTemplateSpec{Spec: plainPod("").Spec}
	template.Spec.HostPID = true
	deployment := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d"}, Spec: appsv1.DeploymentSpec{Template: template}}
	cronjob := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "cj"}}
	cronjob.Spec.JobTemplate.Spec.Template = template

	p := newPlugin(t, Options{},
		namespace("enforce", map[string]string{EnforceLevelLabel: "baseline"}),
		namespace("both", map[string]string{EnforceLevelLabel: "baseline", WarnLevelLabel: "restricted"}),
		namespace("same", map[string]string{EnforceLevelLabel: "baseline", WarnLevelLabel: "baseline"}),
		namespace("plain", nil),
	)
	baselineWarning := `would violate PodSecurity "baseline:latest": host namespaces (hostPID=true)`
	restrictedWarning := `would violate PodSecurity "restricted:latest": host namespaces (hostPID=true), ` + restrictedViolations
	tests := []struct {
		name string
		ns   string
		gvr  schema.GroupVersionResource
		obj  runtime.Object
		sub  string
		want []string
	}{
		{name: "enforce level warns", ns: "enforce", gvr: deploymentsGVR, obj: deployment, want: []string{baselineWarning}},
		{name: "enforce and warn levels", ns: "both", gvr: deploymentsGVR, obj: deployment, want: []string{baselineWarning, restrictedWarning}},
		{name: "same level warns once", ns: "same", gvr: deploymentsGVR, obj: deployment, want: []string{baselineWarning}},
		{name: "cronjob template", ns: "enforce", gvr: cronjobsGVR, obj: cronjob, want: []string{baselineWarning}},
		{name: "unlabelled namespace", ns: "plain", gvr: deploymentsGVR, obj: deployment},
		{name: "scale subresource", ns: "enforce", gvr: deploymentsGVR, obj: deployment, sub: "scale"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &admission.Attributes{Operation: admission.Create, Resource: tt.gvr, Namespace: tt.ns, Subresource: tt.sub, Object: tt.obj}
			d := p.Decide(context.Background(), a)
			checkDecision(t, Decision{Err: d.Err, Warnings: d.Warnings}, "", tt.want, nil)
		})
	}
}

func TestNamespaceDecisions(t *testing.T) {
	pods := []runtime.Object{
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "b"}, Spec: hostNetworkPod("").Spec},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a"}, Spec: hostNetworkPod("").Spec},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c"}, Spec: plainPod("").Spec},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ok"}, Spec: restrictedPod().Spec},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "z"}, Spec: hostNetworkPod("").Spec},
	}
	p := newPlugin(t, Options{}, pods...)
	invalidMsg := `Namespace "ns" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "bogus": must be one of privileged, baseline, restricted`
	tests := []struct {
		name         string
		op           admission.Operation
		old, new     map[string]string
		wantErr      string
		wantWarnings []string
	}{
		{name: "create with valid labels", op: admission.Create, new: map[string]string{EnforceLevelLabel: "restricted"}},
		{name: "create with invalid level", op: admission.Create, new: map[string]string{EnforceLevelLabel: "bogus"}, wantErr: invalidMsg},
		{name: "update to invalid level", op: admission.Update, new: map[string]string{EnforceLevelLabel: "bogus"}, wantErr: invalidMsg},
		{
			name: "update keeping the same invalid label",
			op:   admission.Update,
			old:  map[string]string{EnforceLevelLabel: "bogus"},
			new:  map[string]string{EnforceLevelLabel: "bogus", "team": "a"},
		},
		{
			name: "tightening warns about existing pods",
			op:   admission.Update,
			old:  map[string]string{EnforceLevelLabel: "privileged"},
			new:  map[string]string{EnforceLevelLabel: "restricted"},
			wantWarnings: []string{
				`existing pods in namespace "ns" violate the new PodSecurity enforce level "restricted:latest"`,
				`a (and 1 other pod): host namespaces, allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile`,
				`c: allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile`,
			},
		},
		{
			name: "relaxing does not check pods",
			op:   admission.Update,
			old:  map[string]string{EnforceLevelLabel: "restricted"},
			new:  map[string]string{EnforceLevelLabel: "baseline"},
		},
		{
			name: "unchanged enforce level does not check pods",
			op:   admission.Update,
			old:  map[string]string{EnforceLevelLabel: "baseline"},
			new:  map[string]string{EnforceLevelLabel: "baseline", WarnLevelLabel: "restricted"},
		},
		{
			name:         "baseline passes restricted pods",
			op:           admission.Update,
			new:          map[string]string{EnforceLevelLabel: "baseline"},
			wantWarnings: []string{`existing pods in namespace "ns" violate the new PodSecurity enforce level "baseline:latest"`, `a (and 1 other pod): host namespaces`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &admission.Attributes{Operation: tt.op, Resource: namespacesGVR, Name: "ns", Object: namespace("ns", tt.new)}
			if tt.op == admission.Update {
				a.OldObject = namespace("ns", tt.old)
			}
			d := p.Decide(context.Background(), a)
			checkDecision(t, d, tt.wantErr, tt.wantWarnings, nil)
			if tt.wantErr != "" && !apierrors.IsInvalid(d.Err) {
				t.Errorf("error %v is not Invalid", d.Err)
			}
			if tt.wantErr != "" {
				if code := d.Err.(apierrors.APIStatus).Status().Code; code != http.StatusUnprocessableEntity {
					t.Errorf("code = %d", code)
				}
			}
		})
	}
}

func TestNamespaceLookup(t *testing.T) {
	ctx := context.Background()
	p := newPlugin(t, Options{})
	err := p.Validate(ctx, podCreate("missing", plainPod("x")))
	if !apierrors.IsInternalError(err) {
		t.Errorf("missing namespace: %v, want an internal error", err)
	}

	late := namespace("late", map[string]string{EnforceLevelLabel: "baseline"})
	p = newPlugin(t, Options{GetNamespace: func(_ context.Context, name string) (*corev1.Namespace, error) {
		if name != "late" {
			return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, name)
		}
		return late, nil
	}})
	err = p.Validate(ctx, podCreate("late", hostNetworkPod("x")))
	if want := `pods "x" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true)`; errString(err) != want {
		t.Errorf("fallback lookup: %v, want %q", err, want)
	}
}

func TestNewRequiresNamespaces(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without Namespaces succeeded")
	}
}

package quota

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/k1s/k1s/internal/admission"
)

// quota is a ResourceQuota whose status the controller has filled in.
func quota(name, hard, used string) *corev1.ResourceQuota {
	return &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team", ResourceVersion: "7"},
		Spec:       corev1.ResourceQuotaSpec{Hard: rl(hard)},
		Status:     corev1.ResourceQuotaStatus{Hard: rl(hard), Used: rl(used)},
	}
}

func claim(name, storage string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team", ResourceVersion: "3"},
		Spec: corev1.PersistentVolumeClaimSpec{
			Resources: corev1.VolumeResourceRequirements{Requests: rl("storage=" + storage)},
		},
	}
}

func TestAdmit(t *testing.T) {
	podsGR := schema.GroupResource{Resource: "pods"}
	claimsGR := schema.GroupResource{Resource: "persistentvolumeclaims"}
	web := pod("web", container("app", "cpu=300m,memory=64Mi", "cpu=500m,memory=128Mi"))
	bare := pod("bare", container("a", "", "cpu=1"), container("b", "", ""), container("c", "memory=1Gi", ""))
	generated := pod("", container("a", "", ""))
	generated.GenerateName = "web-"
	resized := web.DeepCopy()
	resized.Spec.Containers[0].Resources.Requests = rl("cpu=600m,memory=64Mi")
	web.ResourceVersion = "5"

	type want struct {
		used map[string]string // quota name -> status.used of the returned copies
		err  string
	}
	tests := []struct {
		name     string
		quotas   []*corev1.ResourceQuota
		gr       schema.GroupResource
		op       admission.Operation
		obj, old runtime.Object
		want     want
	}{{
		name:   "within",
		quotas: []*corev1.ResourceQuota{quota("q", "pods=3", "pods=1")},
		gr:     podsGR, op: admission.Create, obj: web,
		want: want{used: map[string]string{"q": "pods=2"}},
	}, {
		name:   "exactly at the limit",
		quotas: []*corev1.ResourceQuota{quota("q", "pods=2", "pods=1")},
		gr:     podsGR, op: admission.Create, obj: web,
		want: want{used: map[string]string{"q": "pods=2"}},
	}, {
		name:   "over",
		quotas: []*corev1.ResourceQuota{quota("q", "pods=2", "pods=2")},
		gr:     podsGR, op: admission.Create, obj: web,
		want: want{err: `pods "web" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2`},
	}, {
		name:   "over on cpu only names cpu",
		quotas: []*corev1.ResourceQuota{quota("compute", "pods=10,requests.cpu=1,limits.cpu=4,requests.memory=1Gi,limits.memory=1Gi", "pods=1,requests.cpu=800m,limits.cpu=1,requests.memory=0,limits.memory=0")},
		gr:     podsGR, op: admission.Create, obj: web,
		want: want{err: `pods "web" is forbidden: exceeded quota: compute, requested: requests.cpu=300m, used: requests.cpu=800m, limited: requests.cpu=1`},
	}, {
		name:   "the name may still be a generateName",
		quotas: []*corev1.ResourceQuota{quota("q", "pods=0", "pods=0")},
		gr:     podsGR, op: admission.Create, obj: generated,
		want: want{err: `pods "web-" is forbidden: exceeded quota: q, requested: pods=1, used: pods=0, limited: pods=0`},
	}, {
		name:   "missing limits",
		quotas: []*corev1.ResourceQuota{quota("q", "limits.cpu=10", "limits.cpu=0")},
		gr:     podsGR, op: admission.Create, obj: bare,
		want: want{err: `pods "bare" is forbidden: failed quota: q: must specify limits.cpu for: b,c`},
	}, {
		name:   "missing requests and limits",
		quotas: []*corev1.ResourceQuota{quota("q", "limits.cpu=10,requests.memory=10Gi,pods=10", "limits.cpu=0,requests.memory=0,pods=0")},
		gr:     podsGR, op: admission.Create, obj: bare,
		want: want{err: `pods "bare" is forbidden: failed quota: q: must specify limits.cpu for: b,c; requests.memory for: a,b`},
	}, {
		name:   "init containers must specify too",
		quotas: []*corev1.ResourceQuota{quota("q", "requests.cpu=10", "requests.cpu=0")},
		gr:     podsGR, op: admission.Create,
		obj: func() *corev1.Pod {
			p := pod("p", container("a", "cpu=1", ""))
			p.Spec.InitContainers = []corev1.Container{container("init", "", "")}
			return p
		}(),
		want: want{err: `pods "p" is forbidden: failed quota: q: must specify requests.cpu for: init`},
	}, {
		name:   "pod-level resources cover the containers",
		quotas: []*corev1.ResourceQuota{quota("q", "limits.cpu=10", "limits.cpu=0")},
		gr:     podsGR, op: admission.Create,
		obj: func() *corev1.Pod {
			p := pod("p", container("a", "", ""))
			p.Spec.Resources = &corev1.ResourceRequirements{Limits: rl("cpu=2")}
			return p
		}(),
		want: want{used: map[string]string{"q": "limits.cpu=2"}},
	}, {
		name:   "usage not known yet",
		quotas: []*corev1.ResourceQuota{quota("q", "pods=10,requests.cpu=2", "pods=1")},
		gr:     podsGR, op: admission.Create, obj: web,
		want: want{err: `pods "web" is forbidden: status unknown for quota: q, resources: pods,requests.cpu`},
	}, {
		name: "not enforced before the controller fills status.hard",
		quotas: []*corev1.ResourceQuota{{
			ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: "team"},
			Spec:       corev1.ResourceQuotaSpec{Hard: rl("pods=0")},
		}},
		gr: podsGR, op: admission.Create, obj: web,
	}, {
		name:   "unconstrained resources are not charged",
		quotas: []*corev1.ResourceQuota{quota("q", "pods=5,services=1", "pods=1,services=1")},
		gr:     podsGR, op: admission.Create, obj: web,
		want: want{used: map[string]string{"q": "pods=2,services=1"}},
	}, {
		name:   "a quota on other resources is left alone",
		quotas: []*corev1.ResourceQuota{quota("q", "services=0", "services=0")},
		gr:     podsGR, op: admission.Create, obj: web,
	}, {
		name:   "multiple quotas are all charged",
		quotas: []*corev1.ResourceQuota{quota("a", "pods=5", "pods=1"), quota("b", "requests.memory=1Gi", "requests.memory=0"), quota("c", "secrets=1", "secrets=0")},
		gr:     podsGR, op: admission.Create, obj: web,
		want: want{used: map[string]string{"a": "pods=2", "b": "requests.memory=64Mi"}},
	}, {
		name:   "any quota can refuse",
		quotas: []*corev1.ResourceQuota{quota("a", "pods=5", "pods=1"), quota("b", "requests.memory=100Mi", "requests.memory=50Mi")},
		gr:     podsGR, op: admission.Create, obj: web,
		want: want{err: `pods "web" is forbidden: exceeded quota: b, requested: requests.memory=64Mi, used: requests.memory=50Mi, limited: requests.memory=100Mi`},
	}, {
		name: "scoped quota, pod out of scope",
		quotas: []*corev1.ResourceQuota{func() *corev1.ResourceQuota {
			q := quota("be", "pods=0", "pods=0")
			q.Spec.Scopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort}
			return q
		}()},
		gr: podsGR, op: admission.Create, obj: web,
	}, {
		name:   "update charges the difference",
		quotas: []*corev1.ResourceQuota{quota("q", "requests.storage=5Gi,persistentvolumeclaims=2", "requests.storage=1Gi,persistentvolumeclaims=1")},
		gr:     claimsGR, op: admission.Update, obj: claim("data", "3Gi"), old: claim("data", "1Gi"),
		want: want{used: map[string]string{"q": "requests.storage=3Gi,persistentvolumeclaims=1"}},
	}, {
		name:   "update over the limit",
		quotas: []*corev1.ResourceQuota{quota("q", "requests.storage=5Gi", "requests.storage=4Gi")},
		gr:     claimsGR, op: admission.Update, obj: claim("data", "3Gi"), old: claim("data", "1Gi"),
		want: want{err: `persistentvolumeclaims "data" is forbidden: exceeded quota: q, requested: requests.storage=2Gi, used: requests.storage=4Gi, limited: requests.storage=5Gi`},
	}, {
		name:   "shrinking costs nothing",
		quotas: []*corev1.ResourceQuota{quota("q", "requests.storage=5Gi", "requests.storage=5Gi")},
		gr:     claimsGR, op: admission.Update, obj: claim("data", "1Gi"), old: claim("data", "3Gi"),
	}, {
		name:   "pod resize",
		quotas: []*corev1.ResourceQuota{quota("q", "pods=5,requests.cpu=1", "pods=1,requests.cpu=300m")},
		gr:     podsGR, op: admission.Update, obj: resized, old: web,
		want: want{used: map[string]string{"q": "pods=1,requests.cpu=600m"}},
	}, {
		name:   "update of an object never stored is charged in full",
		quotas: []*corev1.ResourceQuota{quota("q", "requests.storage=5Gi", "requests.storage=0")},
		gr:     claimsGR, op: admission.Update, obj: claim("data", "3Gi"),
		old: func() runtime.Object {
			c := claim("data", "1Gi")
			c.ResourceVersion = ""
			return c
		}(),
		want: want{used: map[string]string{"q": "requests.storage=3Gi"}},
	}, {
		name: "update into a quota's scope is charged in full",
		quotas: []*corev1.ResourceQuota{func() *corev1.ResourceQuota {
			q := quota("nbe", "pods=5,requests.cpu=2", "pods=0,requests.cpu=0")
			q.Spec.Scopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeNotBestEffort}
			return q
		}()},
		gr: podsGR, op: admission.Update, obj: web,
		old: func() runtime.Object {
			p := pod("web", container("app", "", ""))
			p.ResourceVersion = "5"
			return p
		}(),
		want: want{used: map[string]string{"nbe": "pods=1,requests.cpu=300m"}},
	}, {
		name:   "update without the old object",
		quotas: []*corev1.ResourceQuota{quota("q", "requests.storage=5Gi", "requests.storage=0")},
		gr:     claimsGR, op: admission.Update, obj: claim("data", "3Gi"),
		want: want{err: `persistentvolumeclaims "data" is forbidden: unable to get previous usage since prior version of object was not found`},
	}, {
		name:   "deletes are not charged",
		quotas: []*corev1.ResourceQuota{quota("q", "pods=0", "pods=0")},
		gr:     podsGR, op: admission.Delete, old: web,
	}, {
		name:   "object counts",
		quotas: []*corev1.ResourceQuota{quota("q", "count/deployments.apps=2,configmaps=1", "count/deployments.apps=1,configmaps=0")},
		gr:     schema.GroupResource{Group: "apps", Resource: "deployments"}, op: admission.Create,
		obj:  &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "team"}},
		want: want{used: map[string]string{"q": "count/deployments.apps=2,configmaps=0"}},
	}, {
		name:   "object counts over",
		quotas: []*corev1.ResourceQuota{quota("q", "count/deployments.apps=1", "count/deployments.apps=1")},
		gr:     schema.GroupResource{Group: "apps", Resource: "deployments"}, op: admission.Create,
		obj:  &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "team"}},
		want: want{err: `deployments.apps "d" is forbidden: exceeded quota: q, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1`},
	}, {
		name:   "negative requests",
		quotas: []*corev1.ResourceQuota{quota("q", "requests.cpu=2", "requests.cpu=0")},
		gr:     podsGR, op: admission.Create, obj: pod("neg", container("a", "cpu=-1", "cpu=1")),
		want: want{err: `pods "neg" is forbidden: quota usage is negative for resource(s): cpu,requests.cpu`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := make([]*corev1.ResourceQuota, len(tt.quotas))
			for i, q := range tt.quotas {
				before[i] = q.DeepCopy()
			}
			got, err := Admit(tt.quotas, tt.gr, tt.op, tt.obj, tt.old)
			for i := range tt.quotas {
				if !Equal(tt.quotas[i].Status.Used, before[i].Status.Used) {
					t.Errorf("Admit changed quota %s", tt.quotas[i].Name)
				}
			}
			if tt.want.err != "" {
				if err == nil || err.Error() != tt.want.err {
					t.Fatalf("err = %v, want %s", err, tt.want.err)
				}
				if !apierrors.IsForbidden(err) {
					t.Errorf("err is not Forbidden: %#v", err)
				}
				if got != nil {
					t.Errorf("refused, yet returned %d quotas", len(got))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want.used) {
				t.Fatalf("returned %d quotas, want %d", len(got), len(tt.want.used))
			}
			for _, q := range got {
				want, ok := tt.want.used[q.Name]
				if !ok {
					t.Errorf("quota %s returned, not charged", q.Name)
					continue
				}
				if !Equal(q.Status.Used, rl(want)) {
					t.Errorf("quota %s used = %s, want %s", q.Name, format(q.Status.Used), want)
				}
				if q.ResourceVersion != "7" {
					t.Errorf("quota %s resourceVersion = %q, want the one read (7) for the compare-and-swap", q.Name, q.ResourceVersion)
				}
			}
		})
	}
}

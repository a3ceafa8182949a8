package quota

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// rl parses "name=amount,name=amount".
func rl(s string) corev1.ResourceList {
	out := corev1.ResourceList{}
	if s == "" {
		return out
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		out[corev1.ResourceName(k)] = resource.MustParse(v)
	}
	return out
}

func container(name, requests, limits string) corev1.Container {
	c := corev1.Container{Name: name, Image: "busybox"}
	if requests != "" {
		c.Resources.Requests = rl(requests)
	}
	if limits != "" {
		c.Resources.Limits = rl(limits)
	}
	return c
}

func pod(name string, containers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team"},
		Spec:       corev1.PodSpec{Containers: containers},
	}
}

func ptr[T any](v T) *T { return &v }

func TestUsagePods(t *testing.T) {
	deletedAt := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	deleting := func(p *corev1.Pod) *corev1.Pod {
		p.DeletionTimestamp = &metav1.Time{Time: deletedAt}
		p.DeletionGracePeriodSeconds = ptr(int64(30))
		return p
	}
	tests := []struct {
		name string
		pod  *corev1.Pod
		now  time.Time
		want string
	}{{
		name: "best effort",
		pod:  pod("p", container("a", "", "")),
		want: "count/pods=1,pods=1",
	}, {
		name: "containers are summed",
		pod:  pod("p", container("a", "cpu=100m,memory=64Mi", "cpu=200m"), container("b", "cpu=300m", "cpu=1,memory=1Gi")),
		want: "count/pods=1,pods=1,cpu=400m,requests.cpu=400m,memory=64Mi,requests.memory=64Mi,limits.cpu=1200m,limits.memory=1Gi",
	}, {
		name: "a larger init container wins",
		pod: func() *corev1.Pod {
			p := pod("p", container("a", "cpu=100m", "cpu=100m"))
			p.Spec.InitContainers = []corev1.Container{container("init", "cpu=500m", "cpu=1")}
			return p
		}(),
		want: "count/pods=1,pods=1,cpu=500m,requests.cpu=500m,limits.cpu=1",
	}, {
		name: "sidecars add up, and run next to later init containers",
		pod: func() *corev1.Pod {
			p := pod("p", container("a", "cpu=100m", ""))
			side := container("side", "cpu=200m", "")
			side.RestartPolicy = ptr(corev1.ContainerRestartPolicyAlways)
			p.Spec.InitContainers = []corev1.Container{side, container("migrate", "cpu=250m", "")}
			return p
		}(),
		// containers+sidecar = 300m < sidecar+migrate = 450m
		want: "count/pods=1,pods=1,cpu=450m,requests.cpu=450m",
	}, {
		name: "overhead adds to requests and to the limits that are set",
		pod: func() *corev1.Pod {
			p := pod("p", container("a", "cpu=100m,memory=100Mi", "cpu=200m"))
			p.Spec.Overhead = rl("cpu=10m,memory=10Mi")
			return p
		}(),
		want: "count/pods=1,pods=1,cpu=110m,requests.cpu=110m,memory=110Mi,requests.memory=110Mi,limits.cpu=210m",
	}, {
		name: "pod-level resources win",
		pod: func() *corev1.Pod {
			p := pod("p", container("a", "cpu=100m", ""), container("b", "cpu=100m", ""))
			p.Spec.Resources = &corev1.ResourceRequirements{Requests: rl("cpu=1"), Limits: rl("cpu=2")}
			return p
		}(),
		want: "count/pods=1,pods=1,cpu=1,requests.cpu=1,limits.cpu=2",
	}, {
		name: "ephemeral storage, hugepages and extended resources",
		pod:  pod("p", container("a", "ephemeral-storage=1Gi,hugepages-2Mi=4Mi,example.com/gpu=1", "ephemeral-storage=2Gi,hugepages-2Mi=4Mi,example.com/gpu=1")),
		want: "count/pods=1,pods=1,ephemeral-storage=1Gi,requests.ephemeral-storage=1Gi,limits.ephemeral-storage=2Gi," +
			"hugepages-2Mi=4Mi,requests.hugepages-2Mi=4Mi,requests.example.com/gpu=1",
	}, {
		name: "succeeded pods cost only their count",
		pod: func() *corev1.Pod {
			p := pod("p", container("a", "cpu=1", "cpu=1"))
			p.Status.Phase = corev1.PodSucceeded
			return p
		}(),
		want: "count/pods=1",
	}, {
		name: "failed pods cost only their count",
		pod: func() *corev1.Pod {
			p := pod("p", container("a", "cpu=1", "cpu=1"))
			p.Status.Phase = corev1.PodFailed
			return p
		}(),
		want: "count/pods=1",
	}, {
		name: "a pod within its deletion grace period is charged",
		pod:  deleting(pod("p", container("a", "cpu=1", ""))),
		now:  deletedAt.Add(29 * time.Second),
		want: "count/pods=1,pods=1,cpu=1,requests.cpu=1",
	}, {
		name: "a pod past its deletion grace period is not",
		pod:  deleting(pod("p", container("a", "cpu=1", ""))),
		now:  deletedAt.Add(31 * time.Second),
		want: "count/pods=1",
	}, {
		name: "without a clock, a pod being deleted is charged",
		pod:  deleting(pod("p", container("a", "cpu=1", ""))),
		want: "count/pods=1,pods=1,cpu=1,requests.cpu=1",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := UsageAt(schema.GroupResource{Resource: "pods"}, tt.pod, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if want := rl(tt.want); !Equal(got, want) {
				t.Errorf("usage = %s, want %s", format(got), format(want))
			}
		})
	}
}

func TestUsageServices(t *testing.T) {
	ports := []corev1.ServicePort{{Name: "http", Port: 80}, {Name: "https", Port: 443, NodePort: 30443}}
	tests := []struct {
		name string
		spec corev1.ServiceSpec
		want string
	}{
		{"cluster IP", corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Ports: ports},
			"count/services=1,services=1,services.nodeports=0,services.loadbalancers=0"},
		{"node port", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: ports},
			"count/services=1,services=1,services.nodeports=2,services.loadbalancers=0"},
		{"load balancer", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: ports},
			"count/services=1,services=1,services.nodeports=2,services.loadbalancers=1"},
		{"load balancer without node ports", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: ports, AllocateLoadBalancerNodePorts: ptr(false)},
			"count/services=1,services=1,services.nodeports=1,services.loadbalancers=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Usage(schema.GroupResource{Resource: "services"}, &corev1.Service{Spec: tt.spec})
			if err != nil {
				t.Fatal(err)
			}
			if want := rl(tt.want); !Equal(got, want) {
				t.Errorf("usage = %s, want %s", format(got), format(want))
			}
		})
	}
}

func TestUsageClaims(t *testing.T) {
	claim := func(class *string, request, allocated string) *corev1.PersistentVolumeClaim {
		c := &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: class}}
		if request != "" {
			c.Spec.Resources.Requests = rl("storage=" + request)
		}
		if allocated != "" {
			c.Status.AllocatedResources = rl("storage=" + allocated)
		}
		return c
	}
	const fast = "fast.storageclass.storage.k8s.io/"
	tests := []struct {
		name  string
		claim *corev1.PersistentVolumeClaim
		want  string
	}{
		{"no class", claim(nil, "1Gi", ""), "count/persistentvolumeclaims=1,persistentvolumeclaims=1,requests.storage=1Gi"},
		{"with a class", claim(ptr("fast"), "1Gi", ""),
			"count/persistentvolumeclaims=1,persistentvolumeclaims=1,requests.storage=1Gi," + fast + "persistentvolumeclaims=1," + fast + "requests.storage=1Gi"},
		{"allocated more than requested", claim(nil, "1Gi", "2Gi"), "count/persistentvolumeclaims=1,persistentvolumeclaims=1,requests.storage=2Gi"},
		{"rounded up to whole bytes", claim(nil, "1500m", ""), "count/persistentvolumeclaims=1,persistentvolumeclaims=1,requests.storage=2"},
		{"beta annotation", func() *corev1.PersistentVolumeClaim {
			c := claim(nil, "1Gi", "")
			c.Annotations = map[string]string{"volume.beta.kubernetes.io/storage-class": "fast"}
			return c
		}(), "count/persistentvolumeclaims=1,persistentvolumeclaims=1,requests.storage=1Gi," + fast + "persistentvolumeclaims=1," + fast + "requests.storage=1Gi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Usage(schema.GroupResource{Resource: "persistentvolumeclaims"}, tt.claim)
			if err != nil {
				t.Fatal(err)
			}
			if want := rl(tt.want); !Equal(got, want) {
				t.Errorf("usage = %s, want %s", format(got), format(want))
			}
		})
	}
}

func TestUsageCounts(t *testing.T) {
	tests := []struct {
		gr   schema.GroupResource
		obj  runtime.Object
		want string
	}{
		{schema.GroupResource{Resource: "configmaps"}, &corev1.ConfigMap{}, "count/configmaps=1,configmaps=1"},
		{schema.GroupResource{Resource: "secrets"}, &corev1.Secret{}, "count/secrets=1,secrets=1"},
		{schema.GroupResource{Resource: "replicationcontrollers"}, &corev1.ReplicationController{}, "count/replicationcontrollers=1,replicationcontrollers=1"},
		{schema.GroupResource{Resource: "resourcequotas"}, &corev1.ResourceQuota{}, "count/resourcequotas=1,resourcequotas=1"},
		{schema.GroupResource{Resource: "endpoints"}, &corev1.Endpoints{}, "count/endpoints=1"},
		{schema.GroupResource{Group: "apps", Resource: "deployments"}, &appsv1.Deployment{}, "count/deployments.apps=1"},
		{schema.GroupResource{Group: "apps", Resource: "deployments"}, &metav1.PartialObjectMetadata{}, "count/deployments.apps=1"},
	}
	for _, tt := range tests {
		t.Run(tt.gr.String(), func(t *testing.T) {
			got, err := Usage(tt.gr, tt.obj)
			if err != nil {
				t.Fatal(err)
			}
			if want := rl(tt.want); !Equal(got, want) {
				t.Errorf("usage = %s, want %s", format(got), format(want))
			}
		})
	}
	if _, err := Usage(schema.GroupResource{Resource: "pods"}, &corev1.Service{}); err == nil {
		t.Error("Usage of a service as a pod: no error")
	}
}

func TestCountNames(t *testing.T) {
	tests := []struct {
		gr   schema.GroupResource
		name corev1.ResourceName
	}{
		{schema.GroupResource{Resource: "pods"}, "count/pods"},
		{schema.GroupResource{Group: "apps", Resource: "deployments"}, "count/deployments.apps"},
		{schema.GroupResource{Group: "example.com", Resource: "widgets"}, "count/widgets.example.com"},
	}
	for _, tt := range tests {
		if got := CountName(tt.gr); got != tt.name {
			t.Errorf("CountName(%v) = %q, want %q", tt.gr, got, tt.name)
		}
		if got, ok := ParseCountName(tt.name); !ok || got != tt.gr {
			t.Errorf("ParseCountName(%q) = %v, %v, want %v", tt.name, got, ok, tt.gr)
		}
	}
	for _, name := range []corev1.ResourceName{"pods", "count/", "requests.cpu"} {
		if gr, ok := ParseCountName(name); ok {
			t.Errorf("ParseCountName(%q) = %v, want none", name, gr)
		}
	}
}

func TestUsed(t *testing.T) {
	q := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: "team"},
		Spec:       corev1.ResourceQuotaSpec{Hard: rl("pods=10,requests.cpu=4,services=2,count/deployments.apps=3")},
	}
	done := pod("done", container("a", "cpu=1", ""))
	done.Status.Phase = corev1.PodSucceeded
	pods := []runtime.Object{pod("a", container("a", "cpu=1", "")), pod("b", container("a", "cpu=500m", "")), done}
	tests := []struct {
		name  string
		quota *corev1.ResourceQuota
		gr    schema.GroupResource
		objs  []runtime.Object
		want  string
	}{
		{"pods", q, schema.GroupResource{Resource: "pods"}, pods, "pods=2,requests.cpu=1500m"},
		{"no pods", q, schema.GroupResource{Resource: "pods"}, nil, "pods=0,requests.cpu=0"},
		{"deployments", q, schema.GroupResource{Group: "apps", Resource: "deployments"},
			[]runtime.Object{&metav1.PartialObjectMetadata{}, &metav1.PartialObjectMetadata{}}, "count/deployments.apps=2"},
		{"not limited", q, schema.GroupResource{Resource: "secrets"}, []runtime.Object{&corev1.Secret{}}, ""},
		{"scoped", func() *corev1.ResourceQuota {
			q := q.DeepCopy()
			q.Spec.Scopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort}
			q.Spec.Hard = rl("pods=10")
			return q
		}(), schema.GroupResource{Resource: "pods"}, append(pods, pod("be", container("a", "", ""))), "pods=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Used(tt.quota, tt.gr, tt.objs, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if want := rl(tt.want); !Equal(got, want) {
				t.Errorf("used = %s, want %s", format(got), format(want))
			}
		})
	}
}

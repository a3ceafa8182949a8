package addons

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// Names of the add-ons, as --disable takes them.
const (
	DNS          = "dns"
	Ingress      = "ingress"
	LocalStorage = "local-storage"
)

// All lists every add-on.
var All = []string{DNS, Ingress, LocalStorage}

// StorageClassName is the default StorageClass; LocalPathProvisioner
// provisions its volumes (the agents' local-path provisioner).
const (
	StorageClassName     = "local-path"
	LocalPathProvisioner = "k1s.io/local-path"
)

// FieldManager owns the add-ons' fields.
const FieldManager = "k1s-addons"

// IngressClassName is the cluster's default IngressClass; Controller is
// its spec.controller.
const (
	IngressClassName  = "k1s"
	IngressController = "k1s.io/ingress"
)

// Options say what to install.
type Options struct {
	// Image is the k1s image the add-ons run from. Required.
	Image string
	// ClusterDNS is the kube-dns Service's cluster IP. Required for DNS.
	ClusterDNS netip.Addr
	// Domain is the cluster domain; default cluster.local.
	Domain string
	// IngressHTTPPort and IngressHTTPSPort are the node ports the
	// Ingress controller listens on; default 80 and 443.
	IngressHTTPPort, IngressHTTPSPort int
	// Disable names add-ons not to install.
	Disable []string
}

func (o *Options) defaults() error {
	if o.Image == "" {
		return fmt.Errorf("addons: no image")
	}
	if o.Domain == "" {
		o.Domain = "cluster.local"
	}
	if o.IngressHTTPPort == 0 {
		o.IngressHTTPPort = 80
	}
	if o.IngressHTTPSPort == 0 {
		o.IngressHTTPSPort = 443
	}
	for _, d := range o.Disable {
		if !slices.Contains(All, d) {
			return fmt.Errorf("addons: unknown add-on %q (known: %v)", d, All)
		}
	}
	if !slices.Contains(o.Disable, DNS) && !o.ClusterDNS.IsValid() {
		return fmt.Errorf("addons: no cluster DNS address")
	}
	return nil
}

// Install applies the enabled add-ons.
func Install(ctx context.Context, client kubernetes.Interface, o Options) error {
	if err := o.defaults(); err != nil {
		return err
	}
	var objs []object
	if !slices.Contains(o.Disable, DNS) {
		objs = append(objs, dnsObjects(o)...)
	}
	if !slices.Contains(o.Disable, Ingress) {
		objs = append(objs, ingressObjects(o)...)
	}
	if !slices.Contains(o.Disable, LocalStorage) {
		objs = append(objs, storageObjects()...)
	}
	for _, obj := range objs {
		if err := apply(ctx, client, obj); err != nil {
			return err
		}
	}
	return nil
}

// object is one manifest: its REST path and content.
type object struct {
	group, version, resource, namespace, name string
	body                                      any
}

func apply(ctx context.Context, client kubernetes.Interface, obj object) error {
	data, err := json.Marshal(obj.body)
	if err != nil {
		return err
	}
	prefix := "/api"
	if obj.group != "" {
		prefix = "/apis/" + obj.group
	}
	req := client.CoreV1().RESTClient().Patch(types.ApplyPatchType).AbsPath(prefix, obj.version)
	if obj.namespace != "" {
		req = req.Namespace(obj.namespace)
	}
	req = req.Resource(obj.resource).Name(obj.name).
		Param("fieldManager", FieldManager).Param("force", "true").Body(data)
	if err := req.Do(ctx).Error(); err != nil {
		return fmt.Errorf("addons: applying %s %s/%s: %w", obj.resource, obj.namespace, obj.name, err)
	}
	return nil
}

const ns = metav1.NamespaceSystem

func labels(app string) map[string]string {
	return map[string]string{"k8s-app": app, "app.kubernetes.io/managed-by": "k1s"}
}

func serviceAccount(name string) object {
	return object{version: "v1", resource: "serviceaccounts", namespace: ns, name: name, body: &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels(name)},
	}}
}

// criticalTolerations let an add-on run on tainted (control-plane,
// not-ready for a moment) nodes, as upstream's CoreDNS manifest does.
func criticalTolerations() []corev1.Toleration {
	return []corev1.Toleration{
		{Key: "CriticalAddonsOnly", Operator: corev1.TolerationOpExists},
		{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	}
}

func dnsObjects(o Options) []object {
	const name = "k1s-dns"
	sel := map[string]string{"k8s-app": "kube-dns"}
	podLabels := map[string]string{"k8s-app": "kube-dns", "app.kubernetes.io/managed-by": "k1s"}
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(8080)}},
			PeriodSeconds: 5, TimeoutSeconds: 2, FailureThreshold: 3,
		}
	}
	liveness := probe("/healthz")
	liveness.InitialDelaySeconds = 10
	// Readiness is asked every second: a new cluster is ready as soon as
	// its DNS is, and the probe is one local HTTP request.
	readiness := probe("/readyz")
	readiness.PeriodSeconds = 1
	dep := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels("kube-dns")},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxUnavailable: ptr.To(intstr.FromInt32(0)), MaxSurge: ptr.To(intstr.FromInt32(1))}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{
					ServiceAccountName: name,
					DNSPolicy:          corev1.DNSDefault, // it is the cluster DNS: it forwards to the node's resolvers
					Tolerations:        criticalTolerations(),
					Containers: []corev1.Container{{
						Name:            "dns",
						Image:           o.Image,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Args:            []string{"dns", "--listen", ":53", "--health-addr", ":8080", "--domain", o.Domain},
						Ports: []corev1.ContainerPort{
							{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
							{Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP},
							{Name: "metrics", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
						},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
							Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("170Mi")},
						},
						ReadinessProbe: readiness,
						LivenessProbe:  liveness,
						SecurityContext: &corev1.SecurityContext{
							ReadOnlyRootFilesystem: ptr.To(true),
							Capabilities:           &corev1.Capabilities{Add: []corev1.Capability{"NET_BIND_SERVICE"}, Drop: []corev1.Capability{"ALL"}},
						},
					}},
				},
			},
		},
	}
	svc := &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: ns, Labels: map[string]string{
			"k8s-app": "kube-dns", "kubernetes.io/name": "k1s-dns", "app.kubernetes.io/managed-by": "k1s"}},
		Spec: corev1.ServiceSpec{
			Selector:  sel,
			ClusterIP: o.ClusterDNS.String(),
			Ports: []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("dns-tcp")},
				{Name: "metrics", Port: 8080, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("metrics")},
			},
		},
	}
	return []object{
		serviceAccount(name),
		{version: "v1", resource: "services", namespace: ns, name: svc.Name, body: svc},
		{group: "apps", version: "v1", resource: "deployments", namespace: ns, name: name, body: dep},
	}
}

func ingressObjects(o Options) []object {
	const name = "k1s-ingress"
	sel := map[string]string{"k8s-app": name}
	class := &networkingv1.IngressClass{
		TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "IngressClass"},
		ObjectMeta: metav1.ObjectMeta{Name: IngressClassName, Labels: labels(name),
			Annotations: map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}},
		Spec: networkingv1.IngressClassSpec{Controller: IngressController},
	}
	ds := &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels(name)},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"k8s-app": name, "app.kubernetes.io/managed-by": "k1s"}},
				Spec: corev1.PodSpec{
					ServiceAccountName: name,
					HostNetwork:        true,
					DNSPolicy:          corev1.DNSClusterFirstWithHostNet,
					Tolerations:        append(criticalTolerations(), corev1.Toleration{Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}),
					Containers: []corev1.Container{{
						Name:            "ingress",
						Image:           o.Image,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Args: []string{"ingress",
							"--http-addr", ":" + strconv.Itoa(o.IngressHTTPPort),
							"--https-addr", ":" + strconv.Itoa(o.IngressHTTPSPort),
							"--health-addr", ":10254"},
						Env: []corev1.EnvVar{{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{
							FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.nodeName"}}}},
						Ports: []corev1.ContainerPort{
							{Name: "http", ContainerPort: int32(o.IngressHTTPPort), Protocol: corev1.ProtocolTCP},
							{Name: "https", ContainerPort: int32(o.IngressHTTPSPort), Protocol: corev1.ProtocolTCP},
							{Name: "metrics", ContainerPort: 10254, Protocol: corev1.ProtocolTCP},
						},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
						},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(10254)}},
							PeriodSeconds: 1, TimeoutSeconds: 2,
						},
					}},
				},
			},
		},
	}
	return []object{
		{group: "networking.k8s.io", version: "v1", resource: "ingressclasses", name: class.Name, body: class},
		serviceAccount(name),
		{group: "apps", version: "v1", resource: "daemonsets", namespace: ns, name: name, body: ds},
	}
}

// storageObjects is the default StorageClass: a directory on the node
// the first consumer is scheduled to, created by that node's agent.
func storageObjects() []object {
	wait := storagev1.VolumeBindingWaitForFirstConsumer
	del := corev1.PersistentVolumeReclaimDelete
	class := &storagev1.StorageClass{
		TypeMeta: metav1.TypeMeta{APIVersion: "storage.k8s.io/v1", Kind: "StorageClass"},
		ObjectMeta: metav1.ObjectMeta{Name: StorageClassName, Labels: labels("local-path-provisioner"),
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		Provisioner:       LocalPathProvisioner,
		VolumeBindingMode: &wait,
		ReclaimPolicy:     &del,
	}
	return []object{{group: "storage.k8s.io", version: "v1", resource: "storageclasses", name: class.Name, body: class}}
}

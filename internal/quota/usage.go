package quota

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Group-resources with more than an object count.
var (
	podsResource     = schema.GroupResource{Resource: "pods"}
	servicesResource = schema.GroupResource{Resource: "services"}
	claimsResource   = schema.GroupResource{Resource: "persistentvolumeclaims"}
)

// legacyCountNames are the object counts that predate count/<resource>.
var legacyCountNames = map[schema.GroupResource]corev1.ResourceName{
	{Resource: "configmaps"}:             corev1.ResourceConfigMaps,
	{Resource: "secrets"}:                corev1.ResourceSecrets,
	{Resource: "replicationcontrollers"}: corev1.ResourceReplicationControllers,
	{Resource: "resourcequotas"}:         corev1.ResourceQuotas,
}

// storageClassInfix joins a storage class name and a claim resource:
// <class>.storageclass.storage.k8s.io/requests.storage.
const storageClassInfix = ".storageclass.storage.k8s.io/"

// betaStorageClassAnnotation named a claim's class before
// spec.storageClassName existed.
const betaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class"

// CountName is the quota resource counting objects of gr:
// count/<resource> for the core group, count/<resource>.<group> otherwise.
func CountName(gr schema.GroupResource) corev1.ResourceName {
	if gr.Group == "" {
		return corev1.ResourceName("count/" + gr.Resource)
	}
	return corev1.ResourceName("count/" + gr.Resource + "." + gr.Group)
}

// ParseCountName is CountName's inverse: the group-resource a count/...
// quota resource counts. Names of the legacy counts (pods, secrets, ...)
// are not count names.
func ParseCountName(name corev1.ResourceName) (schema.GroupResource, bool) {
	rest, ok := strings.CutPrefix(string(name), "count/")
	if !ok || rest == "" {
		return schema.GroupResource{}, false
	}
	resource, group, _ := strings.Cut(rest, ".")
	return schema.GroupResource{Group: group, Resource: resource}, resource != ""
}

// Usage is what obj, an object of gr, costs in quota, with pods being
// deleted charged until they are gone (see UsageAt).
func Usage(gr schema.GroupResource, obj runtime.Object) (corev1.ResourceList, error) {
	return UsageAt(gr, obj, time.Time{})
}

// UsageAt is what obj, an object of gr, costs in quota at time now.
// Pods cost their requests and limits unless their phase is terminal or,
// when now is not zero, their deletion grace period ended before now
// (a pod stuck terminating on a lost node must not block its
// replacement); they always cost count/pods. Services, claims and every
// other object cost what upstream charges; objects of other group-
// resources may be of any type, even metadata only.
func UsageAt(gr schema.GroupResource, obj runtime.Object, now time.Time) (corev1.ResourceList, error) {
	switch gr {
	case podsResource:
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return nil, fmt.Errorf("quota: want a *v1.Pod, got %T", obj)
		}
		return podUsage(pod, now), nil
	case servicesResource:
		svc, ok := obj.(*corev1.Service)
		if !ok {
			return nil, fmt.Errorf("quota: want a *v1.Service, got %T", obj)
		}
		return serviceUsage(svc), nil
	case claimsResource:
		pvc, ok := obj.(*corev1.PersistentVolumeClaim)
		if !ok {
			return nil, fmt.Errorf("quota: want a *v1.PersistentVolumeClaim, got %T", obj)
		}
		return claimUsage(pvc), nil
	}
	one := *resource.NewQuantity(1, resource.DecimalSI)
	out := corev1.ResourceList{CountName(gr): one}
	if legacy, ok := legacyCountNames[gr]; ok {
		out[legacy] = one.DeepCopy()
	}
	return out, nil
}

// podUsage is count/pods always, and the compute resources while charged.
func podUsage(pod *corev1.Pod, now time.Time) corev1.ResourceList {
	out := corev1.ResourceList{CountName(podsResource): *resource.NewQuantity(1, resource.DecimalSI)}
	if !podCharged(pod, now) {
		return out
	}
	var podRequests, podLimits corev1.ResourceList
	if pod.Spec.Resources != nil {
		podRequests, podLimits = pod.Spec.Resources.Requests, pod.Spec.Resources.Limits
	}
	requests := podTotal(pod, func(r corev1.ResourceRequirements) corev1.ResourceList { return r.Requests }, podRequests)
	addInto(requests, pod.Spec.Overhead)
	limits := podTotal(pod, func(r corev1.ResourceRequirements) corev1.ResourceList { return r.Limits }, podLimits)
	for name, q := range pod.Spec.Overhead {
		// Overhead raises only the limits that are set.
		if l, ok := limits[name]; ok && !l.IsZero() {
			addInto(limits, corev1.ResourceList{name: q})
		}
	}
	addInto(out, computeUsage(requests, limits))
	return out
}

// podCharged reports whether a pod still costs compute resources.
func podCharged(pod *corev1.Pod, now time.Time) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	if pod.DeletionTimestamp != nil && pod.DeletionGracePeriodSeconds != nil && !now.IsZero() {
		deadline := pod.DeletionTimestamp.Add(time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second)
		if now.After(deadline) {
			return false
		}
	}
	return true
}

// podTotal is what a pod needs of one side (requests or limits) as the
// scheduler sees it: the sum of its containers and sidecars (restartable
// init containers), or, if larger, what any init container needs next to
// the sidecars started before it; amounts set at pod level win.
func podTotal(pod *corev1.Pod, side func(corev1.ResourceRequirements) corev1.ResourceList, podLevel corev1.ResourceList) corev1.ResourceList {
	total := corev1.ResourceList{}
	for _, c := range pod.Spec.Containers {
		addInto(total, side(c.Resources))
	}
	sidecars, initPeak := corev1.ResourceList{}, corev1.ResourceList{}
	for _, c := range pod.Spec.InitContainers {
		r := side(c.Resources)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			addInto(total, r)
			addInto(sidecars, r)
			maxInto(initPeak, sidecars)
			continue
		}
		maxInto(initPeak, add(r, sidecars))
	}
	maxInto(total, initPeak)
	for name, q := range podLevel {
		if podLevelResource(name) {
			total[name] = q.DeepCopy()
		}
	}
	return total
}

// podLevelResource reports whether name may be set in pod.spec.resources.
func podLevelResource(name corev1.ResourceName) bool {
	return name == corev1.ResourceCPU || name == corev1.ResourceMemory ||
		strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix)
}

// computeUsage turns requests and limits into quota resources: cpu and
// requests.cpu from the cpu request, limits.cpu from its limit, the same
// for memory and ephemeral-storage, hugepages-* and requests.hugepages-*
// from hugepage requests, requests.<name> for extended resources; and
// pods=1.
func computeUsage(requests, limits corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{corev1.ResourcePods: *resource.NewQuantity(1, resource.DecimalSI)}
	for _, r := range []struct{ plain, requests, limits corev1.ResourceName }{
		{corev1.ResourceCPU, corev1.ResourceRequestsCPU, corev1.ResourceLimitsCPU},
		{corev1.ResourceMemory, corev1.ResourceRequestsMemory, corev1.ResourceLimitsMemory},
		{corev1.ResourceEphemeralStorage, corev1.ResourceRequestsEphemeralStorage, corev1.ResourceLimitsEphemeralStorage},
	} {
		if q, ok := requests[r.plain]; ok {
			out[r.plain] = q.DeepCopy()
			out[r.requests] = q.DeepCopy()
		}
		if q, ok := limits[r.plain]; ok {
			out[r.limits] = q.DeepCopy()
		}
	}
	for name, q := range requests {
		switch {
		case strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix):
			out[name] = q.DeepCopy()
			out[corev1.DefaultResourceRequestsPrefix+name] = q.DeepCopy()
		case extendedResource(name):
			out[corev1.DefaultResourceRequestsPrefix+name] = q.DeepCopy()
		}
	}
	return out
}

// nativeResource reports whether name is a Kubernetes resource (no
// domain, or a kubernetes.io one).
func nativeResource(name corev1.ResourceName) bool {
	return !strings.Contains(string(name), "/") || strings.Contains(string(name), corev1.ResourceDefaultNamespacePrefix)
}

// extendedResource reports whether a container may request name as an
// extended resource (example.com/gpu), quota'd as requests.<name>.
func extendedResource(name corev1.ResourceName) bool {
	if nativeResource(name) || strings.HasPrefix(string(name), corev1.DefaultResourceRequestsPrefix) {
		return false
	}
	return len(validation.IsQualifiedName(corev1.DefaultResourceRequestsPrefix+string(name))) == 0
}

// serviceUsage counts the service, its node ports (one per port for
// NodePort services, and for LoadBalancer ones unless node port
// allocation is off, when only explicit node ports count) and load
// balancers.
func serviceUsage(svc *corev1.Service) corev1.ResourceList {
	one := *resource.NewQuantity(1, resource.DecimalSI)
	out := corev1.ResourceList{
		CountName(servicesResource):          one.DeepCopy(),
		corev1.ResourceServices:              one.DeepCopy(),
		corev1.ResourceServicesLoadBalancers: {Format: resource.DecimalSI},
		corev1.ResourceServicesNodePorts:     {Format: resource.DecimalSI},
	}
	ports := int64(len(svc.Spec.Ports))
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		out[corev1.ResourceServicesNodePorts] = *resource.NewQuantity(ports, resource.DecimalSI)
	case corev1.ServiceTypeLoadBalancer:
		out[corev1.ResourceServicesLoadBalancers] = one.DeepCopy()
		if a := svc.Spec.AllocateLoadBalancerNodePorts; a != nil && !*a {
			ports = 0
			for _, p := range svc.Spec.Ports {
				if p.NodePort != 0 {
					ports++
				}
			}
		}
		out[corev1.ResourceServicesNodePorts] = *resource.NewQuantity(ports, resource.DecimalSI)
	}
	return out
}

// claimUsage counts the claim and the storage it asks for (the larger of
// its request and what was allocated to it, rounded up to whole bytes),
// also under its storage class.
func claimUsage(pvc *corev1.PersistentVolumeClaim) corev1.ResourceList {
	one := *resource.NewQuantity(1, resource.DecimalSI)
	out := corev1.ResourceList{
		CountName(claimsResource):             one.DeepCopy(),
		corev1.ResourcePersistentVolumeClaims: one.DeepCopy(),
	}
	class := claimClass(pvc)
	if class != "" {
		out[storageClassResource(class, corev1.ResourcePersistentVolumeClaims)] = one.DeepCopy()
	}
	var storage *resource.Quantity
	if q, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
		storage = wholeBytes(q)
	}
	if q, ok := pvc.Status.AllocatedResources[corev1.ResourceStorage]; ok && (storage == nil || q.Cmp(*storage) > 0) {
		storage = wholeBytes(q)
	}
	if storage != nil {
		out[corev1.ResourceRequestsStorage] = *storage
		if class != "" {
			out[storageClassResource(class, corev1.ResourceRequestsStorage)] = storage.DeepCopy()
		}
	}
	return out
}

// storageClassResource is <class>.storageclass.storage.k8s.io/<name>.
func storageClassResource(class string, name corev1.ResourceName) corev1.ResourceName {
	return corev1.ResourceName(class + storageClassInfix + string(name))
}

func claimClass(pvc *corev1.PersistentVolumeClaim) string {
	if pvc.Spec.StorageClassName != nil {
		return *pvc.Spec.StorageClassName
	}
	return pvc.Annotations[betaStorageClassAnnotation]
}

// wholeBytes rounds q up to a whole number of bytes, which is what quota
// amounts must be.
func wholeBytes(q resource.Quantity) *resource.Quantity {
	r := q.DeepCopy()
	r.RoundUp(0)
	return &r
}

// Used is what objs, the objects of gr in q's namespace, cost q at time
// now: for each resource of q's spec.hard that objects of gr can cost,
// the sum over the objects in q's scopes (zero when there are none).
// The resourcequota controller adds this up over every group-resource.
func Used(q *corev1.ResourceQuota, gr schema.GroupResource, objs []runtime.Object, now time.Time) (corev1.ResourceList, error) {
	names := accounted(gr, q.Spec.Hard)
	if len(names) == 0 {
		return corev1.ResourceList{}, nil
	}
	total := corev1.ResourceList{}
	keep := map[corev1.ResourceName]bool{}
	for _, name := range names {
		total[name] = resource.Quantity{Format: resource.DecimalSI}
		keep[name] = true
	}
	for _, obj := range objs {
		in, err := InScope(q, gr, obj)
		if err != nil {
			return nil, err
		}
		if !in {
			continue
		}
		u, err := UsageAt(gr, obj, now)
		if err != nil {
			return nil, err
		}
		addInto(total, u)
	}
	return mask(total, keep), nil
}

package openapi

import (
	"reflect"
	"strings"
)

// listType is the x-kubernetes-list-type of a list field and, for "map",
// its x-kubernetes-list-map-keys.
type listType struct {
	kind string // atomic, set or map
	keys []string
}

// listTypeOf returns the list type of field f (json name field) of the
// definition owner. The +listType markers of k8s.io/api live in comments,
// out of reflection's reach, so: a patch merge key makes a map keyed by it,
// a merge strategy without a key makes a set, anything else is atomic; and
// listTypeException knows where upstream says otherwise. A test checks the
// result against client-go's structured-merge-diff schema of the same types.
func listTypeOf(owner, field string, f reflect.StructField) listType {
	if lt, ok := listTypeException(owner + "." + field); ok {
		return lt
	}
	if key := f.Tag.Get("patchMergeKey"); key != "" {
		return listType{kind: "map", keys: []string{key}}
	}
	if strings.Contains(f.Tag.Get("patchStrategy"), "merge") {
		return listType{kind: "set"}
	}
	return listType{kind: "atomic"}
}

// listTypeException returns the list type of the lists (definition name and
// json field) whose upstream list type is not what their patch tags suggest.
func listTypeException(field string) (listType, bool) {
	switch field {
	case "io.k8s.api.batch.v1.JobStatus.conditions",
		"io.k8s.api.core.v1.PodStatus.hostIPs":
		return listType{kind: "atomic"}, true
	case "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyBindingSpec.validationActions",
		"io.k8s.api.batch.v1.PodFailurePolicyOnExitCodesRequirement.values",
		"io.k8s.api.batch.v1.UncountedTerminatedPods.failed",
		"io.k8s.api.batch.v1.UncountedTerminatedPods.succeeded",
		"io.k8s.api.core.v1.ContainerRestartRuleOnExitCodes.values",
		"io.k8s.api.core.v1.NodeAllocatableResourceClaimStatus.containers",
		"io.k8s.api.core.v1.NodePodPreemptionPolicy.disableResizePreemption",
		"io.k8s.api.core.v1.VolumeMount.bindMountOptions",
		"io.k8s.api.discovery.v1.Endpoint.addresses",
		"io.k8s.api.storage.v1.CSIDriverSpec.volumeLifecycleModes":
		return listType{kind: "set"}, true
	case "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyStatus.conditions":
		return listType{kind: "map", keys: []string{"type"}}, true
	case "io.k8s.api.core.v1.PodStatus.volumeHealth",
		"io.k8s.api.core.v1.ResourceRequirements.claims":
		return listType{kind: "map", keys: []string{"name"}}, true
	case "io.k8s.api.core.v1.ResourceStatus.resources":
		return listType{kind: "map", keys: []string{"resourceID"}}, true
	case "io.k8s.api.core.v1.Container.ports",
		"io.k8s.api.core.v1.EphemeralContainer.ports":
		return listType{kind: "map", keys: []string{"containerPort", "protocol"}}, true
	case "io.k8s.api.core.v1.ServiceSpec.ports":
		return listType{kind: "map", keys: []string{"port", "protocol"}}, true
	case "io.k8s.api.core.v1.PodSpec.topologySpreadConstraints":
		return listType{kind: "map", keys: []string{"topologyKey", "whenUnsatisfiable"}}, true
	case "io.k8s.api.core.v1.PodVolumeHealth.healthConditions",
		"io.k8s.api.core.v1.VolumeHealthStatus.healthConditions":
		return listType{kind: "map", keys: []string{"status", "reason"}}, true
	}
	return listType{}, false
}

// isAtomicStruct reports whether upstream marks definition name
// +structType=atomic (x-kubernetes-map-type: atomic): it is replaced as a
// whole by server-side apply.
func isAtomicStruct(name string) bool {
	switch name {
	case "io.k8s.api.admissionregistration.v1.MatchResources",
		"io.k8s.api.admissionregistration.v1.NamedRuleWithOperations",
		"io.k8s.api.admissionregistration.v1.ParamKind",
		"io.k8s.api.admissionregistration.v1.ParamRef",
		"io.k8s.api.admissionregistration.v1.Variable",
		"io.k8s.api.autoscaling.v1.CrossVersionObjectReference",
		"io.k8s.api.core.v1.ConfigMapKeySelector",
		"io.k8s.api.core.v1.EndpointAddress",
		"io.k8s.api.core.v1.EndpointPort",
		"io.k8s.api.core.v1.EvictionResponder",
		"io.k8s.api.core.v1.FileKeySelector",
		"io.k8s.api.core.v1.LocalObjectReference",
		"io.k8s.api.core.v1.NodeSelector",
		"io.k8s.api.core.v1.NodeSelectorTerm",
		"io.k8s.api.core.v1.ObjectFieldSelector",
		"io.k8s.api.core.v1.ObjectReference",
		"io.k8s.api.core.v1.ResourceFieldSelector",
		"io.k8s.api.core.v1.ScopeSelector",
		"io.k8s.api.core.v1.SecretKeySelector",
		"io.k8s.api.core.v1.SecretReference",
		"io.k8s.api.core.v1.TopologySelectorTerm",
		"io.k8s.api.core.v1.TypedLocalObjectReference",
		"io.k8s.api.discovery.v1.EndpointPort",
		"io.k8s.api.networking.v1.ServiceBackendPort",
		"io.k8s.api.rbac.v1.RoleRef",
		"io.k8s.api.rbac.v1.Subject",
		"io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
		"io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference":
		return true
	}
	return false
}

// isAtomicMap reports whether upstream marks the map field (definition name
// and json field) +mapType=atomic.
func isAtomicMap(field string) bool {
	switch field {
	case "io.k8s.api.core.v1.PodSpec.nodeSelector",
		"io.k8s.api.core.v1.ReplicationControllerSpec.selector",
		"io.k8s.api.core.v1.ServiceSpec.selector":
		return true
	}
	return false
}

package registry

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// coreNodeResource is core/v1 nodes. Unlike most resources, a node may
// carry its status on create (the kubelet registers with it).
func coreNodeResource() *Resource {
	return &Resource{
		Version: "v1", Kind: "Node", Plural: "nodes", Singular: "node",
		// Each kubelet watches its own Node.
		WatchIndex: "metadata.name",
		ShortNames: []string{"no"},
		New:        func() runtime.Object { return &corev1.Node{} },
		NewList:    func() runtime.Object { return &corev1.NodeList{} },
		Default:    func(obj runtime.Object) { defaultCoreNode(obj.(*corev1.Node)) },
		PrepareForUpdate: func(obj, old runtime.Object) {
			obj.(*corev1.Node).Status = old.(*corev1.Node).Status
		},
		Validate: func(obj runtime.Object) field.ErrorList { return validateCoreNode(obj.(*corev1.Node)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			node, oldNode := obj.(*corev1.Node), old.(*corev1.Node)
			return append(validateCoreNode(node), validateCoreNodeUpdate(node, oldNode)...)
		},
		Status: &StatusSubresource{
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				return validateCoreNodeStatus(obj.(*corev1.Node))
			},
		},
		Table: coreNodeTable(),
		Fields: func(obj runtime.Object) fields.Set {
			if obj.(*corev1.Node).Spec.Unschedulable {
				return fields.Set{"spec.unschedulable": "true"}
			}
			return fields.Set{"spec.unschedulable": "false"}
		},
	}
}

func defaultCoreNode(node *corev1.Node) {
	if node.Spec.PodCIDR != "" && len(node.Spec.PodCIDRs) == 0 {
		node.Spec.PodCIDRs = []string{node.Spec.PodCIDR}
	}
	if node.Spec.PodCIDR == "" && len(node.Spec.PodCIDRs) > 0 {
		node.Spec.PodCIDR = node.Spec.PodCIDRs[0]
	}
	if node.Status.Allocatable == nil && node.Status.Capacity != nil {
		node.Status.Allocatable = node.Status.Capacity.DeepCopy()
	}
}

var coreTaintEffects = []corev1.TaintEffect{corev1.TaintEffectNoExecute, corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule}

func validateCoreNode(node *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	specPath := field.NewPath("spec")
	cidrsPath := specPath.Child("podCIDRs")
	for i, c := range node.Spec.PodCIDRs {
		errs = append(errs, validation.IsValidCIDRForLegacyField(cidrsPath.Index(i), c, true, nil)...)
	}
	if len(node.Spec.PodCIDRs) > 0 && node.Spec.PodCIDR != node.Spec.PodCIDRs[0] {
		errs = append(errs, field.Invalid(specPath.Child("podCIDR"), node.Spec.PodCIDR, "must match the first element of `podCIDRs`"))
	}
	if len(node.Spec.PodCIDRs) > 2 {
		errs = append(errs, field.Invalid(cidrsPath, node.Spec.PodCIDRs, "may specify no more than one CIDR for each IP family"))
	}
	type taintKey struct {
		key    string
		effect corev1.TaintEffect
	}
	seen := map[taintKey]bool{}
	for i, t := range node.Spec.Taints {
		p := specPath.Child("taints").Index(i)
		errs = append(errs, metav1validation.ValidateLabelName(t.Key, p.Child("key"))...)
		if msgs := validation.IsValidLabelValue(t.Value); len(msgs) != 0 {
			errs = append(errs, field.Invalid(p.Child("value"), t.Value, strings.Join(msgs, ";")))
		}
		switch {
		case t.Effect == "":
			errs = append(errs, field.Required(p.Child("effect"), ""))
		case !slices.Contains(coreTaintEffects, t.Effect):
			errs = append(errs, field.NotSupported(p.Child("effect"), t.Effect, coreTaintEffects))
		}
		k := taintKey{t.Key, t.Effect}
		if seen[k] {
			dup := field.Duplicate(p, t)
			dup.Detail = "taints must be unique by key and effect pair"
			errs = append(errs, dup)
		}
		seen[k] = true
	}
	return append(errs, validateCoreNodeStatus(node)...)
}

// validateCoreNodeUpdate: podCIDRs and providerID may be set once.
func validateCoreNodeUpdate(node, old *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	if len(old.Spec.PodCIDRs) > 0 && !slices.Equal(old.Spec.PodCIDRs, node.Spec.PodCIDRs) {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"))
	}
	if old.Spec.ProviderID != "" && old.Spec.ProviderID != node.Spec.ProviderID {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	return errs
}

func validateCoreNodeStatus(node *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	statusPath := field.NewPath("status")
	for _, list := range []struct {
		name string
		l    corev1.ResourceList
	}{{"capacity", node.Status.Capacity}, {"allocatable", node.Status.Allocatable}} {
		for name, q := range list.l {
			if q.Sign() < 0 {
				errs = append(errs, field.Invalid(statusPath.Child(list.name).Key(string(name)), q.String(), "must be greater than or equal to 0"))
			}
		}
	}
	for i, a := range node.Status.Addresses {
		if a.Type == "" {
			errs = append(errs, field.Required(statusPath.Child("addresses").Index(i).Child("type"), ""))
		}
	}
	return errs
}

// coreNodeTable prints NAME STATUS ROLES AGE VERSION and, with -o wide,
// INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME.
func coreNodeTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			column("Status", "string", "The status of the node", 0),
			column("Roles", "string", "The roles of the node", 0),
			ageColumn,
			column("Version", "string", "Kubelet Version reported by the node.", 0),
			column("Internal-IP", "string", "List of addresses reachable to the node. Queried from cloud provider, if available.", 1),
			column("External-IP", "string", "List of addresses reachable to the node. Queried from cloud provider, if available.", 1),
			column("OS-Image", "string", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).", 1),
			column("Kernel-Version", "string", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
			column("Container-Runtime", "string", "Container runtime version reported by the node through runtime remote API (e.g. containerd://1.4.2).", 1),
		},
		Row: func(obj runtime.Object) []any {
			node := obj.(*corev1.Node)
			info := node.Status.NodeInfo
			return []any{coreNodeStatus(node), coreNodeRoles(node), age(node.CreationTimestamp), info.KubeletVersion,
				coreNodeAddress(node, corev1.NodeInternalIP), coreNodeAddress(node, corev1.NodeExternalIP),
				coreUnknownIfEmpty(info.OSImage), coreUnknownIfEmpty(info.KernelVersion), coreUnknownIfEmpty(info.ContainerRuntimeVersion)}
		},
	}
}

// coreNodeStatus is "Ready", "NotReady" (also for an Unknown condition) or
// "Unknown" (no Ready condition), plus ",SchedulingDisabled".
func coreNodeStatus(node *corev1.Node) string {
	status := "Unknown"
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status == corev1.ConditionTrue {
				status = "Ready"
			} else {
				status = "NotReady"
			}
			break
		}
	}
	if node.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	return status
}

// coreNodeRoles lists the roles from node-role.kubernetes.io/<role> and
// kubernetes.io/role labels, sorted; "<none>" without any.
func coreNodeRoles(node *corev1.Node) string {
	var roles []string
	for k, v := range node.Labels {
		switch {
		case strings.HasPrefix(k, "node-role.kubernetes.io/"):
			if role := strings.TrimPrefix(k, "node-role.kubernetes.io/"); role != "" {
				roles = append(roles, role)
			}
		case k == "kubernetes.io/role" && v != "":
			roles = append(roles, v)
		}
	}
	if len(roles) == 0 {
		return "<none>"
	}
	slices.Sort(roles)
	return strings.Join(slices.Compact(roles), ",")
}

func coreNodeAddress(node *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range node.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return "<none>"
}

func coreUnknownIfEmpty(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}

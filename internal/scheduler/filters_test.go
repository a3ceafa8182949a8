package scheduler

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestFilters(t *testing.T) {
	required := func(terms ...corev1.NodeSelectorTerm) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms},
			}}
		}
	}
	expr := func(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: key, Operator: op, Values: values}}}
	}
	tolerate := func(ts ...corev1.Toleration) func(*corev1.Pod) {
		return func(p *corev1.Pod) { p.Spec.Tolerations = ts }
	}
	hostPort := func(ip string, port int32) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{ContainerPort: 80, HostPort: port, HostIP: ip})
		}
	}
	antiAffinity := func(key string, kv ...string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{kv[0]: kv[1]}}, TopologyKey: key,
				}},
			}}
		}
	}
	affinity := func(key string, kv ...string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{kv[0]: kv[1]}}, TopologyKey: key,
				}},
			}}
		}
	}
	gpu := func(n string) func(*corev1.Node) {
		return func(node *corev1.Node) { node.Status.Allocatable["example.com/gpu"] = resource.MustParse(n) }
	}
	wantsGPU := func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources.Requests["example.com/gpu"] = resource.MustParse("1")
	}
	const host = corev1.LabelHostname

	tests := []struct {
		name   string
		filter filterPlugin
		node   *corev1.Node
		others []*corev1.Node // more nodes in the cluster
		bound  []*corev1.Pod  // pods already on the nodes
		pod    *corev1.Pod
		want   string // reasons joined by "; "
	}{
		{"schedulable", nodeUnschedulable{}, testNode("n", "1", "1Gi"), nil, nil, testPod("p", "", ""), ""},
		{"cordoned", nodeUnschedulable{}, testNode("n", "1", "1Gi", func(n *corev1.Node) { n.Spec.Unschedulable = true }), nil, nil,
			testPod("p", "", ""), reasonUnschedulable},
		{"cordoned, tolerated", nodeUnschedulable{}, testNode("n", "1", "1Gi", func(n *corev1.Node) { n.Spec.Unschedulable = true }), nil, nil,
			testPod("p", "", "", tolerate(corev1.Toleration{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists})), ""},

		{"nodeName matches", nodeName{}, testNode("n", "1", "1Gi"), nil, nil, testPod("p", "", "", onNode("n")), ""},
		{"nodeName differs", nodeName{}, testNode("n", "1", "1Gi"), nil, nil, testPod("p", "", "", onNode("m")), reasonNodeName},

		{"ready", nodeReady{}, testNode("n", "1", "1Gi"), nil, nil, testPod("p", "", ""), ""},
		{"not ready", nodeReady{}, testNode("n", "1", "1Gi", func(n *corev1.Node) { n.Status.Conditions[0].Status = corev1.ConditionFalse }), nil, nil,
			testPod("p", "", ""), "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"},
		{"no Ready condition", nodeReady{}, testNode("n", "1", "1Gi", func(n *corev1.Node) { n.Status.Conditions = nil }), nil, nil,
			testPod("p", "", ""), "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"},
		{"unknown", nodeReady{}, testNode("n", "1", "1Gi", func(n *corev1.Node) { n.Status.Conditions[0].Status = corev1.ConditionUnknown }), nil, nil,
			testPod("p", "", ""), "node(s) had untolerated taint {node.kubernetes.io/unreachable: }"},
		{"not ready, tolerated", nodeReady{}, testNode("n", "1", "1Gi", func(n *corev1.Node) { n.Status.Conditions[0].Status = corev1.ConditionFalse }), nil, nil,
			testPod("p", "", "", tolerate(corev1.Toleration{Operator: corev1.TolerationOpExists})), ""},

		{"NoSchedule taint", taintToleration{}, testNode("n", "1", "1Gi", taints(corev1.Taint{Key: "k", Value: "v", Effect: corev1.TaintEffectNoSchedule})), nil, nil,
			testPod("p", "", ""), "node(s) had untolerated taint {k: v}"},
		{"NoExecute taint", taintToleration{}, testNode("n", "1", "1Gi", taints(corev1.Taint{Key: "k", Effect: corev1.TaintEffectNoExecute})), nil, nil,
			testPod("p", "", ""), "node(s) had untolerated taint {k: }"},
		{"PreferNoSchedule taint is only a score", taintToleration{}, testNode("n", "1", "1Gi", taints(corev1.Taint{Key: "k", Effect: corev1.TaintEffectPreferNoSchedule})), nil, nil,
			testPod("p", "", ""), ""},
		{"tolerated by value", taintToleration{}, testNode("n", "1", "1Gi", taints(corev1.Taint{Key: "k", Value: "v", Effect: corev1.TaintEffectNoSchedule})), nil, nil,
			testPod("p", "", "", tolerate(corev1.Toleration{Key: "k", Value: "v", Effect: corev1.TaintEffectNoSchedule})), ""},
		{"wrong value", taintToleration{}, testNode("n", "1", "1Gi", taints(corev1.Taint{Key: "k", Value: "v", Effect: corev1.TaintEffectNoSchedule})), nil, nil,
			testPod("p", "", "", tolerate(corev1.Toleration{Key: "k", Value: "w"})), "node(s) had untolerated taint {k: v}"},
		{"wrong effect", taintToleration{}, testNode("n", "1", "1Gi", taints(corev1.Taint{Key: "k", Effect: corev1.TaintEffectNoExecute})), nil, nil,
			testPod("p", "", "", tolerate(corev1.Toleration{Key: "k", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})),
			"node(s) had untolerated taint {k: }"},
		{"second taint untolerated", taintToleration{}, testNode("n", "1", "1Gi", taints(
			corev1.Taint{Key: "a", Effect: corev1.TaintEffectNoSchedule}, corev1.Taint{Key: "b", Value: "x", Effect: corev1.TaintEffectNoSchedule})), nil, nil,
			testPod("p", "", "", tolerate(corev1.Toleration{Key: "a", Operator: corev1.TolerationOpExists})), "node(s) had untolerated taint {b: x}"},

		{"nodeSelector matches", nodeAffinity{}, testNode("n", "1", "1Gi", nodeLabels("disk", "ssd")), nil, nil,
			testPod("p", "", "", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} }), ""},
		{"nodeSelector differs", nodeAffinity{}, testNode("n", "1", "1Gi", nodeLabels("disk", "hdd")), nil, nil,
			testPod("p", "", "", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} }), reasonNodeAffinity},
		{"In", nodeAffinity{}, testNode("n", "1", "1Gi", nodeLabels("zone", "b")), nil, nil,
			testPod("p", "", "", required(expr("zone", corev1.NodeSelectorOpIn, "a", "b"))), ""},
		{"In, no match", nodeAffinity{}, testNode("n", "1", "1Gi", nodeLabels("zone", "c")), nil, nil,
			testPod("p", "", "", required(expr("zone", corev1.NodeSelectorOpIn, "a", "b"))), reasonNodeAffinity},
		{"NotIn", nodeAffinity{}, testNode("n", "1", "1Gi", nodeLabels("zone", "c")), nil, nil,
			testPod("p", "", "", required(expr("zone", corev1.NodeSelectorOpNotIn, "a"))), ""},
		{"NotIn, excluded", nodeAffinity{}, testNode("n", "1", "1Gi", nodeLabels("zone", "a")), nil, nil,
			testPod("p", "", "", required(expr("zone", corev1.NodeSelectorOpNotIn, "a"))), reasonNodeAffinity},
		{"Exists", nodeAffinity{}, testNode("n", "1", "1Gi", nodeLabels("gpu", "")), nil, nil,
			testPod("p", "", "", required(expr("gpu", corev1.NodeSelectorOpExists))), ""},
		{"DoesNotExist", nodeAffinity{}, testNode("n", "1", "1Gi", nodeLabels("gpu", "")), nil, nil,
			testPod("p", "", "", required(expr("gpu", corev1.NodeSelectorOpDoesNotExist))), reasonNodeAffinity},
		{"Gt", nodeAffinity{}, testNode("n", "1", "1Gi", nodeLabels("cores", "8")), nil, nil,
			testPod("p", "", "", required(expr("cores", corev1.NodeSelectorOpGt, "4"))), ""},
		{"Lt fails", nodeAffinity{}, testNode("n", "1", "1Gi", nodeLabels("cores", "8")), nil, nil,
			testPod("p", "", "", required(expr("cores", corev1.NodeSelectorOpLt, "4"))), reasonNodeAffinity},
		{"Gt with a non-number", nodeAffinity{}, testNode("n", "1", "1Gi", nodeLabels("cores", "8")), nil, nil,
			testPod("p", "", "", required(expr("cores", corev1.NodeSelectorOpGt, "many"))), reasonNodeAffinity},
		{"terms are ORed", nodeAffinity{}, testNode("n", "1", "1Gi", nodeLabels("zone", "b")), nil, nil,
			testPod("p", "", "", required(expr("zone", corev1.NodeSelectorOpIn, "a"), expr("zone", corev1.NodeSelectorOpIn, "b"))), ""},
		{"empty term matches nothing", nodeAffinity{}, testNode("n", "1", "1Gi"), nil, nil,
			testPod("p", "", "", required(corev1.NodeSelectorTerm{})), reasonNodeAffinity},
		{"matchFields metadata.name", nodeAffinity{}, testNode("n", "1", "1Gi"), nil, nil,
			testPod("p", "", "", required(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{
				{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"n"}}}})), ""},
		{"matchFields other node", nodeAffinity{}, testNode("n", "1", "1Gi"), nil, nil,
			testPod("p", "", "", required(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{
				{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"m"}}}})), reasonNodeAffinity},

		{"free host port", hostPorts{}, testNode("n", "1", "1Gi"), nil, []*corev1.Pod{testPod("b", "", "", onNode("n"), hostPort("", 8080))},
			testPod("p", "", "", hostPort("", 8081)), ""},
		{"host port taken", hostPorts{}, testNode("n", "1", "1Gi"), nil, []*corev1.Pod{testPod("b", "", "", onNode("n"), hostPort("", 8080))},
			testPod("p", "", "", hostPort("10.0.0.1", 8080)), reasonHostPorts},
		{"host port on another IP", hostPorts{}, testNode("n", "1", "1Gi"), nil, []*corev1.Pod{testPod("b", "", "", onNode("n"), hostPort("10.0.0.2", 8080))},
			testPod("p", "", "", hostPort("10.0.0.1", 8080)), ""},
		{"0.0.0.0 takes every IP", hostPorts{}, testNode("n", "1", "1Gi"), nil, []*corev1.Pod{testPod("b", "", "", onNode("n"), hostPort("10.0.0.2", 8080))},
			testPod("p", "", "", hostPort("0.0.0.0", 8080)), reasonHostPorts},
		{"host port on another node", hostPorts{}, testNode("n", "1", "1Gi"), []*corev1.Node{testNode("m", "1", "1Gi")},
			[]*corev1.Pod{testPod("b", "", "", onNode("m"), hostPort("", 8080))}, testPod("p", "", "", hostPort("", 8080)), ""},

		{"fits", resourcesFit{}, testNode("n", "2", "2Gi"), nil, []*corev1.Pod{testPod("b", "1", "1Gi", onNode("n"))},
			testPod("p", "1", "1Gi"), ""},
		{"insufficient cpu", resourcesFit{}, testNode("n", "2", "2Gi"), nil, []*corev1.Pod{testPod("b", "1500m", "1Gi", onNode("n"))},
			testPod("p", "1", "1Gi"), "Insufficient cpu"},
		{"insufficient cpu and memory", resourcesFit{}, testNode("n", "2", "2Gi"), nil, []*corev1.Pod{testPod("b", "1500m", "1500Mi", onNode("n"))},
			testPod("p", "1", "1Gi"), "Insufficient cpu; Insufficient memory"},
		{"terminated pods free room", resourcesFit{}, testNode("n", "2", "2Gi"), nil,
			[]*corev1.Pod{testPod("b", "2", "2Gi", onNode("n"), func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded })},
			testPod("p", "1", "1Gi"), ""},
		{"zero request fits a full node", resourcesFit{}, testNode("n", "2", "2Gi"), nil, []*corev1.Pod{testPod("b", "2", "2Gi", onNode("n"))},
			testPod("p", "", ""), ""},
		{"too many pods", resourcesFit{}, testNode("n", "2", "2Gi", func(n *corev1.Node) { n.Status.Allocatable[corev1.ResourcePods] = resource.MustParse("1") }), nil,
			[]*corev1.Pod{testPod("b", "", "", onNode("n"))}, testPod("p", "", ""), reasonTooManyPods},
		{"ephemeral storage", resourcesFit{}, testNode("n", "2", "2Gi", func(n *corev1.Node) {
			n.Status.Allocatable[corev1.ResourceEphemeralStorage] = resource.MustParse("1Gi")
		}), nil, nil, testPod("p", "", "", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests[corev1.ResourceEphemeralStorage] = resource.MustParse("2Gi")
		}), "Insufficient ephemeral-storage"},
		{"extended resource missing", resourcesFit{}, testNode("n", "2", "2Gi"), nil, nil, testPod("p", "", "", wantsGPU), "Insufficient example.com/gpu"},
		{"extended resource used", resourcesFit{}, testNode("n", "2", "2Gi", gpu("1")), nil, []*corev1.Pod{testPod("b", "", "", onNode("n"), wantsGPU)},
			testPod("p", "", "", wantsGPU), "Insufficient example.com/gpu"},
		{"extended resource free", resourcesFit{}, testNode("n", "2", "2Gi", gpu("2")), nil, []*corev1.Pod{testPod("b", "", "", onNode("n"), wantsGPU)},
			testPod("p", "", "", wantsGPU), ""},
		{"init container peak", resourcesFit{}, testNode("n", "2", "2Gi"), nil, nil, testPod("p", "1", "", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "i", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3")}}}}
		}), "Insufficient cpu"},
		{"overhead counts", resourcesFit{}, testNode("n", "2", "2Gi"), nil, nil, testPod("p", "2", "", func(p *corev1.Pod) {
			p.Spec.Overhead = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}
		}), "Insufficient cpu"},

		{"anti-affinity by hostname", interPodAffinity{}, testNode("n", "1", "1Gi"), []*corev1.Node{testNode("m", "1", "1Gi")},
			[]*corev1.Pod{testPod("b", "", "", onNode("n"), withLabels("app", "web"))},
			testPod("p", "", "", antiAffinity(host, "app", "web")), reasonPodAntiAffinity},
		{"anti-affinity, other node", interPodAffinity{}, testNode("m", "1", "1Gi"), []*corev1.Node{testNode("n", "1", "1Gi")},
			[]*corev1.Pod{testPod("b", "", "", onNode("n"), withLabels("app", "web"))},
			testPod("p", "", "", antiAffinity(host, "app", "web")), ""},
		{"anti-affinity, other namespace", interPodAffinity{}, testNode("n", "1", "1Gi"), nil,
			[]*corev1.Pod{testPod("b", "", "", onNode("n"), withLabels("app", "web"), func(p *corev1.Pod) { p.Namespace = "other" })},
			testPod("p", "", "", antiAffinity(host, "app", "web")), ""},
		{"anti-affinity by zone", interPodAffinity{}, testNode("m", "1", "1Gi", nodeLabels("zone", "a")), []*corev1.Node{testNode("n", "1", "1Gi", nodeLabels("zone", "a"))},
			[]*corev1.Pod{testPod("b", "", "", onNode("n"), withLabels("app", "web"))},
			testPod("p", "", "", antiAffinity("zone", "app", "web")), reasonPodAntiAffinity},
		{"existing pod's anti-affinity", interPodAffinity{}, testNode("n", "1", "1Gi"), nil,
			[]*corev1.Pod{testPod("b", "", "", onNode("n"), antiAffinity(host, "app", "web"))},
			testPod("p", "", "", withLabels("app", "web")), reasonExistingAntiAffinity},
		{"affinity satisfied", interPodAffinity{}, testNode("n", "1", "1Gi"), []*corev1.Node{testNode("m", "1", "1Gi")},
			[]*corev1.Pod{testPod("b", "", "", onNode("n"), withLabels("app", "db"))},
			testPod("p", "", "", affinity(host, "app", "db")), ""},
		{"affinity elsewhere", interPodAffinity{}, testNode("m", "1", "1Gi"), []*corev1.Node{testNode("n", "1", "1Gi")},
			[]*corev1.Pod{testPod("b", "", "", onNode("n"), withLabels("app", "db"))},
			testPod("p", "", "", affinity(host, "app", "db")), reasonPodAffinity},
		{"first of a self-affine group", interPodAffinity{}, testNode("m", "1", "1Gi"), nil, nil,
			testPod("p", "", "", withLabels("app", "db"), affinity(host, "app", "db")), ""},
		{"affinity to nothing", interPodAffinity{}, testNode("m", "1", "1Gi"), nil, nil,
			testPod("p", "", "", affinity(host, "app", "db")), reasonPodAffinity},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testCluster(append([]*corev1.Node{tc.node}, tc.others...), tc.bound...)
			cy := newCycle(newPodInfo(tc.pod, nil), c)
			got := strings.Join(tc.filter.filter(cy, c.nodes[tc.node.Name]), "; ")
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

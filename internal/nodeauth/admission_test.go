package nodeauth

import (
	"context"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/k1s/k1s/internal/admission"
)

// write is a write by node n1 unless changed.
func write(op admission.Operation, group, resource, sub, ns, name string, obj, old runtime.Object) *admission.Attributes {
	return &admission.Attributes{
		Operation: op, Resource: schema.GroupVersionResource{Group: group, Version: "v1", Resource: resource},
		Subresource: sub, Namespace: ns, Name: name, Object: obj, OldObject: old,
		User: "system:node:n1", Groups: []string{"system:nodes", "system:authenticated"},
	}
}

func by(a *admission.Attributes, user string, groups ...string) *admission.Attributes {
	a.User, a.Groups = user, groups
	return a
}

func node(name string, labels map[string]string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

// mirror is a mirror pod of n1 as upstream's kubelet creates it.
func mirror(change func(*corev1.Pod)) *corev1.Pod {
	yes := true
	p := pod("default", "static-n1", "n1", corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}})
	p.UID = ""
	p.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "hash"}
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: "n1", UID: "node-uid-n1", Controller: &yes}}
	if change != nil {
		change(p)
	}
	return p
}

func withLabels(p *corev1.Pod, labels map[string]string) *corev1.Pod {
	p = p.DeepCopy()
	p.Labels = labels
	return p
}

func tokenRequest(kind, name string, uid types.UID) *authenticationv1.TokenRequest {
	tr := &authenticationv1.TokenRequest{}
	if kind != "" {
		tr.Spec.BoundObjectRef = &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: kind, Name: name, UID: uid}
	}
	return tr
}

func lease(name string) *coordinationv1.Lease {
	return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-node-lease", Name: name}}
}

func TestValidate(t *testing.T) {
	web := webPod()
	other := pod("default", "other", "n2", corev1.PodSpec{})
	pvc := claim("default", "data", "pv-data")
	grown := pvc.DeepCopy()
	grown.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")}
	grown.Status.Conditions = []corev1.PersistentVolumeClaimCondition{{Type: corev1.PersistentVolumeClaimResizing, Status: corev1.ConditionTrue}}
	relabeled := grown.DeepCopy()
	relabeled.Labels = map[string]string{"x": "y"}
	rebound := pvc.DeepCopy()
	rebound.Spec.VolumeName = "pv-other"

	const (
		allowed  = ""
		notFound = "not found"
	)
	tests := []struct {
		name string
		a    *admission.Attributes
		want string // "" admit, else a substring of the error
	}{
		// Not nodes.
		{"admin updates another node", by(write(admission.Update, "", "nodes", "", "", "n2", node("n2", nil), node("n2", nil)), "system:admin", "system:masters"), allowed},
		{"admin creates any pod", by(write(admission.Create, "", "pods", "", "default", "", pod("default", "x", "n2", corev1.PodSpec{}), nil), "system:admin", "system:masters"), allowed},
		{"user in system:nodes without a node name", by(write(admission.Update, "", "nodes", "", "", "n2", node("n2", nil), node("n2", nil)), "alice", "system:nodes"), allowed},
		{"node credentials naming no node", by(write(admission.Update, "", "nodes", "", "", "n1", node("n1", nil), node("n1", nil)), "system:node:", "system:nodes"), `could not determine node from user "system:node:"`},

		// Nodes.
		{"create own node", write(admission.Create, "", "nodes", "", "", "", node("n1", map[string]string{"kubernetes.io/hostname": "n1"}), nil), allowed},
		{"create another node", write(admission.Create, "", "nodes", "", "", "", node("n2", nil), nil), `node "n1" is not allowed to modify node "n2"`},
		{"update own node", write(admission.Update, "", "nodes", "", "", "n1", node("n1", map[string]string{"a": "b"}), node("n1", nil)), allowed},
		{"update another node", write(admission.Update, "", "nodes", "", "", "n2", node("n2", nil), node("n2", nil)), `node "n1" is not allowed to modify node "n2"`},
		{"another node's status", write(admission.Update, "", "nodes", "status", "", "n2", node("n2", nil), node("n2", nil)), `node "n1" is not allowed to modify node "n2"`},
		{"own status", write(admission.Update, "", "nodes", "status", "", "n1", node("n1", nil), node("n1", nil)), allowed},
		{"delete own node", write(admission.Delete, "", "nodes", "", "", "n1", nil, node("n1", nil)), allowed},
		{"delete another node", write(admission.Delete, "", "nodes", "", "", "n2", nil, node("n2", nil)), `node "n1" is not allowed to modify node "n2"`},
		{"register with a restricted label", write(admission.Create, "", "nodes", "", "", "", node("n1", map[string]string{"node-restriction.kubernetes.io/pci": "yes"}), nil),
			`node "n1" is not allowed to set the following labels: node-restriction.kubernetes.io/pci`},
		{"add a restricted subdomain label", write(admission.Update, "", "nodes", "", "", "n1", node("n1", map[string]string{"a.node-restriction.kubernetes.io/x": "1"}), node("n1", nil)),
			"is not allowed to modify labels: a.node-restriction.kubernetes.io/x"},
		{"remove a restricted label", write(admission.Update, "", "nodes", "", "", "n1", node("n1", nil), node("n1", map[string]string{"node-restriction.kubernetes.io/pci": "yes"})),
			"is not allowed to modify labels: node-restriction.kubernetes.io/pci"},
		{"keep a restricted label", write(admission.Update, "", "nodes", "status", "", "n1",
			node("n1", map[string]string{"node-restriction.kubernetes.io/pci": "yes", "a": "c"}),
			node("n1", map[string]string{"node-restriction.kubernetes.io/pci": "yes", "a": "b"})), allowed},
		{"lookalike label", write(admission.Update, "", "nodes", "", "", "n1", node("n1", map[string]string{"xnode-restriction.kubernetes.io/x": "1"}), node("n1", nil)), allowed},

		// Pods.
		{"create a mirror pod", write(admission.Create, "", "pods", "", "default", "", mirror(nil), nil), allowed},
		{"create a regular pod", write(admission.Create, "", "pods", "", "default", "", pod("default", "x", "n1", corev1.PodSpec{}), nil),
			`pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only create mirror pods`},
		{"mirror pod for another node", write(admission.Create, "", "pods", "", "default", "", mirror(func(p *corev1.Pod) { p.Spec.NodeName = "n2" }), nil),
			`node "n1" can only create pods with spec.nodeName set to itself`},
		{"mirror pod without owner", write(admission.Create, "", "pods", "", "default", "", mirror(func(p *corev1.Pod) { p.OwnerReferences = nil }), nil),
			`node "n1" can only create pods with an owner reference set to itself`},
		{"mirror pod owned by another node", write(admission.Create, "", "pods", "", "default", "", mirror(func(p *corev1.Pod) { p.OwnerReferences[0].Name = "n2" }), nil),
			`node "n1" can only create pods with an owner reference set to itself`},
		{"mirror pod owned by a stale node", write(admission.Create, "", "pods", "", "default", "", mirror(func(p *corev1.Pod) { p.OwnerReferences[0].UID = "old" }), nil),
			"node n1 UID mismatch"},
		{"mirror pod with a secret", write(admission.Create, "", "pods", "", "default", "", mirror(func(p *corev1.Pod) { p.Spec.Volumes = []corev1.Volume{secretVolume("other-secret")} }), nil),
			`node "n1" can not create pods that reference secrets`},
		{"mirror pod with a claim", write(admission.Create, "", "pods", "", "default", "", mirror(func(p *corev1.Pod) { p.Spec.Volumes = []corev1.Volume{claimVolume("other-data")} }), nil),
			`node "n1" can not create pods that reference persistentvolumeclaims`},
		{"mirror pod with a service account", write(admission.Create, "", "pods", "", "default", "", mirror(func(p *corev1.Pod) { p.Spec.ServiceAccountName = "web-sa" }), nil),
			`node "n1" can not create pods that reference a service account`},
		{"mirror pod with a configmap", write(admission.Create, "", "pods", "", "default", "", mirror(func(p *corev1.Pod) {
			p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "vol-cm"}}}}
		}), nil), `node "n1" can not create pods that reference configmaps`},
		{"update a pod", write(admission.Update, "", "pods", "", "default", "web", web, web), `unexpected operation "UPDATE", node "n1" can only create and delete mirror pods`},
		{"delete own pod", write(admission.Delete, "", "pods", "", "default", "web", nil, web), allowed},
		{"delete own pod, old object from the cache", write(admission.Delete, "", "pods", "", "default", "web", nil, nil), allowed},
		{"delete another node's pod", write(admission.Delete, "", "pods", "", "default", "other", nil, other), `node "n1" can only delete pods with spec.nodeName set to itself`},
		{"delete a missing pod", write(admission.Delete, "", "pods", "", "default", "gone", nil, nil), notFound},
		{"own pod status", write(admission.Update, "", "pods", "status", "default", "web", web, web), allowed},
		{"another node's pod status", write(admission.Update, "", "pods", "status", "default", "other", other, other),
			`node "n1" can only update pod status for pods with spec.nodeName set to itself`},
		{"relabel through status", write(admission.Update, "", "pods", "status", "default", "web", withLabels(web, map[string]string{"x": "y"}), web),
			`node "n1" cannot update labels through pod status`},
		{"pod binding", write(admission.Create, "", "pods", "binding", "default", "web", nil, nil), `unexpected pod subresource "binding"`},
		{"evict own pod", write(admission.Create, "", "pods", "eviction", "default", "web", &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "web"}}, web), allowed},
		{"evict own pod, pod from the cache", write(admission.Create, "", "pods", "eviction", "default", "", &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "web"}}, nil), allowed},
		{"evict another node's pod", write(admission.Create, "", "pods", "eviction", "default", "other", &policyv1.Eviction{}, other),
			"node n1 can only evict pods with spec.nodeName set to itself"},
		{"evict another node's pod from the cache", write(admission.Create, "", "pods", "eviction", "default", "other", &policyv1.Eviction{}, nil),
			"node n1 can only evict pods with spec.nodeName set to itself"},
		{"evict nothing", write(admission.Create, "", "pods", "eviction", "default", "", &policyv1.Eviction{}, nil), "could not determine pod from request data"},

		// Claims.
		{"claim capacity and conditions", write(admission.Update, "", "persistentvolumeclaims", "status", "default", "data", grown, pvc), allowed},
		{"claim labels through status", write(admission.Update, "", "persistentvolumeclaims", "status", "default", "data", relabeled, pvc),
			`node "n1" is not allowed to update fields other than status.capacity and status.conditions`},
		{"claim spec through status", write(admission.Update, "", "persistentvolumeclaims", "status", "default", "data", rebound, pvc),
			`node "n1" is not allowed to update fields other than status.capacity and status.conditions`},
		{"update a claim", write(admission.Update, "", "persistentvolumeclaims", "", "default", "data", rebound, pvc), "may only update PVC status"},

		// Service account tokens.
		{"token bound to own pod", write(admission.Create, "", "serviceaccounts", "token", "default", "web-sa", tokenRequest("Pod", "web", "uid-web"), nil), allowed},
		{"unbound token", write(admission.Create, "", "serviceaccounts", "token", "default", "web-sa", tokenRequest("", "", ""), nil), "node requested token not bound to a pod"},
		{"token bound to a secret", write(admission.Create, "", "serviceaccounts", "token", "default", "web-sa", tokenRequest("Secret", "pull", "u"), nil), "node requested token not bound to a pod"},
		{"token without pod uid", write(admission.Create, "", "serviceaccounts", "token", "default", "web-sa", tokenRequest("Pod", "web", ""), nil), "node requested token with a pod binding without a uid"},
		{"token for a recreated pod", write(admission.Create, "", "serviceaccounts", "token", "default", "web-sa", tokenRequest("Pod", "web", "old"), nil), "does not match the UID in record"},
		{"token bound to another node's pod", write(admission.Create, "", "serviceaccounts", "token", "default", "default", tokenRequest("Pod", "other", "uid-other"), nil),
			"node requested token bound to a pod scheduled on a different node"},
		{"token bound to a missing pod", write(admission.Create, "", "serviceaccounts", "token", "default", "default", tokenRequest("Pod", "gone", "u"), nil), notFound},

		// Leases.
		{"create own lease", write(admission.Create, "coordination.k8s.io", "leases", "", "kube-node-lease", "", lease("n1"), nil), allowed},
		{"create another node's lease", write(admission.Create, "coordination.k8s.io", "leases", "", "kube-node-lease", "", lease("n2"), nil),
			"can only access node lease with the same name as the requesting node"},
		{"create with mismatched names", write(admission.Create, "coordination.k8s.io", "leases", "", "kube-node-lease", "n2", lease("n1"), nil),
			"can only access node lease with the same name as the requesting node"},
		{"renew own lease", write(admission.Update, "coordination.k8s.io", "leases", "", "kube-node-lease", "n1", lease("n1"), lease("n1")), allowed},
		{"renew another node's lease", write(admission.Update, "coordination.k8s.io", "leases", "", "kube-node-lease", "n2", lease("n2"), lease("n2")),
			"can only access node lease with the same name as the requesting node"},
		{"delete another node's lease", write(admission.Delete, "coordination.k8s.io", "leases", "", "kube-node-lease", "n2", nil, lease("n2")),
			"can only access node lease with the same name as the requesting node"},
		{"lease elsewhere", write(admission.Update, "coordination.k8s.io", "leases", "", "kube-system", "n1", lease("n1"), lease("n1")),
			`can only access leases in the "kube-node-lease" system namespace`},

		// CSINodes.
		{"own csinode", write(admission.Create, "storage.k8s.io", "csinodes", "", "", "", &storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, nil), allowed},
		{"another node's csinode", write(admission.Update, "storage.k8s.io", "csinodes", "", "", "n2", &storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: "n2"}}, nil),
			"can only access CSINode with the same name as the requesting node"},

		// Everything else.
		{"event", write(admission.Create, "", "events", "", "default", "", &corev1.Event{}, nil), allowed},
		{"exec", write(admission.Connect, "", "pods", "exec", "default", "other", nil, nil), allowed},
	}
	r, err := NewAdmission(standardWorld(t).options())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := r.Validate(context.Background(), tt.a)
			switch {
			case tt.want == allowed:
				if err != nil {
					t.Errorf("Validate: %v, want admitted", err)
				}
			case err == nil:
				t.Errorf("Validate admitted, want %q", tt.want)
			case tt.want == notFound:
				if !apierrors.IsNotFound(err) {
					t.Errorf("Validate: %v, want NotFound", err)
				}
			default:
				if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("Validate: %v, want Forbidden containing %q", err, tt.want)
				}
			}
		})
	}
}

// TestForbiddenShape: refusals are upstream's StatusErrors, naming the
// resource and the object.
func TestForbiddenShape(t *testing.T) {
	r, err := NewAdmission(standardWorld(t).options())
	if err != nil {
		t.Fatal(err)
	}
	err = r.Validate(context.Background(), write(admission.Update, "", "pods", "status", "default", "other",
		pod("default", "other", "n2", corev1.PodSpec{}), pod("default", "other", "n2", corev1.PodSpec{})))
	const want = `pods "other" is forbidden: node "n1" can only update pod status for pods with spec.nodeName set to itself`
	if err == nil || err.Error() != want {
		t.Errorf("Validate = %v, want %s", err, want)
	}
	err = r.Validate(context.Background(), write(admission.Create, "", "pods", "", "default", "", pod("default", "x", "n1", corev1.PodSpec{}), nil))
	const wantCreate = `pods "x" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only create mirror pods`
	if err == nil || err.Error() != wantCreate {
		t.Errorf("Validate = %v, want %s", err, wantCreate)
	}
}

package nodeauth

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/k1s/k1s/internal/authz"
)

// req is a resource request by node n1 unless changed.
func req(verb, group, resource, sub, ns, name string) authz.Attributes {
	return authz.Attributes{
		User: "system:node:n1", Groups: []string{"system:nodes", "system:authenticated"},
		Verb: verb, ResourceRequest: true, APIGroup: group, Resource: resource, Subresource: sub,
		Namespace: ns, Name: name,
	}
}

func as(a authz.Attributes, user string, groups ...string) authz.Attributes {
	a.User, a.Groups = user, groups
	return a
}

const unrelated = "no relationship found between node 'n1' and this object"

func TestAuthorize(t *testing.T) {
	tests := []struct {
		name   string
		a      authz.Attributes
		want   authz.Decision
		reason string
	}{
		// Not a node, or no node name.
		{"admin", as(req("get", "", "secrets", "", "default", "other-secret"), "system:admin", "system:masters"), authz.NoOpinion, ""},
		{"node name without group", as(req("get", "", "secrets", "", "default", "vol-secret"), "system:node:n1", "system:authenticated"), authz.NoOpinion, ""},
		{"group without node name", as(req("get", "", "nodes", "", "", "n1"), "alice", "system:nodes"), authz.NoOpinion, ""},
		{"empty node name", as(req("get", "", "nodes", "", "", "n1"), "system:node:", "system:nodes"), authz.NoOpinion, `unknown node for user "system:node:"`},
		{"service account", as(req("get", "", "pods", "", "default", "web"), "system:serviceaccount:default:web-sa", "system:serviceaccounts"), authz.NoOpinion, ""},

		// Secrets: every way a pod on n1 references one.
		{"secret volume", req("get", "", "secrets", "", "default", "vol-secret"), authz.Allow, ""},
		{"image pull secret", req("get", "", "secrets", "", "default", "pull"), authz.Allow, ""},
		{"env secret", req("get", "", "secrets", "", "default", "env-secret"), authz.Allow, ""},
		{"init envFrom secret", req("get", "", "secrets", "", "default", "init-secret"), authz.Allow, ""},
		{"projected secret", req("get", "", "secrets", "", "default", "proj-secret"), authz.Allow, ""},
		{"csi secret", req("get", "", "secrets", "", "default", "csi-secret"), authz.Allow, ""},
		{"other namespace's pod on n1", req("get", "", "secrets", "", "kube-system", "sys-secret"), authz.Allow, ""},
		{"watch one secret", req("watch", "", "secrets", "", "default", "vol-secret"), authz.Allow, ""},
		{"list one secret", req("list", "", "secrets", "", "default", "vol-secret"), authz.Allow, ""},
		{"secret of another node's pod", req("get", "", "secrets", "", "default", "other-secret"), authz.NoOpinion, unrelated},
		{"secret of an unbound pod", req("get", "", "secrets", "", "default", "pending-secret"), authz.NoOpinion, unrelated},
		{"same name, wrong namespace", req("get", "", "secrets", "", "kube-system", "vol-secret"), authz.NoOpinion, unrelated},
		{"configmap name is not a secret", req("get", "", "secrets", "", "default", "vol-cm"), authz.NoOpinion, unrelated},
		{"list all secrets", req("list", "", "secrets", "", "default", ""), authz.NoOpinion, "No Object name found"},
		{"watch secrets cluster-wide", req("watch", "", "secrets", "", "", ""), authz.NoOpinion, "can only read namespaced object of this type"},
		{"update a referenced secret", req("update", "", "secrets", "", "default", "vol-secret"), authz.NoOpinion, "can only read resources of this type"},
		{"create a secret", req("create", "", "secrets", "", "default", ""), authz.NoOpinion, "can only read resources of this type"},

		// Config maps.
		{"configmap volume", req("get", "", "configmaps", "", "default", "vol-cm"), authz.Allow, ""},
		{"envFrom configmap", req("get", "", "configmaps", "", "default", "env-cm"), authz.Allow, ""},
		{"ephemeral container configmap", req("get", "", "configmaps", "", "default", "eph-cm"), authz.Allow, ""},
		{"projected configmap", req("watch", "", "configmaps", "", "default", "kube-root-ca.crt"), authz.Allow, ""},
		{"unreferenced configmap", req("get", "", "configmaps", "", "default", "nope"), authz.NoOpinion, unrelated},
		{"secret name is not a configmap", req("get", "", "configmaps", "", "default", "vol-secret"), authz.NoOpinion, unrelated},
		{"list configmaps", req("list", "", "configmaps", "", "default", ""), authz.NoOpinion, "No Object name found"},

		// Claims and volumes.
		{"claim", req("get", "", "persistentvolumeclaims", "", "default", "data"), authz.Allow, ""},
		{"ephemeral volume's claim", req("get", "", "persistentvolumeclaims", "", "default", "web-scratch"), authz.Allow, ""},
		{"another node's claim", req("get", "", "persistentvolumeclaims", "", "default", "other-data"), authz.NoOpinion, unrelated},
		{"list claims", req("list", "", "persistentvolumeclaims", "", "default", ""), authz.NoOpinion, "can only get individual resources of this type"},
		{"claim status", req("patch", "", "persistentvolumeclaims", "status", "default", "data"), authz.Allow, ""},
		{"another node's claim status", req("update", "", "persistentvolumeclaims", "status", "default", "other-data"), authz.NoOpinion, unrelated},
		{"get claim status", req("get", "", "persistentvolumeclaims", "status", "default", "data"), authz.NoOpinion, "can only get/update/patch this type"},
		{"volume named by the claim", req("get", "", "persistentvolumes", "", "", "pv-data"), authz.Allow, ""},
		{"volume naming the claim", req("get", "", "persistentvolumes", "", "", "pv-scratch"), authz.Allow, ""},
		{"another node's volume", req("get", "", "persistentvolumes", "", "", "pv-other"), authz.NoOpinion, unrelated},
		{"unbound volume", req("get", "", "persistentvolumes", "", "", "pv-free"), authz.NoOpinion, unrelated},
		{"missing volume", req("get", "", "persistentvolumes", "", "", "pv-missing"), authz.NoOpinion, unrelated},
		{"delete a volume", req("delete", "", "persistentvolumes", "", "", "pv-data"), authz.NoOpinion, "can only get individual resources of this type"},

		// Service account tokens.
		{"token of a pod's service account", req("create", "", "serviceaccounts", "token", "default", "web-sa"), authz.Allow, ""},
		{"token of the default account", as(req("create", "", "serviceaccounts", "token", "default", "default"), "system:node:n2", "system:nodes"), authz.Allow, ""},
		{"token of an account no pod here uses", req("create", "", "serviceaccounts", "token", "default", "default"), authz.NoOpinion, unrelated},
		{"token in another namespace", req("create", "", "serviceaccounts", "token", "kube-system", "web-sa"), authz.NoOpinion, unrelated},
		{"get a service account", req("get", "", "serviceaccounts", "", "default", "web-sa"), authz.NoOpinion, "can only create tokens for individual service accounts"},
		{"create a service account", req("create", "", "serviceaccounts", "", "default", "web-sa"), authz.NoOpinion, "can only create token subresource of serviceaccount"},

		// Leases.
		{"own lease get", req("get", "coordination.k8s.io", "leases", "", "kube-node-lease", "n1"), authz.Allow, ""},
		{"own lease update", req("update", "coordination.k8s.io", "leases", "", "kube-node-lease", "n1"), authz.Allow, ""},
		{"lease create", req("create", "coordination.k8s.io", "leases", "", "kube-node-lease", ""), authz.Allow, ""},
		{"other node's lease", req("update", "coordination.k8s.io", "leases", "", "kube-node-lease", "n2"), authz.NoOpinion, "can only access node lease with the same name as the requesting node"},
		{"lease elsewhere", req("get", "coordination.k8s.io", "leases", "", "kube-system", "n1"), authz.NoOpinion, `can only access leases in the "kube-node-lease" system namespace`},
		{"list leases", req("list", "coordination.k8s.io", "leases", "", "kube-node-lease", ""), authz.NoOpinion, "can only get, create, update, patch, or delete a node lease"},

		// Static rules.
		{"get own node", req("get", "", "nodes", "", "", "n1"), authz.Allow, ""},
		{"watch nodes", req("watch", "", "nodes", "", "", ""), authz.Allow, ""},
		{"create node", req("create", "", "nodes", "", "", ""), authz.Allow, ""},
		{"node status", req("patch", "", "nodes", "status", "", "n1"), authz.Allow, ""},
		{"node proxy", req("get", "", "nodes", "proxy", "", "n1"), authz.NoOpinion, ""},
		{"list pods", req("list", "", "pods", "", "", ""), authz.Allow, ""},
		{"pod status", req("update", "", "pods", "status", "default", "web"), authz.Allow, ""},
		{"delete pod", req("delete", "", "pods", "", "default", "web"), authz.Allow, ""},
		{"update pod", req("update", "", "pods", "", "default", "web"), authz.NoOpinion, ""},
		{"exec into pod", req("create", "", "pods", "exec", "default", "web"), authz.NoOpinion, ""},
		{"evict", req("create", "", "pods", "eviction", "default", "web"), authz.Allow, ""},
		{"event", req("create", "", "events", "", "default", ""), authz.Allow, ""},
		{"events.k8s.io event", req("patch", "events.k8s.io", "events", "", "default", "e"), authz.Allow, ""},
		{"delete event", req("delete", "", "events", "", "default", "e"), authz.NoOpinion, ""},
		{"services", req("watch", "", "services", "", "", ""), authz.Allow, ""},
		{"endpointslices", req("list", "discovery.k8s.io", "endpointslices", "", "", ""), authz.Allow, ""},
		{"endpointslices in the core group", req("list", "", "endpointslices", "", "", ""), authz.NoOpinion, ""},
		{"storage classes", req("get", "storage.k8s.io", "storageclasses", "", "", "local-path"), authz.Allow, ""},
		{"runtime classes", req("list", "node.k8s.io", "runtimeclasses", "", "", ""), authz.Allow, ""},
		{"token review", req("create", "authentication.k8s.io", "tokenreviews", "", "", ""), authz.Allow, ""},
		{"access review", req("create", "authorization.k8s.io", "subjectaccessreviews", "", "", ""), authz.Allow, ""},
		{"csr", req("create", "certificates.k8s.io", "certificatesigningrequests", "", "", ""), authz.Allow, ""},
		{"approve csr", req("update", "certificates.k8s.io", "certificatesigningrequests", "approval", "", "c"), authz.NoOpinion, ""},
		{"deployments", req("list", "apps", "deployments", "", "", ""), authz.NoOpinion, ""},
		{"namespaces", req("get", "", "namespaces", "", "", "default"), authz.NoOpinion, ""},
		{"non-resource", authz.Attributes{User: "system:node:n1", Groups: []string{"system:nodes"}, Verb: "get", Path: "/healthz"}, authz.NoOpinion, ""},
	}
	z, err := NewAuthorizer(standardWorld(t).options())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason, err := z.Authorize(context.Background(), tt.a)
			if err != nil {
				t.Fatalf("Authorize: %v", err)
			}
			if got != tt.want || reason != tt.reason {
				t.Errorf("Authorize = %v %q, want %v %q", got, reason, tt.want, tt.reason)
			}
		})
	}
}

// TestAuthorizeFollowsPods: a node gains access to a secret when a pod
// bound to it references it, and loses it when the pod goes.
func TestAuthorizeFollowsPods(t *testing.T) {
	w := standardWorld(t)
	z, err := NewAuthorizer(w.options())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	get := req("get", "", "secrets", "", "default", "other-secret")
	check := func(step string, want authz.Decision) {
		t.Helper()
		got, reason, err := z.Authorize(ctx, get)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if got != want {
			t.Errorf("%s: Authorize = %v (%q), want %v", step, got, reason, want)
		}
	}
	check("only n2's pod uses it", authz.NoOpinion)

	p := pod("default", "newcomer", "", corev1.PodSpec{Volumes: []corev1.Volume{secretVolume("other-secret")}})
	w.add(t, p)
	check("pod not yet bound", authz.NoOpinion)

	bound := p.DeepCopy()
	bound.Spec.NodeName = "n1"
	if err := w.pods.Update(bound); err != nil {
		t.Fatal(err)
	}
	check("pod bound to n1", authz.Allow)

	if err := w.pods.Delete(bound); err != nil {
		t.Fatal(err)
	}
	check("pod deleted", authz.NoOpinion)
}

func TestNewAuthorizerNeedsIndex(t *testing.T) {
	w := standardWorld(t)
	o := w.options()
	o.Pods = cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	if _, err := NewAuthorizer(o); err == nil {
		t.Error("NewAuthorizer without the node index: no error")
	}
	o = w.options()
	o.PVs = nil
	if _, err := NewAuthorizer(o); err == nil {
		t.Error("NewAuthorizer without a volume lister: no error")
	}
	if _, err := NewAdmission(Options{Pods: w.pods}); err != nil {
		t.Errorf("NewAdmission with only pods: %v", err)
	}
}

func TestPodsByNode(t *testing.T) {
	tests := []struct {
		obj  any
		want []string
		err  bool
	}{
		{pod("a", "b", "n1", corev1.PodSpec{}), []string{"n1"}, false},
		{pod("a", "b", "", corev1.PodSpec{}), nil, false},
		{&corev1.Node{}, nil, true},
	}
	for _, tt := range tests {
		got, err := PodsByNode(tt.obj)
		if (err != nil) != tt.err || len(got) != len(tt.want) || (len(got) == 1 && got[0] != tt.want[0]) {
			t.Errorf("PodsByNode(%T) = %v, %v; want %v, error %v", tt.obj, got, err, tt.want, tt.err)
		}
	}
}

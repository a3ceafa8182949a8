package garbagecollector

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

var (
	replicasets = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	pods        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	nodes       = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
)

// obj builds an observation; owners are "uid" or "uid!" (blocking).
func obj(gvr schema.GroupVersionResource, ns, name string, uid types.UID, owners ...string) observation {
	kinds := map[string]string{"replicasets": "ReplicaSet", "pods": "Pod", "nodes": "Node"}
	o := observation{
		key:        objectKey{resource: gvr, namespace: ns, name: name},
		apiVersion: gvr.GroupVersion().String(), kind: kinds[gvr.Resource], uid: uid,
	}
	for _, owner := range owners {
		ref := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "owner-" + owner, UID: types.UID(owner)}
		if owner[len(owner)-1] == '!' {
			ref.UID = types.UID(owner[:len(owner)-1])
			ref.BlockOwnerDeletion = new(true)
		}
		o.owners = append(o.owners, ref)
	}
	return o
}

func deleting(o observation, finalizers ...string) observation {
	o.deleting, o.finalizers = true, finalizers
	return o
}

// step is one graph change and the follow-up it must produce, written as
// "delete=[...] orphan=[...] absent=[...]".
type step struct {
	name string
	do   func(g *graph) followUp
	want string
}

func render(f followUp) string {
	var absent []string
	for _, id := range f.absent {
		absent = append(absent, string(id.uid))
	}
	return fmt.Sprintf("delete=%v orphan=%v absent=%v", f.attemptToDelete, f.attemptToOrphan, absent)
}

func run(t *testing.T, steps []step) *graph {
	t.Helper()
	g := newGraph()
	for _, s := range steps {
		if got := render(s.do(g)); got != s.want {
			t.Errorf("%s:\n got %s\nwant %s", s.name, got, s.want)
		}
	}
	return g
}

func observe(o observation) func(*graph) followUp {
	return func(g *graph) followUp { return g.observe(o) }
}
func forget(gvr schema.GroupVersionResource, ns, name string) func(*graph) followUp {
	return func(g *graph) followUp { return g.forget(objectKey{resource: gvr, namespace: ns, name: name}) }
}

func TestGraphOwnerGoes(t *testing.T) {
	run(t, []step{
		{"dependent before its owner: verify the owner", observe(obj(pods, "ns", "p1", "p1", "rs")), "delete=[rs] orphan=[] absent=[]"},
		{"owner seen: nothing to do", observe(obj(replicasets, "ns", "rs", "rs")), "delete=[] orphan=[] absent=[]"},
		{"another dependent of a known owner", observe(obj(pods, "ns", "p2", "p2", "rs")), "delete=[] orphan=[] absent=[]"},
		{"a dependent's update", observe(obj(pods, "ns", "p2", "p2", "rs")), "delete=[] orphan=[] absent=[]"},
		{"owner gone: dependents checked", forget(replicasets, "ns", "rs"), "delete=[p1 p2] orphan=[] absent=[rs]"},
		{"a dependent goes", forget(pods, "ns", "p1"), "delete=[] orphan=[] absent=[]"},
		{"unknown key", forget(pods, "ns", "nope"), "delete=[] orphan=[] absent=[]"},
	})
}

func TestGraphForeground(t *testing.T) {
	g := run(t, []step{
		{"owner", observe(obj(replicasets, "ns", "rs", "rs")), "delete=[] orphan=[] absent=[]"},
		{"blocking dependent", observe(obj(pods, "ns", "p1", "p1", "rs!")), "delete=[] orphan=[] absent=[]"},
		{"other dependent", observe(obj(pods, "ns", "p2", "p2", "rs")), "delete=[] orphan=[] absent=[]"},
		{"foreground deletion: owner and all dependents", observe(deleting(obj(replicasets, "ns", "rs", "rs"), metav1.FinalizerDeleteDependents)),
			"delete=[rs p1 p2] orphan=[] absent=[]"},
		{"new dependent of an owner deleting its dependents", observe(obj(pods, "ns", "p3", "p3", "rs")), "delete=[p3] orphan=[] absent=[]"},
	})
	v, _ := g.view("rs")
	var blocking []types.UID
	for _, d := range v.dependents {
		if d.blocking {
			blocking = append(blocking, d.id.uid)
		}
	}
	if fmt.Sprint(blocking) != "[p1]" {
		t.Errorf("blocking dependents %v, want [p1]", blocking)
	}
	run(t, []step{
		{"owner", observe(deleting(obj(replicasets, "ns", "rs", "rs"), metav1.FinalizerDeleteDependents)), "delete=[rs] orphan=[] absent=[]"},
		{"dependent", observe(obj(pods, "ns", "p1", "p1", "rs!")), "delete=[p1] orphan=[] absent=[]"},
		{"dependent stops blocking: owner looked at", observe(obj(pods, "ns", "p1", "p1", "rs")), "delete=[rs] orphan=[] absent=[]"},
		{"dependent drops the reference: owner looked at", observe(obj(pods, "ns", "p1", "p1")), "delete=[rs] orphan=[] absent=[]"},
		{"dependent back", observe(obj(pods, "ns", "p1", "p1", "rs!")), "delete=[p1] orphan=[] absent=[]"},
		{"dependent gone: owner looked at", forget(pods, "ns", "p1"), "delete=[rs] orphan=[] absent=[]"},
	})
}

func TestGraphOrphan(t *testing.T) {
	run(t, []step{
		{"owner", observe(obj(replicasets, "ns", "rs", "rs")), "delete=[] orphan=[] absent=[]"},
		{"dependent", observe(obj(pods, "ns", "p1", "p1", "rs")), "delete=[] orphan=[] absent=[]"},
		{"orphaning deletion", observe(deleting(obj(replicasets, "ns", "rs", "rs"), metav1.FinalizerOrphanDependents)), "delete=[] orphan=[rs] absent=[]"},
		{"deleted without finalizers: nothing yet", observe(deleting(obj(replicasets, "ns", "rs", "rs"))), "delete=[] orphan=[] absent=[]"},
	})
}

func TestGraphNamespaces(t *testing.T) {
	run(t, []step{
		{"owner in ns a", observe(obj(replicasets, "a", "rs", "rs")), "delete=[] orphan=[] absent=[]"},
		{"dependent in ns b names it: check the dependent", observe(obj(pods, "b", "p", "p", "rs")), "delete=[p] orphan=[] absent=[]"},
		{"cluster-scoped owner", observe(obj(nodes, "", "n", "n")), "delete=[] orphan=[] absent=[]"},
		{"namespaced dependent of a cluster-scoped owner", observe(obj(pods, "b", "q", "q", "n")), "delete=[] orphan=[] absent=[]"},
		{"dependent in ns c names an owner not seen yet", observe(obj(pods, "c", "r", "r", "rs2")), "delete=[rs2] orphan=[] absent=[]"},
		{"the owner shows up in ns d: check the dependent", observe(obj(replicasets, "d", "rs2", "rs2")), "delete=[r] orphan=[] absent=[]"},
	})
}

func TestGraphVirtualOwners(t *testing.T) {
	g := run(t, []step{
		{"dependent names a missing owner", observe(obj(pods, "ns", "p1", "p1", "ghost")), "delete=[ghost] orphan=[] absent=[]"},
		{"second dependent", observe(obj(pods, "ns", "p2", "p2", "ghost")), "delete=[] orphan=[] absent=[]"},
		{"an observed node is not removed as virtual", func(g *graph) followUp { return g.virtualGone("p1") }, "delete=[] orphan=[] absent=[]"},
		{"verified gone: dependents checked", func(g *graph) followUp { return g.virtualGone("ghost") }, "delete=[p1 p2] orphan=[] absent=[ghost]"},
	})
	if _, ok := g.view("ghost"); ok {
		t.Error("virtual node still in the graph")
	}
	g = run(t, []step{
		{"dependent names a missing owner", observe(obj(pods, "ns", "p1", "p1", "ghost")), "delete=[ghost] orphan=[] absent=[]"},
		{"dependent drops it", observe(obj(pods, "ns", "p1", "p1")), "delete=[] orphan=[] absent=[]"},
	})
	if _, ok := g.view("ghost"); ok {
		t.Error("unreferenced virtual node kept")
	}
}

func TestGraphRecreatedUnderSameName(t *testing.T) {
	g := run(t, []step{
		{"owner", observe(obj(replicasets, "ns", "rs", "rs-1")), "delete=[] orphan=[] absent=[]"},
		{"dependent", observe(obj(pods, "ns", "p", "p", "rs-1")), "delete=[] orphan=[] absent=[]"},
		{"owner replaced: old one's dependents checked", observe(obj(replicasets, "ns", "rs", "rs-2")), "delete=[p] orphan=[] absent=[rs-1]"},
	})
	if _, ok := g.view("rs-1"); ok {
		t.Error("replaced node kept")
	}
	if v, ok := g.view("rs-2"); !ok || !v.observed {
		t.Error("new node missing")
	}
}

func TestGraphDependentCycleDetection(t *testing.T) {
	g := newGraph()
	g.observe(obj(replicasets, "ns", "a", "a"))
	g.observe(obj(replicasets, "ns", "b", "b", "a!"))
	if !g.hasDependents("a") || g.hasDependents("b") {
		t.Error("hasDependents")
	}
	if g.anyDependentDeletingDependents("a") {
		t.Error("no dependent is deleting yet")
	}
	g.observe(deleting(obj(replicasets, "ns", "b", "b", "a!"), metav1.FinalizerDeleteDependents))
	if !g.anyDependentDeletingDependents("a") {
		t.Error("b deletes its dependents")
	}
}

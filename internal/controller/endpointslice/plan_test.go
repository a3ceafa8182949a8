package endpointslice

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func testPod(name, ip string, ready bool, httpPort int32) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{
			NodeName:   "node-1",
			Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: httpPort}}}},
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}},
		},
	}
}

func testService(edit func(*corev1.ServiceSpec)) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "svc-uid"},
		Spec: corev1.ServiceSpec{
			ClusterIP: "10.43.0.10", IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")}},
		},
	}
	if edit != nil {
		edit(&svc.Spec)
	}
	return svc
}

// describe renders desired endpoints as "IPv4 http/8080: 10.42.0.1(ready) ...".
func describe(d desired) string {
	var lines []string
	for t, sets := range d {
		for _, set := range sets {
			var ports []string
			for _, p := range set.ports {
				ports = append(ports, fmt.Sprintf("%s/%d", *p.Name, *p.Port))
			}
			var eps []string
			for _, ep := range set.endpoints {
				eps = append(eps, describeEndpoint(ep))
			}
			slices.Sort(eps)
			lines = append(lines, fmt.Sprintf("%s [%s]: %s", t, strings.Join(ports, " "), strings.Join(eps, " ")))
		}
		if len(sets) == 0 {
			lines = append(lines, fmt.Sprintf("%s: none", t))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "; ")
}

func describeEndpoint(ep discoveryv1.Endpoint) string {
	var flags []string
	if *ep.Conditions.Ready {
		flags = append(flags, "ready")
	}
	if *ep.Conditions.Serving {
		flags = append(flags, "serving")
	}
	if *ep.Conditions.Terminating {
		flags = append(flags, "terminating")
	}
	return fmt.Sprintf("%s(%s)", ep.Addresses[0], strings.Join(flags, ","))
}

func TestDesiredEndpoints(t *testing.T) {
	a := testPod("a", "10.42.0.1", true, 8080)
	b := testPod("b", "10.42.0.2", false, 8080)
	c := testPod("c", "10.42.0.3", true, 9090)
	term := testPod("t", "10.42.0.4", true, 8080)
	now := metav1.Now()
	term.DeletionTimestamp = &now
	done := testPod("d", "10.42.0.5", true, 8080)
	done.Status.Phase = corev1.PodFailed
	noIP := testPod("n", "", true, 8080)
	noName := testPod("x", "10.42.0.6", true, 8080)
	noName.Spec.Containers[0].Ports[0].Name = "web"
	v6 := testPod("v6", "fd00::7", true, 8080)

	tests := []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
		want string
	}{
		{"no pods", testService(nil), nil, "IPv4: none"},
		{"ready, not ready, terminating", testService(nil), []*corev1.Pod{a, b, term, done, noIP},
			"IPv4 [http/8080]: 10.42.0.1(ready,serving) 10.42.0.2() 10.42.0.4(serving,terminating)"},
		{"named port per pod", testService(nil), []*corev1.Pod{a, c},
			"IPv4 [http/8080]: 10.42.0.1(ready,serving); IPv4 [http/9090]: 10.42.0.3(ready,serving)"},
		{"unresolvable port leaves the pod portless", testService(nil), []*corev1.Pod{noName},
			"IPv4 []: 10.42.0.6(ready,serving)"},
		{"publishNotReadyAddresses", testService(func(s *corev1.ServiceSpec) { s.PublishNotReadyAddresses = true }),
			[]*corev1.Pod{b, term}, "IPv4 [http/8080]: 10.42.0.2(ready) 10.42.0.4(ready,serving,terminating)"},
		{"headless without families is dual-stack", testService(func(s *corev1.ServiceSpec) {
			s.ClusterIP, s.IPFamilies, s.Ports = "None", nil, nil
		}), []*corev1.Pod{a, v6}, "IPv4 []: 10.42.0.1(ready,serving); IPv6 []: fd00::7(ready,serving)"},
		{"IPv6 service skips IPv4 pods", testService(func(s *corev1.ServiceSpec) {
			s.ClusterIP, s.IPFamilies = "fd00:43::10", []corev1.IPFamily{corev1.IPv6Protocol}
		}), []*corev1.Pod{a, v6}, "IPv6 [http/8080]: fd00::7(ready,serving)"},
	}
	for _, tt := range tests {
		if got := describe(desiredEndpoints(tt.svc, tt.pods)); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

func TestDesiredEndpointFields(t *testing.T) {
	svc := testService(func(s *corev1.ServiceSpec) { s.ClusterIP = "None" })
	p := testPod("web-0", "10.42.0.1", true, 8080)
	p.Spec.Hostname, p.Spec.Subdomain = "web-0", "web"
	for _, set := range desiredEndpoints(svc, []*corev1.Pod{p})[discoveryv1.AddressTypeIPv4] {
		for _, ep := range set.endpoints {
			if ep.Hostname == nil || *ep.Hostname != "web-0" || ep.NodeName == nil || *ep.NodeName != "node-1" ||
				ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" || ep.TargetRef.Name != "web-0" || ep.TargetRef.UID != p.UID {
				t.Errorf("endpoint %+v", ep)
			}
		}
	}
}

// fakeSlices turns a plan's creates into existing slices (as the
// api-server would return them) and applies updates and deletes.
func applyPlan(existing []*discoveryv1.EndpointSlice, p plan, next *int) []*discoveryv1.EndpointSlice {
	var out []*discoveryv1.EndpointSlice
	for _, s := range existing {
		if slices.ContainsFunc(p.delete, func(d *discoveryv1.EndpointSlice) bool { return d.Name == s.Name }) {
			continue
		}
		if i := slices.IndexFunc(p.update, func(u *discoveryv1.EndpointSlice) bool { return u.Name == s.Name }); i >= 0 {
			s = p.update[i]
		}
		out = append(out, s)
	}
	for _, c := range p.create {
		c = c.DeepCopy()
		*next++
		c.Name = fmt.Sprintf("%s%03d", c.GenerateName, *next)
		c.UID = types.UID(c.Name)
		out = append(out, c)
	}
	return out
}

func pods(n int, ready bool) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range n {
		out = append(out, testPod(fmt.Sprintf("p%03d", i), fmt.Sprintf("10.42.%d.%d", i/200, i%200+1), ready, 8080))
	}
	return out
}

func sizes(ss []*discoveryv1.EndpointSlice) []int {
	var out []int
	for _, s := range ss {
		out = append(out, len(s.Endpoints))
	}
	slices.Sort(out)
	return out
}

func TestPlanSlices(t *testing.T) {
	svc := testService(nil)
	next := 0
	plan := func(existing []*discoveryv1.EndpointSlice, ps []*corev1.Pod) plan {
		return planSlices(svc, desiredEndpoints(svc, ps), existing, 100)
	}

	// No pods: one placeholder.
	p := plan(nil, nil)
	if len(p.create) != 1 || len(p.create[0].Endpoints) != 0 || len(p.update)+len(p.delete) != 0 {
		t.Fatalf("placeholder: %d creates %d updates %d deletes", len(p.create), len(p.update), len(p.delete))
	}
	s := p.create[0]
	if s.Labels[discoveryv1.LabelServiceName] != "web" || s.Labels[discoveryv1.LabelManagedBy] != managedBy ||
		s.AddressType != discoveryv1.AddressTypeIPv4 || s.GenerateName != "web-" ||
		len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != svc.UID || !*s.OwnerReferences[0].Controller || !*s.OwnerReferences[0].BlockOwnerDeletion {
		t.Errorf("slice metadata %+v", s.ObjectMeta)
	}
	have := applyPlan(nil, p, &next)
	if p := plan(have, nil); !p.empty() {
		t.Errorf("placeholder again: %+v", p)
	}

	// 250 pods: the placeholder is reused, then filled to 100, 100, 50.
	all := pods(250, true)
	p = plan(have, all)
	if len(p.delete) != 0 || len(p.update) != 1 || len(p.create) != 2 {
		t.Errorf("250 pods: %d creates %d updates %d deletes, want 2 1 0", len(p.create), len(p.update), len(p.delete))
	}
	have = applyPlan(have, p, &next)
	if got := sizes(have); fmt.Sprint(got) != "[50 100 100]" {
		t.Errorf("250 pods in slices of %v", got)
	}
	if p := plan(have, all); !p.empty() {
		t.Errorf("steady state writes: %d creates %d updates %d deletes", len(p.create), len(p.update), len(p.delete))
	}

	// One pod turns unready: exactly one slice is written.
	all[7] = testPod(all[7].Name, all[7].Status.PodIP, false, 8080)
	p = plan(have, all)
	if len(p.update) != 1 || len(p.create)+len(p.delete) != 0 {
		t.Errorf("one readiness change: %d creates %d updates %d deletes", len(p.create), len(p.update), len(p.delete))
	}
	have = applyPlan(have, p, &next)

	// Ten more pods go to the slice with room, no new slice.
	all = append(all, pods(260, true)[250:]...)
	p = plan(have, all)
	if len(p.create) != 0 || len(p.update) != 1 {
		t.Errorf("ten more: %d creates %d updates", len(p.create), len(p.update))
	}
	have = applyPlan(have, p, &next)
	if got := sizes(have); fmt.Sprint(got) != "[60 100 100]" {
		t.Errorf("260 pods in slices of %v", got)
	}

	// Pods removed from a slice leave it; an emptied slice is deleted.
	full := have[slices.IndexFunc(have, func(s *discoveryv1.EndpointSlice) bool { return len(s.Endpoints) == 100 })]
	all = slices.DeleteFunc(all, func(p *corev1.Pod) bool {
		return slices.ContainsFunc(full.Endpoints, func(ep discoveryv1.Endpoint) bool { return ep.TargetRef.Name == p.Name })
	})
	p = plan(have, all)
	have = applyPlan(have, p, &next)
	if got := sizes(have); fmt.Sprint(got) != "[60 100]" {
		t.Errorf("160 pods in slices of %v", got)
	}

	// Every pod gone: back to one placeholder.
	p = plan(have, nil)
	have = applyPlan(have, p, &next)
	if got := sizes(have); fmt.Sprint(got) != "[0]" {
		t.Errorf("no pods: slices of %v", got)
	}
}

func TestPlanSlicesOwnership(t *testing.T) {
	svc := testService(nil)
	old := newSlice(svc, discoveryv1.AddressTypeIPv4, sliceLabels(svc))
	old.Name = "web-old"
	old.OwnerReferences[0].UID = "earlier-service"
	v6 := newSlice(svc, discoveryv1.AddressTypeIPv6, sliceLabels(svc))
	v6.Name = "web-v6"
	p := planSlices(svc, desiredEndpoints(svc, pods(1, true)), []*discoveryv1.EndpointSlice{old, v6}, 100)
	// The slice of an earlier service is reused (reowned), the IPv6 one deleted.
	if len(p.update) != 1 || p.update[0].Name != "web-old" || p.update[0].OwnerReferences[0].UID != svc.UID {
		t.Errorf("updates %v", p.update)
	}
	if len(p.delete) != 1 || p.delete[0].Name != "web-v6" || len(p.create) != 0 {
		t.Errorf("deletes %v creates %v", p.delete, p.create)
	}
	if old.OwnerReferences[0].UID != "earlier-service" {
		t.Error("planSlices modified an existing slice")
	}
}

func TestPlanSlicesDeletingServiceCreatesNothing(t *testing.T) {
	svc := testService(nil)
	now := metav1.Now()
	svc.DeletionTimestamp = &now
	if p := planSlices(svc, desiredEndpoints(svc, pods(3, true)), nil, 100); len(p.create) != 0 {
		t.Errorf("created %d slices for a service being deleted", len(p.create))
	}
}

func TestSliceLabels(t *testing.T) {
	svc := testService(func(s *corev1.ServiceSpec) { s.ClusterIP = "None" })
	svc.Labels = map[string]string{"team": "a", discoveryv1.LabelManagedBy: "someone"}
	got := fmt.Sprint(sliceLabels(svc))
	want := fmt.Sprint(map[string]string{"team": "a", corev1.IsHeadlessService: "",
		discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: managedBy})
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestTracker(t *testing.T) {
	now := time.Unix(1000, 0)
	tr := newTracker(func() time.Time { return now }, time.Minute)
	slice := func(uid, rv string) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{UID: types.UID(uid), ResourceVersion: rv}}
	}
	tests := []struct {
		name   string
		cached []*discoveryv1.EndpointSlice
		want   bool
	}{
		{"created slice not cached", []*discoveryv1.EndpointSlice{slice("b", "5")}, true},
		{"created slice older", []*discoveryv1.EndpointSlice{slice("a", "9")}, true},
		{"deleted slice still cached", []*discoveryv1.EndpointSlice{slice("a", "10"), slice("b", "5")}, true},
		{"caught up", []*discoveryv1.EndpointSlice{slice("a", "11")}, false},
	}
	for _, tt := range tests {
		tr.wrote("ns/web", slice("a", "10"))
		tr.deleted("ns/web", "b")
		if got := tr.stale("ns/web", tt.cached); got != tt.want {
			t.Errorf("%s: stale %v, want %v", tt.name, got, tt.want)
		}
	}
	if tr.stale("ns/web", nil) {
		t.Error("met expectations are not forgotten")
	}
	tr.wrote("ns/web", slice("a", "10"))
	if got := tr.stale("ns/other", nil); got {
		t.Error("another service is stale")
	}

	tr.gone("a")
	tr.wrote("ns/web", slice("c", "20"))
	tr.gone("c")
	if tr.stale("ns/web", nil) {
		t.Error("a slice seen deleted is still awaited")
	}
	tr.wrote("ns/web", slice("d", "30"))
	now = now.Add(2 * time.Minute)
	if tr.stale("ns/web", nil) {
		t.Error("an expired expectation still holds")
	}
	if len(tr.expected) != 0 || len(tr.service) != 0 {
		t.Errorf("tracker keeps %v %v", tr.expected, tr.service)
	}
}

package registry

import (
	"reflect"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// coreTestResource returns the core resource named plural.
func coreTestResource(t *testing.T, plural string) *Resource {
	t.Helper()
	for _, r := range coreResources(Options{}) {
		if r.Plural == plural {
			return r
		}
	}
	t.Fatalf("no core resource %q", plural)
	return nil
}

func TestCoreResourcesDeclarations(t *testing.T) {
	opts := Options{}
	opts.setDefaults()
	want := map[string]struct {
		short      string
		namespaced bool
		status     bool
	}{
		"namespaces": {"ns", false, true}, "pods": {"po", true, true}, "services": {"svc", true, true},
		"endpoints": {"ep", true, false}, "configmaps": {"cm", true, false}, "secrets": {"", true, false},
		"serviceaccounts": {"sa", true, false}, "events": {"ev", true, false}, "nodes": {"no", false, true},
		"persistentvolumes": {"pv", false, true}, "persistentvolumeclaims": {"pvc", true, true},
		"limitranges": {"limits", true, false}, "resourcequotas": {"quota", true, true}, "podtemplates": {"", true, false},
	}
	seen := map[string]bool{}
	for _, r := range coreResources(opts) {
		w, ok := want[r.Plural]
		if !ok {
			t.Errorf("unexpected resource %s", r.Plural)
			continue
		}
		seen[r.Plural] = true
		if r.Group != "" || r.Version != "v1" || r.Singular == "" || r.New == nil || r.NewList == nil || r.Table == nil {
			t.Errorf("%s: incomplete declaration", r.Plural)
			continue
		}
		if got := reflect.TypeOf(r.New()).Elem().Name(); got != r.Kind {
			t.Errorf("%s: New() is a %s, want %s", r.Plural, got, r.Kind)
		}
		if got := reflect.TypeOf(r.NewList()).Elem().Name(); got != r.Kind+"List" {
			t.Errorf("%s: NewList() is a %s", r.Plural, got)
		}
		if (w.short == "") != (len(r.ShortNames) == 0) || (w.short != "" && r.ShortNames[0] != w.short) {
			t.Errorf("%s: short names %v, want %q", r.Plural, r.ShortNames, w.short)
		}
		if r.Namespaced != w.namespaced || (r.Status != nil) != w.status {
			t.Errorf("%s: namespaced %v status %v, want %v %v", r.Plural, r.Namespaced, r.Status != nil, w.namespaced, w.status)
		}
		inAll := slices.Contains(r.Categories, "all")
		if inAll != (r.Plural == "pods" || r.Plural == "services") {
			t.Errorf("%s: categories %v", r.Plural, r.Categories)
		}
		// Every table row matches its columns, even for an empty object.
		obj := r.New()
		if r.Default != nil {
			r.Default(obj)
		}
		if got := len(r.Table.Row(obj)); got != len(r.Table.Columns) {
			t.Errorf("%s: row has %d cells for %d columns", r.Plural, got, len(r.Table.Columns))
		}
	}
	for plural := range want {
		if !seen[plural] {
			t.Errorf("missing resource %s", plural)
		}
	}
}

func TestNamespaceLifecycleData(t *testing.T) {
	r := coreTestResource(t, "namespaces")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}
	r.Default(ns)
	r.PrepareForCreate(ns)
	if ns.Status.Phase != corev1.NamespaceActive || !slices.Equal(ns.Spec.Finalizers, []corev1.FinalizerName{"kubernetes"}) ||
		ns.Labels["kubernetes.io/metadata.name"] != "team-a" {
		t.Errorf("created namespace = %+v", ns)
	}
	updated := ns.DeepCopy()
	updated.Spec.Finalizers = nil
	updated.Status.Phase = corev1.NamespaceTerminating
	r.PrepareForUpdate(updated, ns)
	if len(updated.Spec.Finalizers) != 1 || updated.Status.Phase != corev1.NamespaceActive {
		t.Errorf("update changed finalizers or status: %+v", updated)
	}
	if !slices.Equal(r.DeleteProtected, []string{"default", "kube-system", "kube-public", "kube-node-lease"}) {
		t.Errorf("DeleteProtected = %v", r.DeleteProtected)
	}
	coreTestCheckErrs(t, r.Validate(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a.b"}}), []string{"metadata.name: Invalid value"})

	terminating := ns.DeepCopy()
	terminating.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	coreTestCheckErrs(t, r.Status.ValidateUpdate(terminating, ns), []string{"status.phase: Invalid value"})
	terminating.Status.Phase = corev1.NamespaceTerminating
	coreTestCheckErrs(t, r.Status.ValidateUpdate(terminating, ns), nil)
}

func TestConfigMapValidation(t *testing.T) {
	r := coreTestResource(t, "configmaps")
	cm := func(data map[string]string, bin map[string][]byte) *corev1.ConfigMap {
		return &corev1.ConfigMap{Data: data, BinaryData: bin}
	}
	tests := []struct {
		name string
		obj  *corev1.ConfigMap
		want []string
	}{
		{"valid", cm(map[string]string{"app.properties": "x", "KEY_1": "y"}, map[string][]byte{"logo.png": {1}}), nil},
		{"bad key", cm(map[string]string{"a/b": "x"}, nil), []string{"data[a/b]: Invalid value"}},
		{"duplicate across maps", cm(map[string]string{"k": "x"}, map[string][]byte{"k": {1}}), []string{"binaryData[k]: Invalid value"}},
		{"too big", cm(map[string]string{"k": string(make([]byte, coreMaxDataSize+1))}, nil), []string{"[]: Too long"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { coreTestCheckErrs(t, r.Validate(tt.obj), tt.want) })
	}

	old := &corev1.ConfigMap{Data: map[string]string{"k": "v"}, Immutable: new(true)}
	changed := old.DeepCopy()
	changed.Data["k"] = "w"
	coreTestCheckErrs(t, r.ValidateUpdate(changed, old), []string{"data: Forbidden"})
	unlocked := old.DeepCopy()
	unlocked.Immutable = new(false)
	coreTestCheckErrs(t, r.ValidateUpdate(unlocked, old), []string{"immutable: Forbidden"})
	coreTestCheckErrs(t, r.ValidateUpdate(old.DeepCopy(), old), nil)
}

func TestSecretDefaultsAndValidation(t *testing.T) {
	r := coreTestResource(t, "secrets")
	s := &corev1.Secret{StringData: map[string]string{"password": "hunter2"}, Data: map[string][]byte{"user": []byte("me")}}
	r.Default(s)
	if s.Type != corev1.SecretTypeOpaque || string(s.Data["password"]) != "hunter2" || s.StringData != nil {
		t.Errorf("defaulted secret = %+v", s)
	}
	tests := []struct {
		name string
		obj  *corev1.Secret
		want []string
	}{
		{"opaque", s, nil},
		{"bad key", &corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"no spaces": nil}}, []string{"data[no spaces]: Invalid value"}},
		{"tls missing key", &corev1.Secret{Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": nil}}, []string{"data[tls.key]: Required value"}},
		{"dockerconfigjson missing", &corev1.Secret{Type: corev1.SecretTypeDockerConfigJson}, []string{"data[.dockerconfigjson]: Required value"}},
		{"dockerconfigjson not json", &corev1.Secret{Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{".dockerconfigjson": []byte("{")}}, []string{"data[.dockerconfigjson]: Invalid value"}},
		{"dockerconfigjson", &corev1.Secret{Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{".dockerconfigjson": []byte(`{"auths":{}}`)}}, nil},
		{"service account token", &corev1.Secret{Type: corev1.SecretTypeServiceAccountToken},
			[]string{"metadata.annotations[kubernetes.io/service-account.name]: Required value"}},
		{"basic auth", &corev1.Secret{Type: corev1.SecretTypeBasicAuth}, []string{"data[username]: Required value", "data[password]: Required value"}},
		{"ssh auth", &corev1.Secret{Type: corev1.SecretTypeSSHAuth}, []string{"data[ssh-privatekey]: Required value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { coreTestCheckErrs(t, r.Validate(tt.obj), tt.want) })
	}

	old := &corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"k": []byte("v")}, Immutable: new(true)}
	changed := old.DeepCopy()
	changed.Type = "example.com/other"
	changed.Data["k"] = []byte("w")
	coreTestCheckErrs(t, r.ValidateUpdate(changed, old), []string{"type: Invalid value", "data: Forbidden"})
}

func TestNodeValidationAndTable(t *testing.T) {
	r := coreTestResource(t, "nodes")
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{
			"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/etcd": "true", "kubernetes.io/hostname": "n1"}},
		Spec: corev1.NodeSpec{PodCIDR: "10.42.0.0/24"},
		Status: corev1.NodeStatus{
			Capacity:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.1.5"}},
			NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.32.0", OSImage: "Debian"},
		},
	}
	r.Default(node)
	if !slices.Equal(node.Spec.PodCIDRs, []string{"10.42.0.0/24"}) || node.Status.Allocatable.Cpu().String() != "2" {
		t.Errorf("defaults: podCIDRs %v allocatable %v", node.Spec.PodCIDRs, node.Status.Allocatable)
	}
	coreTestCheckErrs(t, r.Validate(node), nil)

	row := r.Table.Row(node)
	want := []any{"Ready", "control-plane,etcd", row[2], "v1.32.0", "192.168.1.5", "<none>", "Debian", "<unknown>", "<unknown>"}
	if !slices.Equal(row, want) {
		t.Errorf("row = %v, want %v", row, want)
	}
	for _, tt := range []struct {
		status        corev1.ConditionStatus
		unschedulable bool
		want          string
	}{
		{corev1.ConditionFalse, false, "NotReady"},
		{corev1.ConditionUnknown, true, "NotReady,SchedulingDisabled"},
		{"", false, "Unknown"},
	} {
		n := node.DeepCopy()
		n.Spec.Unschedulable = tt.unschedulable
		n.Status.Conditions = nil
		if tt.status != "" {
			n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: tt.status}}
		}
		if got := coreNodeStatus(n); got != tt.want {
			t.Errorf("status(%s, %v) = %q, want %q", tt.status, tt.unschedulable, got, tt.want)
		}
	}
	if got := coreNodeRoles(&corev1.Node{}); got != "<none>" {
		t.Errorf("roles without labels = %q", got)
	}
	if got := r.Fields(node)["spec.unschedulable"]; got != "false" {
		t.Errorf("spec.unschedulable field = %q", got)
	}

	bad := node.DeepCopy()
	bad.Spec.Taints = []corev1.Taint{{Key: "k", Effect: corev1.TaintEffectNoSchedule}, {Key: "k", Effect: corev1.TaintEffectNoSchedule}, {Key: "x"}}
	coreTestCheckErrs(t, r.Validate(bad), []string{"spec.taints[1]: Duplicate value", "spec.taints[2].effect: Required value"})

	moved := node.DeepCopy()
	moved.Spec.PodCIDR, moved.Spec.PodCIDRs = "10.42.1.0/24", []string{"10.42.1.0/24"}
	coreTestCheckErrs(t, r.ValidateUpdate(moved, node), []string{"spec.podCIDRs: Forbidden"})
	unset := node.DeepCopy()
	unset.Spec.PodCIDR, unset.Spec.PodCIDRs = "", nil
	first := unset.DeepCopy()
	first.Spec.PodCIDR, first.Spec.PodCIDRs = "10.42.2.0/24", []string{"10.42.2.0/24"}
	coreTestCheckErrs(t, r.ValidateUpdate(first, unset), nil)
}

func TestPersistentVolumes(t *testing.T) {
	pvR := coreTestResource(t, "persistentvolumes")
	pv := &corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{
		Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
		AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data"}},
	}}
	pvR.Default(pv)
	pvR.PrepareForCreate(pv)
	if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain || *pv.Spec.VolumeMode != corev1.PersistentVolumeFilesystem ||
		pv.Status.Phase != corev1.VolumePending {
		t.Errorf("defaults: %+v", pv)
	}
	coreTestCheckErrs(t, pvR.Validate(pv), nil)
	coreTestCheckErrs(t, pvR.Validate(&corev1.PersistentVolume{}), []string{
		"spec: Required value", "spec.accessModes: Required value", "spec.capacity: Required value"})
	moved := pv.DeepCopy()
	moved.Spec.HostPath.Path = "/elsewhere"
	coreTestCheckErrs(t, pvR.ValidateUpdate(moved, pv), []string{"spec.persistentvolumesource: Forbidden"})

	pvcR := coreTestResource(t, "persistentvolumeclaims")
	pvc := &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
	}}
	pvcR.Default(pvc)
	pvcR.PrepareForCreate(pvc)
	if pvc.Status.Phase != corev1.ClaimPending || *pvc.Spec.VolumeMode != corev1.PersistentVolumeFilesystem {
		t.Errorf("pvc defaults: %+v", pvc)
	}
	coreTestCheckErrs(t, pvcR.Validate(pvc), nil)
	coreTestCheckErrs(t, pvcR.Validate(&corev1.PersistentVolumeClaim{}), []string{
		"spec.accessModes: Required value", "spec.resources[storage]: Required value"})

	tests := []struct {
		name   string
		bound  bool
		mutate func(*corev1.PersistentVolumeClaim)
		want   []string
	}{
		{"bind sets volumeName", false, func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeName = "pv-1" }, nil},
		{"access modes", false, func(c *corev1.PersistentVolumeClaim) {
			c.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}
		}, []string{"spec: Forbidden"}},
		{"grow unbound", false, func(c *corev1.PersistentVolumeClaim) {
			c.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
		}, []string{"spec: Forbidden"}},
		{"grow bound", true, func(c *corev1.PersistentVolumeClaim) {
			c.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
		}, nil},
		{"shrink bound", true, func(c *corev1.PersistentVolumeClaim) {
			c.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("500Mi")
		}, []string{"spec.resources.requests.storage: Forbidden"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := pvc.DeepCopy()
			if tt.bound {
				old.Spec.VolumeName = "pv-1"
				old.Status.Phase = corev1.ClaimBound
			}
			updated := old.DeepCopy()
			tt.mutate(updated)
			coreTestCheckErrs(t, pvcR.ValidateUpdate(updated, old), tt.want)
		})
	}

	bound := pvc.DeepCopy()
	bound.Spec.VolumeName = "pv-1"
	bound.Spec.StorageClassName = new("local-path")
	bound.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound,
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce, corev1.ReadOnlyMany},
		Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}
	row := pvcR.Table.Row(bound)
	if want := []any{"Bound", "pv-1", "1Gi", "RWO,ROX", "local-path", "<unset>"}; !slices.Equal(row[:6], want) {
		t.Errorf("pvc row = %v, want %v", row[:6], want)
	}
}

func TestEvents(t *testing.T) {
	r := coreTestResource(t, "events")
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "web.1", Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web", FieldPath: "spec.containers{app}"},
		Reason:         "Pulled", Type: corev1.EventTypeNormal, Message: "pulled image\n", Count: 3,
		Source: corev1.EventSource{Component: "kubelet", Host: "n1"},
	}
	coreTestCheckErrs(t, r.Validate(ev), nil)
	other := ev.DeepCopy()
	other.InvolvedObject.Namespace = "kube-system"
	coreTestCheckErrs(t, r.Validate(other), []string{"involvedObject.namespace: Invalid value"})
	nodeEvent := ev.DeepCopy()
	nodeEvent.InvolvedObject = corev1.ObjectReference{Kind: "Node", Name: "n1"}
	coreTestCheckErrs(t, r.Validate(nodeEvent), nil)
	newStyle := ev.DeepCopy()
	newStyle.EventTime = metav1.NewMicroTime(time.Now())
	coreTestCheckErrs(t, r.Validate(newStyle), []string{"reportingController: Required value", "reportingInstance: Required value", "action: Required value"})

	f := r.Fields(ev)
	for k, want := range map[string]string{"involvedObject.kind": "Pod", "involvedObject.name": "web", "reason": "Pulled", "source": "kubelet", "type": "Normal"} {
		if f[k] != want {
			t.Errorf("field %s = %q, want %q", k, f[k], want)
		}
	}

	now := time.Now()
	ev.FirstTimestamp = metav1.NewTime(now.Add(-10 * time.Minute))
	ev.LastTimestamp = metav1.NewTime(now.Add(-2 * time.Minute))
	row := coreEventRow(ev, now)
	want := []any{"2m", "Normal", "Pulled", "pod/web", "spec.containers{app}", "kubelet, n1", "pulled image", "10m", int64(3)}
	if !slices.Equal(row, want) {
		t.Errorf("event row = %v, want %v", row, want)
	}
}

func TestEndpoints(t *testing.T) {
	r := coreTestResource(t, "endpoints")
	ep := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: "10.42.0.1"}, {IP: "10.42.0.2"}},
		Ports:     []corev1.EndpointPort{{Name: "http", Port: 80}, {Name: "https", Port: 443}},
	}}}
	r.Default(ep)
	coreTestCheckErrs(t, r.Validate(ep), nil)
	if got, want := coreFormatEndpoints(ep), "10.42.0.1:80,10.42.0.2:80,10.42.0.1:443 + 1 more..."; got != want {
		t.Errorf("endpoints = %q, want %q", got, want)
	}
	if got := coreFormatEndpoints(&corev1.Endpoints{}); got != "<none>" {
		t.Errorf("empty endpoints = %q", got)
	}
	bad := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: "nope"}},
		Ports:     []corev1.EndpointPort{{Port: 0, Protocol: corev1.ProtocolTCP}},
	}}}
	coreTestCheckErrs(t, r.Validate(bad), []string{"subsets[0].addresses[0].ip: Invalid value", "subsets[0].ports[0].port: Invalid value"})
}

func TestLimitRange(t *testing.T) {
	r := coreTestResource(t, "limitranges")
	lr := &corev1.LimitRange{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
		Type: corev1.LimitTypeContainer,
		Max:  corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
		Min:  corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
	}}}}
	r.Default(lr)
	item := lr.Spec.Limits[0]
	if item.Default.Cpu().String() != "2" || item.DefaultRequest.Cpu().String() != "2" || item.DefaultRequest.Memory().String() != "64Mi" {
		t.Errorf("defaults: default %v defaultRequest %v", item.Default, item.DefaultRequest)
	}
	coreTestCheckErrs(t, r.Validate(lr), nil)
	bad := &corev1.LimitRange{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{
		{Type: corev1.LimitTypePod, Default: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}},
		{Type: corev1.LimitTypeContainer, Min: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
			Max: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}},
		{Type: "Cluster"},
	}}}
	coreTestCheckErrs(t, r.Validate(bad), []string{"spec.limits[0].default: Forbidden", "spec.limits[1].min[cpu]: Invalid value",
		"spec.limits[2].type: Unsupported value"})
}

func TestResourceQuota(t *testing.T) {
	r := coreTestResource(t, "resourcequotas")
	rq := &corev1.ResourceQuota{
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"pods": resource.MustParse("10"), "count/deployments.apps": resource.MustParse("5")}},
		Status: corev1.ResourceQuotaStatus{
			Hard: corev1.ResourceList{"pods": resource.MustParse("10"), "limits.cpu": resource.MustParse("4"), "requests.cpu": resource.MustParse("2")},
			Used: corev1.ResourceList{"pods": resource.MustParse("3"), "requests.cpu": resource.MustParse("500m")},
		},
	}
	coreTestCheckErrs(t, r.Validate(rq), nil)
	req, lim := coreQuotaColumns(rq)
	if req != "pods: 3/10, requests.cpu: 500m/2" || lim != "limits.cpu: 0/4" {
		t.Errorf("columns = %q / %q", req, lim)
	}
	bad := &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{
		Hard:   corev1.ResourceList{"widgets": resource.MustParse("1"), "pods": resource.MustParse("-1")},
		Scopes: []corev1.ResourceQuotaScope{"Sometimes"},
	}}
	coreTestCheckErrs(t, r.Validate(bad), []string{"spec.hard[widgets]: Invalid value", "spec.hard[pods]: Invalid value",
		"spec.scopes[0]: Unsupported value"})
	r.PrepareForCreate(rq)
	if len(rq.Status.Hard) != 0 {
		t.Errorf("status kept on create: %+v", rq.Status)
	}
}

func TestPodTemplateResource(t *testing.T) {
	r := coreTestResource(t, "podtemplates")
	pt := &corev1.PodTemplate{Template: corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "nginx"}, {Name: "b", Image: "redis"}}},
	}}
	r.Default(pt)
	coreTestCheckErrs(t, r.Validate(pt), nil)
	if row := r.Table.Row(pt); !slices.Equal(row, []any{"a,b", "nginx,redis", "app=web"}) {
		t.Errorf("row = %v", row)
	}
	pt.Template.Spec.Containers = nil
	coreTestCheckErrs(t, r.Validate(pt), []string{"template.spec.containers: Required value"})
}

// TestCoreStatusPreservedOnUpdate checks that main-resource updates keep
// the stored status of every core resource with a status subresource
// (nodes included: their status comes from the kubelet via /status).
func TestCoreStatusPreservedOnUpdate(t *testing.T) {
	for _, r := range coreResources(Options{}) {
		if r.Status == nil {
			continue
		}
		old, obj := r.New(), r.New()
		status := reflect.ValueOf(old).Elem().FieldByName("Status")
		phase := status.FieldByName("Phase")
		if !phase.IsValid() {
			continue
		}
		phase.SetString("Stored")
		r.PrepareForUpdate(obj, old)
		if got := reflect.ValueOf(obj).Elem().FieldByName("Status").FieldByName("Phase").String(); got != "Stored" {
			t.Errorf("%s: status phase after update = %q", r.Plural, got)
		}
	}
}

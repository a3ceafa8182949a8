package registry

import (
	"reflect"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// groupTestResource returns the resource group/plural from groupResources.
func groupTestResource(t *testing.T, group, plural string) *Resource {
	t.Helper()
	for _, r := range groupResources(Options{}) {
		if r.Group == group && r.Plural == plural {
			return r
		}
	}
	t.Fatalf("no resource %s.%s", plural, group)
	return nil
}

// groupTestErrs renders errors as sorted "path: type" strings, the part of
// an error a test pins down.
func groupTestErrs(errs field.ErrorList) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, e.Field+": "+e.Type.String())
	}
	slices.Sort(out)
	return out
}

// groupTestCheckErrs fails the test when errs do not have exactly the
// wanted paths and types.
func groupTestCheckErrs(t *testing.T, errs field.ErrorList, want []string) {
	t.Helper()
	got := groupTestErrs(errs)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("errors = %q, want %q\nfull: %v", got, want, errs.ToAggregate())
	}
}

func TestGroupResourcesDeclarations(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range groupResources(Options{}) {
		key := r.Plural + "." + r.Group
		if seen[key] {
			t.Errorf("%s declared twice", key)
		}
		seen[key] = true
		if r.Group == "" || r.Version == "" || r.Singular == "" || r.New == nil || r.NewList == nil {
			t.Errorf("%s: incomplete declaration", key)
			continue
		}
		if got := reflect.TypeOf(r.New()).Elem().Name(); got != r.Kind {
			t.Errorf("%s: New() is a %s, want %s", key, got, r.Kind)
		}
		if got := reflect.TypeOf(r.NewList()).Elem().Name(); got != r.Kind+"List" {
			t.Errorf("%s: NewList() is a %s, want %sList", key, got, r.Kind)
		}
		// Every hook must cope with an empty object.
		obj := r.New()
		if r.Default != nil {
			r.Default(obj)
		}
		if r.PrepareForCreate != nil {
			r.PrepareForCreate(obj)
		}
		if r.Validate != nil {
			r.Validate(obj)
		}
		if r.ValidateUpdate != nil {
			r.ValidateUpdate(obj, r.New())
		}
		if r.Fields != nil {
			r.Fields(obj)
		}
		if r.Table != nil {
			if got, want := len(r.Table.Row(obj)), len(r.Table.Columns); got != want {
				t.Errorf("%s: table row has %d cells for %d columns", key, got, want)
			}
		}
	}
	for _, want := range []string{
		"deployments.apps", "replicasets.apps", "statefulsets.apps", "daemonsets.apps", "controllerrevisions.apps",
		"jobs.batch", "cronjobs.batch", "ingresses.networking.k8s.io", "ingressclasses.networking.k8s.io",
		"networkpolicies.networking.k8s.io", "endpointslices.discovery.k8s.io", "leases.coordination.k8s.io",
		"storageclasses.storage.k8s.io", "events.events.k8s.io", "roles.rbac.authorization.k8s.io",
		"clusterroles.rbac.authorization.k8s.io", "rolebindings.rbac.authorization.k8s.io",
		"clusterrolebindings.rbac.authorization.k8s.io", "poddisruptionbudgets.policy",
		"horizontalpodautoscalers.autoscaling",
	} {
		if !seen[want] {
			t.Errorf("%s is not served", want)
		}
	}
}

func TestGroupStatusPreservedOnMainUpdate(t *testing.T) {
	for _, r := range groupResources(Options{}) {
		if r.Status == nil {
			continue
		}
		if r.PrepareForUpdate == nil || r.PrepareForCreate == nil {
			t.Errorf("%s.%s has /status but does not protect status on the main resource", r.Plural, r.Group)
			continue
		}
		// A non-zero status set on old must survive an update that clears it.
		old := r.New()
		groupTestStatus(old).Set(reflect.ValueOf(groupTestNonZero(groupTestStatus(old).Type())))
		obj := r.New()
		r.PrepareForUpdate(obj, old)
		if !reflect.DeepEqual(groupTestStatus(obj).Interface(), groupTestStatus(old).Interface()) {
			t.Errorf("%s.%s: PrepareForUpdate did not keep the old status", r.Plural, r.Group)
		}
		r.PrepareForCreate(obj)
		if !groupTestStatus(obj).IsZero() {
			t.Errorf("%s.%s: PrepareForCreate did not clear status", r.Plural, r.Group)
		}
	}
}

func groupTestStatus(obj runtime.Object) reflect.Value {
	return reflect.ValueOf(obj).Elem().FieldByName("Status")
}

// groupTestNonZero returns a value of type t with its first settable
// integer or string field set.
func groupTestNonZero(t reflect.Type) any {
	v := reflect.New(t).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Int32, reflect.Int64:
			f.SetInt(3)
			return v.Interface()
		case reflect.Bool:
			f.SetBool(true)
			return v.Interface()
		}
	}
	return v.Interface()
}

func TestGroupIntOrPercent(t *testing.T) {
	for _, tc := range []struct {
		v        intstr.IntOrString
		wantErrs int
		value    int
		over100  bool
	}{
		{intstr.FromInt32(3), 0, 3, false},
		{intstr.FromInt32(-1), 1, -1, false},
		{intstr.FromString("25%"), 0, 25, false},
		{intstr.FromString("150%"), 0, 150, true},
		{intstr.FromString("25"), 1, 25, false},
		{intstr.FromString("abc%"), 1, 0, false},
	} {
		p := field.NewPath("x")
		if got := len(groupIntOrPercent(tc.v, p)); got != tc.wantErrs {
			t.Errorf("groupIntOrPercent(%v) = %d errors, want %d", tc.v.String(), got, tc.wantErrs)
		}
		if got := groupIntOrPercentValue(tc.v); got != tc.value {
			t.Errorf("groupIntOrPercentValue(%v) = %d, want %d", tc.v.String(), got, tc.value)
		}
		if got := len(groupNotMoreThan100Percent(tc.v, p)) > 0; got != tc.over100 {
			t.Errorf("groupNotMoreThan100Percent(%v) = %v, want %v", tc.v.String(), got, tc.over100)
		}
	}
}

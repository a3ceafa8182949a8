package registry

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func eventsTestEvent(mutate func(*eventsv1.Event)) *eventsv1.Event {
	e := &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: "web-0.17f3a", Namespace: "default"},
		EventTime:           metav1.NewMicroTime(time.Now().Add(-5 * 24 * time.Hour)),
		ReportingController: "k1s.io/kubelet",
		ReportingInstance:   "kubelet-node-1",
		Action:              "Pulling",
		Reason:              "Pulling",
		Regarding:           corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-0", FieldPath: "spec.containers{web}"},
		Note:                "Pulling image \"nginx:1.27\"",
		Type:                corev1.EventTypeNormal,
	}
	if mutate != nil {
		mutate(e)
	}
	return e
}

func TestEventValidate(t *testing.T) {
	r := groupTestResource(t, "events.k8s.io", "events")
	for _, tc := range []struct {
		name   string
		mutate func(*eventsv1.Event)
		want   []string
	}{
		{name: "valid"},
		{name: "cluster-scoped object", mutate: func(e *eventsv1.Event) { e.Regarding = corev1.ObjectReference{Kind: "Node", Name: "node-1"} }},
		{name: "cluster-scoped object outside default", mutate: func(e *eventsv1.Event) {
			e.Namespace = "apps"
			e.Regarding = corev1.ObjectReference{Kind: "Node", Name: "node-1"}
		}, want: []string{"regarding.namespace: Invalid value"}},
		{name: "no eventTime", mutate: func(e *eventsv1.Event) { e.EventTime = metav1.MicroTime{} },
			want: []string{"eventTime: Required value"}},
		{name: "bad type", mutate: func(e *eventsv1.Event) { e.Type = "Info" },
			want: []string{"type: Invalid value"}},
		{name: "missing reporter and action", mutate: func(e *eventsv1.Event) {
			e.ReportingController, e.ReportingInstance, e.Action, e.Reason = "", "", "", ""
		}, want: []string{"action: Required value", "reason: Required value", "reportingController: Required value",
			"reportingInstance: Required value"}},
		{name: "long note", mutate: func(e *eventsv1.Event) { e.Note = strings.Repeat("x", 1025) },
			want: []string{"note: Invalid value"}},
		{name: "deprecated fields", mutate: func(e *eventsv1.Event) {
			e.DeprecatedCount = 2
			e.DeprecatedSource = corev1.EventSource{Component: "kubelet"}
			e.DeprecatedFirstTimestamp = metav1.Now()
		}, want: []string{"deprecatedCount: Invalid value", "deprecatedFirstTimestamp: Invalid value", "deprecatedSource: Invalid value"}},
		{name: "series", mutate: func(e *eventsv1.Event) {
			e.Series = &eventsv1.EventSeries{Count: 2, LastObservedTime: metav1.NowMicro()}
		}},
		{name: "bad series", mutate: func(e *eventsv1.Event) { e.Series = &eventsv1.EventSeries{Count: 1} },
			want: []string{"series.count: Invalid value", "series.lastObservedTime: Required value"}},
	} {
		t.Run(tc.name, func(t *testing.T) { groupTestCheckErrs(t, r.Validate(eventsTestEvent(tc.mutate)), tc.want) })
	}

	old := eventsTestEvent(nil)
	upd := old.DeepCopy()
	upd.Series = &eventsv1.EventSeries{Count: 3, LastObservedTime: metav1.NowMicro()}
	groupTestCheckErrs(t, r.ValidateUpdate(upd, old), nil)
	upd.Note = "changed"
	upd.Regarding.Name = "web-1"
	upd.EventTime = metav1.NewMicroTime(old.EventTime.Add(time.Second))
	groupTestCheckErrs(t, r.ValidateUpdate(upd, old), []string{"eventTime: Invalid value", "note: Invalid value", "regarding: Invalid value"})
}

func TestEventTable(t *testing.T) {
	r := groupTestResource(t, "events.k8s.io", "events")
	single := eventsTestEvent(nil)
	groupTestCheckTable(t, r.Table, single, "Last Seen,Type,Reason,Object,Subobject,Source,Message,First Seen,Count",
		[]any{"5d", "Normal", "Pulling", "pod/web-0", "spec.containers{web}", "k1s.io/kubelet, kubelet-node-1",
			"Pulling image \"nginx:1.27\"", "5d", int64(1)})
	series := eventsTestEvent(func(e *eventsv1.Event) {
		e.Series = &eventsv1.EventSeries{Count: 4, LastObservedTime: metav1.NewMicroTime(time.Now().Add(-3 * time.Hour))}
	})
	if row := r.Table.Row(series); row[0] != "3h" || row[8] != int64(4) {
		t.Errorf("series row: last seen %v, count %v; want 3h, 4", row[0], row[8])
	}
	if got := r.Fields(single)["regarding.name"]; got != "web-0" {
		t.Errorf("field regarding.name = %q", got)
	}
}

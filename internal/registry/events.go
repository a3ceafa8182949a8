package registry

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// events.k8s.io/v1 events. Upstream serves these from the same storage as
// core/v1 events (converting between the two shapes); k1s stores them
// under their own key for now.

// Limits the upstream API enforces on events.
const (
	eventMaxReportingInstanceLength = 128
	eventMaxActionLength            = 128
	eventMaxReasonLength            = 128
	eventMaxNoteLength              = 1024
)

func eventsResources() []*Resource {
	return []*Resource{eventResource()}
}

func eventResource() *Resource {
	return &Resource{
		Group: "events.k8s.io", Version: "v1", Kind: "Event",
		Plural: "events", Singular: "event", ShortNames: []string{"ev"}, Namespaced: true,
		New:     func() runtime.Object { return &eventsv1.Event{} },
		NewList: func() runtime.Object { return &eventsv1.EventList{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			return eventValidate(obj.(*eventsv1.Event))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return eventValidateUpdate(obj.(*eventsv1.Event), old.(*eventsv1.Event))
		},
		Table: eventTable(),
		Fields: func(obj runtime.Object) fields.Set {
			e := obj.(*eventsv1.Event)
			return fields.Set{
				"regarding.kind":            e.Regarding.Kind,
				"regarding.namespace":       e.Regarding.Namespace,
				"regarding.name":            e.Regarding.Name,
				"regarding.uid":             string(e.Regarding.UID),
				"regarding.apiVersion":      e.Regarding.APIVersion,
				"regarding.resourceVersion": e.Regarding.ResourceVersion,
				"regarding.fieldPath":       e.Regarding.FieldPath,
				"reason":                    e.Reason,
				"reportingController":       e.ReportingController,
				"type":                      e.Type,
			}
		},
	}
}

// eventValidate applies the strict rules of events.k8s.io/v1 on create.
func eventValidate(e *eventsv1.Event) field.ErrorList {
	errs := eventValidateCommon(e)
	errs = append(errs, eventValidateSeries(e.Series)...)
	if e.EventTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("eventTime"), ""))
	}
	if e.Type != corev1.EventTypeNormal && e.Type != corev1.EventTypeWarning {
		errs = append(errs, field.Invalid(field.NewPath("type"), "", "has invalid value: "+e.Type))
	}
	if !e.DeprecatedFirstTimestamp.IsZero() {
		errs = append(errs, field.Invalid(field.NewPath("deprecatedFirstTimestamp"), "", "needs to be unset"))
	}
	if !e.DeprecatedLastTimestamp.IsZero() {
		errs = append(errs, field.Invalid(field.NewPath("deprecatedLastTimestamp"), "", "needs to be unset"))
	}
	if e.DeprecatedCount != 0 {
		errs = append(errs, field.Invalid(field.NewPath("deprecatedCount"), "", "needs to be unset"))
	}
	if e.DeprecatedSource.Component != "" || e.DeprecatedSource.Host != "" {
		errs = append(errs, field.Invalid(field.NewPath("deprecatedSource"), "", "needs to be unset"))
	}
	return errs
}

// eventValidateCommon holds the rules every event must pass, on create and
// update alike.
func eventValidateCommon(e *eventsv1.Event) field.ErrorList {
	var errs field.ErrorList
	if e.EventTime.IsZero() {
		// Legacy events (no eventTime) must be about an object in their
		// own namespace, or a cluster-scoped one in "default".
		switch ns := e.Regarding.Namespace; {
		case ns == "" && e.Namespace != metav1.NamespaceNone && e.Namespace != metav1.NamespaceDefault,
			ns != "" && ns != e.Namespace:
			errs = append(errs, field.Invalid(field.NewPath("regarding", "namespace"), ns, "does not match event.namespace"))
		}
		return errs
	}
	if e.Regarding.Namespace == "" && e.Namespace != metav1.NamespaceDefault && e.Namespace != metav1.NamespaceSystem {
		errs = append(errs, field.Invalid(field.NewPath("regarding", "namespace"), e.Regarding.Namespace, "does not match event.namespace"))
	}
	rc := field.NewPath("reportingController")
	if e.ReportingController == "" {
		errs = append(errs, field.Required(rc, ""))
	} else {
		errs = append(errs, groupQualifiedName(e.ReportingController, rc)...)
	}
	for _, f := range []struct {
		name  string
		value string
		max   int
	}{
		{"reportingInstance", e.ReportingInstance, eventMaxReportingInstanceLength},
		{"action", e.Action, eventMaxActionLength},
		{"reason", e.Reason, eventMaxReasonLength},
	} {
		p := field.NewPath(f.name)
		if f.value == "" {
			errs = append(errs, field.Required(p, ""))
		}
		if len(f.value) > f.max {
			errs = append(errs, field.Invalid(p, "", fmt.Sprintf("can have at most %d characters", f.max)))
		}
	}
	if len(e.Note) > eventMaxNoteLength {
		errs = append(errs, field.Invalid(field.NewPath("note"), "", fmt.Sprintf("can have at most %d characters", eventMaxNoteLength)))
	}
	return errs
}

func eventValidateSeries(s *eventsv1.EventSeries) field.ErrorList {
	if s == nil {
		return nil
	}
	var errs field.ErrorList
	if s.Count < 2 {
		errs = append(errs, field.Invalid(field.NewPath("series", "count"), "", "should be at least 2"))
	}
	if s.LastObservedTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("series", "lastObservedTime"), ""))
	}
	return errs
}

// eventValidateUpdate lets only the series (and metadata) of an event change.
func eventValidateUpdate(e, old *eventsv1.Event) field.ErrorList {
	errs := eventValidateCommon(e)
	if !apiequality.Semantic.DeepEqual(e.Series, old.Series) {
		errs = append(errs, eventValidateSeries(e.Series)...)
	}
	for _, f := range []struct {
		name     string
		new, old any
	}{
		{"regarding", e.Regarding, old.Regarding},
		{"reason", e.Reason, old.Reason},
		{"note", e.Note, old.Note},
		{"deprecatedSource", e.DeprecatedSource, old.DeprecatedSource},
		{"deprecatedFirstTimestamp", e.DeprecatedFirstTimestamp, old.DeprecatedFirstTimestamp},
		{"deprecatedLastTimestamp", e.DeprecatedLastTimestamp, old.DeprecatedLastTimestamp},
		{"deprecatedCount", e.DeprecatedCount, old.DeprecatedCount},
		{"type", e.Type, old.Type},
		{"action", e.Action, old.Action},
		{"related", e.Related, old.Related},
		{"reportingController", e.ReportingController, old.ReportingController},
		{"reportingInstance", e.ReportingInstance, old.ReportingInstance},
	} {
		errs = append(errs, groupImmutable(f.new, f.old, field.NewPath(f.name))...)
	}
	// Clients that truncate to microseconds, or not, must both pass.
	if !e.EventTime.Time.Truncate(time.Microsecond).Equal(old.EventTime.Time.Truncate(time.Microsecond)) {
		errs = append(errs, field.Invalid(field.NewPath("eventTime"), e.EventTime, "field is immutable"))
	}
	return errs
}

func eventTable() *Table {
	return &Table{
		NameLast: true,
		Columns: []metav1.TableColumnDefinition{
			column("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded.", 0),
			column("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future", 0),
			column("Reason", "string", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.", 0),
			column("Object", "string", "The object that this event is about.", 0),
			column("Subobject", "string", "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement.", 1),
			column("Source", "string", "The component reporting this event. Should be a short machine understandable string.", 1),
			column("Message", "string", "A human-readable description of the status of this operation.", 0),
			column("First Seen", "string", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)", 1),
			column("Count", "integer", "The number of times this event has occurred.", 1),
		},
		Row: func(obj runtime.Object) []any {
			e := obj.(*eventsv1.Event)
			first := age(e.DeprecatedFirstTimestamp)
			if e.DeprecatedFirstTimestamp.IsZero() {
				first = age(metav1.Time{Time: e.EventTime.Time})
			}
			last := age(e.DeprecatedLastTimestamp)
			if e.DeprecatedLastTimestamp.IsZero() {
				last = first
			}
			count := e.DeprecatedCount
			if e.Series != nil {
				last = age(metav1.Time{Time: e.Series.LastObservedTime.Time})
				count = e.Series.Count
			} else if count == 0 {
				count = 1 // singleton events carry no count in this API
			}
			target := strings.ToLower(e.Regarding.Kind)
			if e.Regarding.Name != "" {
				target += "/" + e.Regarding.Name
			}
			component := e.DeprecatedSource.Component
			if component == "" {
				component = e.ReportingController
			}
			instance := e.DeprecatedSource.Host
			if instance == "" {
				instance = e.ReportingInstance
			}
			source := "<unknown>"
			switch {
			case component != "" && instance != "":
				source = component + ", " + instance
			case component != "":
				source = component
			}
			return []any{last, e.Type, e.Reason, target, e.Regarding.FieldPath, source,
				strings.TrimSpace(e.Note), first, int64(count)}
		},
	}
}

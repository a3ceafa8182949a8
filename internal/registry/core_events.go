package registry

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// coreEventResource is the core/v1 Event (events.k8s.io is another group's).
func coreEventResource() *Resource {
	return &Resource{
		Version: "v1", Kind: "Event", Plural: "events", Singular: "event",
		ShortNames: []string{"ev"}, Namespaced: true,
		New:            func() runtime.Object { return &corev1.Event{} },
		NewList:        func() runtime.Object { return &corev1.EventList{} },
		Validate:       func(obj runtime.Object) field.ErrorList { return validateCoreEvent(obj.(*corev1.Event)) },
		ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList { return validateCoreEvent(obj.(*corev1.Event)) },
		Table:          coreEventTable(),
		Fields:         coreEventFields,
	}
}

// coreEventTextLimit bounds reason, action and reportingInstance of
// new-style events; coreEventNoteLimit bounds their message.
const (
	coreEventTextLimit = 128
	coreEventNoteLimit = 1024
)

// validateCoreEvent follows upstream: old-style events (no eventTime) only
// need their namespace to agree with the involved object's; new-style ones
// must say who reported what.
func validateCoreEvent(ev *corev1.Event) field.ErrorList {
	var errs field.ErrorList
	nsPath := field.NewPath("involvedObject", "namespace")
	mismatch := field.Invalid(nsPath, ev.InvolvedObject.Namespace, "does not match event.namespace")
	if ev.EventTime.IsZero() {
		switch {
		case ev.InvolvedObject.Namespace == "" && ev.Namespace != "" && ev.Namespace != metav1.NamespaceDefault:
			errs = append(errs, mismatch)
		case ev.InvolvedObject.Namespace != "" && ev.Namespace != ev.InvolvedObject.Namespace:
			errs = append(errs, mismatch)
		}
	} else {
		if ev.InvolvedObject.Namespace == "" && ev.Namespace != metav1.NamespaceDefault && ev.Namespace != metav1.NamespaceSystem {
			errs = append(errs, mismatch)
		}
		if ev.ReportingController == "" {
			errs = append(errs, field.Required(field.NewPath("reportingController"), ""))
		} else {
			for _, msg := range validation.IsQualifiedName(ev.ReportingController) {
				errs = append(errs, field.Invalid(field.NewPath("reportingController"), ev.ReportingController, msg))
			}
		}
		for _, f := range []struct{ name, value string }{
			{"reportingInstance", ev.ReportingInstance}, {"action", ev.Action}, {"reason", ev.Reason},
		} {
			switch {
			case f.value == "":
				errs = append(errs, field.Required(field.NewPath(f.name), ""))
			case len(f.value) > coreEventTextLimit:
				errs = append(errs, field.Invalid(field.NewPath(f.name), "", fmt.Sprintf("can have at most %d characters", coreEventTextLimit)))
			}
		}
		if len(ev.Message) > coreEventNoteLimit {
			errs = append(errs, field.Invalid(field.NewPath("message"), "", fmt.Sprintf("can have at most %d characters", coreEventNoteLimit)))
		}
		if ev.Type != corev1.EventTypeNormal && ev.Type != corev1.EventTypeWarning {
			errs = append(errs, field.Invalid(field.NewPath("type"), ev.Type, fmt.Sprintf("has invalid value: %v", ev.Type)))
		}
	}
	return errs
}

func coreEventFields(obj runtime.Object) fields.Set {
	ev := obj.(*corev1.Event)
	source := ev.Source.Component
	if source == "" {
		source = ev.ReportingController
	}
	return fields.Set{
		"involvedObject.kind":            ev.InvolvedObject.Kind,
		"involvedObject.namespace":       ev.InvolvedObject.Namespace,
		"involvedObject.name":            ev.InvolvedObject.Name,
		"involvedObject.uid":             string(ev.InvolvedObject.UID),
		"involvedObject.apiVersion":      ev.InvolvedObject.APIVersion,
		"involvedObject.resourceVersion": ev.InvolvedObject.ResourceVersion,
		"involvedObject.fieldPath":       ev.InvolvedObject.FieldPath,
		"reason":                         ev.Reason,
		"reportingComponent":             ev.ReportingController,
		"source":                         source,
		"type":                           ev.Type,
	}
}

// coreEventTable prints LAST SEEN TYPE REASON OBJECT MESSAGE, plus with -o
// wide SUBOBJECT SOURCE FIRST SEEN COUNT, like upstream.
func coreEventTable() *Table {
	return &Table{
		NameLast: true,
		Columns: []metav1.TableColumnDefinition{
			column("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded.", 0),
			column("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future.", 0),
			column("Reason", "string", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.", 0),
			column("Object", "string", "The object that this event is about.", 0),
			column("Subobject", "string", "The subobject that this event is about, if any.", 1),
			column("Source", "string", "The component reporting this event.", 1),
			column("Message", "string", "A human-readable description of the status of this operation.", 0),
			column("First Seen", "string", "The time at which the event was first recorded.", 1),
			column("Count", "string", "The number of times this event has occurred.", 1),
		},
		Row: func(obj runtime.Object) []any { return coreEventRow(obj.(*corev1.Event), time.Now()) },
	}
}

func coreEventRow(ev *corev1.Event, now time.Time) []any {
	since := func(t time.Time) string {
		if t.IsZero() {
			return "<unknown>"
		}
		return duration.HumanDuration(now.Sub(t))
	}
	first := since(ev.FirstTimestamp.Time)
	if ev.FirstTimestamp.IsZero() {
		first = since(ev.EventTime.Time)
	}
	last := since(ev.LastTimestamp.Time)
	if ev.LastTimestamp.IsZero() {
		last = first
	}
	count := ev.Count
	if ev.Series != nil {
		last = since(ev.Series.LastObservedTime.Time)
		count = ev.Series.Count
	} else if count == 0 {
		count = 1
	}
	target := strings.ToLower(ev.InvolvedObject.Kind)
	if ev.InvolvedObject.Name != "" {
		target += "/" + ev.InvolvedObject.Name
	}
	component, instance := ev.Source.Component, ev.Source.Host
	if component == "" {
		component = ev.ReportingController
	}
	if instance == "" {
		instance = ev.ReportingInstance
	}
	source := component
	if instance != "" {
		source += ", " + instance
	}
	return []any{last, ev.Type, ev.Reason, target, ev.InvolvedObject.FieldPath, source,
		strings.TrimSpace(ev.Message), first, int64(count)}
}

func coreEndpointsResource() *Resource {
	return &Resource{
		Version: "v1", Kind: "Endpoints", Plural: "endpoints", Singular: "endpoints",
		ShortNames: []string{"ep"}, Namespaced: true,
		New:     func() runtime.Object { return &corev1.Endpoints{} },
		NewList: func() runtime.Object { return &corev1.EndpointsList{} },
		Default: func(obj runtime.Object) {
			ep := obj.(*corev1.Endpoints)
			for i := range ep.Subsets {
				for j := range ep.Subsets[i].Ports {
					if ep.Subsets[i].Ports[j].Protocol == "" {
						ep.Subsets[i].Ports[j].Protocol = corev1.ProtocolTCP
					}
				}
			}
		},
		Validate:       func(obj runtime.Object) field.ErrorList { return validateCoreEndpoints(obj.(*corev1.Endpoints)) },
		ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList { return validateCoreEndpoints(obj.(*corev1.Endpoints)) },
		Table: &Table{
			Columns: []metav1.TableColumnDefinition{
				column("Endpoints", "string", "Endpoints is the list of endpoints in the subsets.", 0),
				ageColumn,
			},
			Row: func(obj runtime.Object) []any {
				ep := obj.(*corev1.Endpoints)
				return []any{coreFormatEndpoints(ep), age(ep.CreationTimestamp)}
			},
		},
	}
}

func validateCoreEndpoints(ep *corev1.Endpoints) field.ErrorList {
	var errs field.ErrorList
	for i, ss := range ep.Subsets {
		p := field.NewPath("subsets").Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(p, "must specify `addresses` or `notReadyAddresses`"))
		}
		for _, group := range []struct {
			name  string
			addrs []corev1.EndpointAddress
		}{{"addresses", ss.Addresses}, {"notReadyAddresses", ss.NotReadyAddresses}} {
			for j, a := range group.addrs {
				ap := p.Child(group.name).Index(j)
				errs = append(errs, validation.IsValidIPForLegacyField(ap.Child("ip"), a.IP, true, nil)...)
				if a.Hostname != "" {
					for _, msg := range validation.IsDNS1123Label(a.Hostname) {
						errs = append(errs, field.Invalid(ap.Child("hostname"), a.Hostname, msg))
					}
				}
				if a.NodeName != nil {
					for _, msg := range validation.IsDNS1123Subdomain(*a.NodeName) {
						errs = append(errs, field.Invalid(ap.Child("nodeName"), *a.NodeName, msg))
					}
				}
			}
		}
		names := map[string]bool{}
		for j, port := range ss.Ports {
			pp := p.Child("ports").Index(j)
			switch {
			case len(ss.Ports) > 1 && port.Name == "":
				errs = append(errs, field.Required(pp.Child("name"), ""))
			case port.Name != "":
				for _, msg := range validation.IsDNS1123Label(port.Name) {
					errs = append(errs, field.Invalid(pp.Child("name"), port.Name, msg))
				}
				if names[port.Name] {
					errs = append(errs, field.Duplicate(pp.Child("name"), port.Name))
				}
				names[port.Name] = true
			}
			for _, msg := range validation.IsValidPortNum(int(port.Port)) {
				errs = append(errs, field.Invalid(pp.Child("port"), port.Port, msg))
			}
			switch {
			case port.Protocol == "":
				errs = append(errs, field.Required(pp.Child("protocol"), ""))
			case !slices.Contains(podPortProtocols, port.Protocol):
				errs = append(errs, field.NotSupported(pp.Child("protocol"), port.Protocol, podPortProtocols))
			}
		}
	}
	return errs
}

// coreFormatEndpoints prints up to three ready endpoints as ip:port,
// then "+ N more...", like upstream.
func coreFormatEndpoints(ep *corev1.Endpoints) string {
	if len(ep.Subsets) == 0 {
		return "<none>"
	}
	const max = 3
	var list []string
	count := 0
	for _, ss := range ep.Subsets {
		if len(ss.Ports) == 0 {
			count += len(ss.Addresses)
			for _, a := range ss.Addresses {
				if len(list) < max {
					list = append(list, a.IP)
				}
			}
			continue
		}
		for _, port := range ss.Ports {
			count += len(ss.Addresses)
			for _, a := range ss.Addresses {
				if len(list) < max {
					list = append(list, net.JoinHostPort(a.IP, strconv.Itoa(int(port.Port))))
				}
			}
		}
	}
	out := strings.Join(list, ",")
	if count > max {
		out = fmt.Sprintf("%s + %d more...", out, count-max)
	}
	return out
}

package registry

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// groupResources returns every resource outside the core ("") group.
func groupResources(opts Options) []*Resource {
	var all []*Resource
	all = append(all, appsResources()...)
	all = append(all, batchResources()...)
	all = append(all, networkingResources()...)
	all = append(all, discoveryResources()...)
	all = append(all, coordinationResources()...)
	all = append(all, storageResources()...)
	all = append(all, eventsResources()...)
	all = append(all, rbacResources()...)
	all = append(all, policyResources()...)
	all = append(all, autoscalingResources()...)
	return all
}

// The helpers below are shared by several groups; they carry the "group"
// prefix so they cannot clash with the core helpers of this package.

// groupContainerCells lays out the CONTAINERS and IMAGES cells of a
// workload's pod template the way kubectl prints them.
func groupContainerCells(containers []corev1.Container) (names, images string) {
	n := make([]string, 0, len(containers))
	im := make([]string, 0, len(containers))
	for _, c := range containers {
		n = append(n, c.Name)
		im = append(im, c.Image)
	}
	return strings.Join(n, ","), strings.Join(im, ",")
}

// groupContainerColumns are the wide-only CONTAINERS and IMAGES columns.
func groupContainerColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		column("Containers", "string", "Names of each container in the template.", 1),
		column("Images", "string", "Images referenced by each container in the template.", 1),
	}
}

// groupSelectorString prints a selector as a label query, "<invalid>" when
// it cannot be converted.
func groupSelectorString(sel *metav1.LabelSelector) string {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return "<invalid>"
	}
	return s.String()
}

// groupNonNegative rejects negative numbers ("must be greater than or equal to 0").
func groupNonNegative(v int64, fldPath *field.Path) field.ErrorList {
	return apivalidation.ValidateNonnegativeField(v, fldPath)
}

// groupPositive rejects numbers below 1.
func groupPositive(v int64, fldPath *field.Path) field.ErrorList {
	if v <= 0 {
		return field.ErrorList{field.Invalid(fldPath, v, "must be greater than 0")}
	}
	return nil
}

// groupImmutable reports fldPath as immutable when the values differ.
func groupImmutable(newVal, oldVal any, fldPath *field.Path) field.ErrorList {
	return apivalidation.ValidateImmutableField(newVal, oldVal, fldPath)
}

// groupLabelSelector validates a selector strictly (label values too).
func groupLabelSelector(sel *metav1.LabelSelector, fldPath *field.Path) field.ErrorList {
	return metavalidation.ValidateLabelSelector(sel, metavalidation.LabelSelectorValidationOptions{}, fldPath)
}

// groupWorkloadSelector validates the required, non-empty selector of a
// workload controller; kind names the resource in the error message.
func groupWorkloadSelector(sel *metav1.LabelSelector, kind string, fldPath *field.Path) field.ErrorList {
	if sel == nil {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	errs := groupLabelSelector(sel, fldPath)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(fldPath, sel, "empty selector is invalid for "+kind))
	}
	return errs
}

// groupSelectorMatchesTemplate checks that a workload's selector selects
// the pods its template produces. An unparsable selector is reported at
// the selector (invalidMsg); a nil selector matches nothing, as upstream.
func groupSelectorMatchesTemplate(sel *metav1.LabelSelector, tmpl *corev1.PodTemplateSpec, fldPath *field.Path, invalidMsg string) field.ErrorList {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return field.ErrorList{field.Invalid(fldPath.Child("selector"), sel, invalidMsg)}
	}
	if !s.Empty() && !s.Matches(labels.Set(tmpl.Labels)) {
		return field.ErrorList{field.Invalid(fldPath.Child("template", "metadata", "labels"), tmpl.Labels,
			"`selector` does not match template `labels`")}
	}
	return nil
}

// groupIntOrPercent validates a non-negative integer or a percentage
// string such as "25%".
func groupIntOrPercent(v intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	switch v.Type {
	case intstr.String:
		var errs field.ErrorList
		for _, msg := range validation.IsValidPercent(v.StrVal) {
			errs = append(errs, field.Invalid(fldPath, v, msg))
		}
		return errs
	case intstr.Int:
		return groupNonNegative(int64(v.IntValue()), fldPath)
	default:
		return field.ErrorList{field.Invalid(fldPath, v, "must be an integer or percentage (e.g '5%')")}
	}
}

// groupIntOrPercentValue returns the number in v, ignoring a trailing "%".
func groupIntOrPercentValue(v intstr.IntOrString) int {
	if v.Type == intstr.String {
		n, err := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%"))
		if err != nil {
			return 0
		}
		return n
	}
	return v.IntValue()
}

// groupNotMoreThan100Percent rejects percentages above 100%.
func groupNotMoreThan100Percent(v intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	if v.Type != intstr.String || !strings.HasSuffix(v.StrVal, "%") || len(validation.IsValidPercent(v.StrVal)) > 0 {
		return nil
	}
	if groupIntOrPercentValue(v) <= 100 {
		return nil
	}
	return field.ErrorList{field.Invalid(fldPath, v, "must not be greater than 100%")}
}

// groupDNSLabel validates v as an RFC 1123 label.
func groupDNSLabel(v string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Label(v) {
		errs = append(errs, field.Invalid(fldPath, v, msg))
	}
	return errs
}

// groupDNSSubdomain validates v as an RFC 1123 subdomain.
func groupDNSSubdomain(v string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Subdomain(v) {
		errs = append(errs, field.Invalid(fldPath, v, msg))
	}
	return errs
}

// groupQualifiedName validates v as a qualified name ("prefix/name").
func groupQualifiedName(v string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsQualifiedName(v) {
		errs = append(errs, field.Invalid(fldPath, v, msg))
	}
	return errs
}

// groupBoolString prints an optional bool the way kubectl does.
func groupBoolString(b *bool) string {
	switch {
	case b == nil:
		return "<unset>"
	case *b:
		return "True"
	default:
		return "False"
	}
}

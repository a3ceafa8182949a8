package quota

import (
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Equal reports whether a and b hold the same names with equal amounts.
func Equal(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for name, qa := range a {
		qb, ok := b[name]
		if !ok || qa.Cmp(qb) != 0 {
			return false
		}
	}
	return true
}

// add returns a+b as a new list; amounts are deep-copied because
// Quantity.Add may write through a shared big decimal.
func add(a, b corev1.ResourceList) corev1.ResourceList {
	out := make(corev1.ResourceList, len(a)+len(b))
	for name, q := range a {
		out[name] = q.DeepCopy()
	}
	for name, q := range b {
		sum, ok := out[name]
		if !ok {
			out[name] = q.DeepCopy()
			continue
		}
		sum.Add(q)
		out[name] = sum
	}
	return out
}

// subtractNonNegative returns a-b, with amounts below zero raised to zero.
func subtractNonNegative(a, b corev1.ResourceList) corev1.ResourceList {
	out := make(corev1.ResourceList, len(a))
	for name, q := range a {
		d := q.DeepCopy()
		if other, ok := b[name]; ok {
			d.Sub(other)
		}
		if d.Sign() < 0 {
			d = resource.Quantity{Format: q.Format}
		}
		out[name] = d
	}
	return out
}

// mask keeps the names of l that are also in names.
func mask(l corev1.ResourceList, names map[corev1.ResourceName]bool) corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, q := range l {
		if names[name] {
			out[name] = q.DeepCopy()
		}
	}
	return out
}

// removeZeros drops the zero amounts of l.
func removeZeros(l corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, q := range l {
		if !q.IsZero() {
			out[name] = q
		}
	}
	return out
}

func nameSet[T any](l map[corev1.ResourceName]T) map[corev1.ResourceName]bool {
	out := make(map[corev1.ResourceName]bool, len(l))
	for name := range l {
		out[name] = true
	}
	return out
}

// maxInto raises each amount of dst to the one in src when larger.
func maxInto(dst, src corev1.ResourceList) {
	for name, q := range src {
		if cur, ok := dst[name]; !ok || q.Cmp(cur) > 0 {
			dst[name] = q.DeepCopy()
		}
	}
}

// addInto adds src to dst in place.
func addInto(dst, src corev1.ResourceList) {
	for name, q := range src {
		cur, ok := dst[name]
		if !ok {
			dst[name] = q.DeepCopy()
			continue
		}
		cur = cur.DeepCopy()
		cur.Add(q)
		dst[name] = cur
	}
}

// format prints l as upstream's error messages do: name=amount, sorted by
// name, comma-separated.
func format(l corev1.ResourceList) string {
	parts := make([]string, 0, len(l))
	for _, name := range slices.Sorted(maps.Keys(l)) {
		q := l[name]
		parts = append(parts, string(name)+"="+q.String())
	}
	return strings.Join(parts, ",")
}

// formatNames prints names sorted and comma-separated.
func formatNames(names []corev1.ResourceName) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	slices.Sort(s)
	return strings.Join(s, ",")
}

package envvar

import (
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Expand replaces $(VAR) references in each element of cmd by the value of VAR
// in env, as the kubelet does for a container's command and args: "$$" is an
// escaped "$", a reference to a name that env does not define is left as is,
// and an unterminated "$(" is kept literally. When env defines a name twice,
// the later value wins.
func Expand(cmd []string, env []*runtimeapi.KeyValue) []string {
	if cmd == nil {
		return nil
	}
	vars := make(map[string]string, len(env))
	for _, kv := range env {
		vars[kv.GetKey()] = string(kv.GetValue())
	}
	lookup := mappingFor(vars)
	out := make([]string, len(cmd))
	for i, s := range cmd {
		out[i] = ExpandString(s, lookup)
	}
	return out
}

// mappingFor returns a mapping for ExpandString that leaves unknown names as
// the reference they came from.
func mappingFor(maps ...map[string]string) func(string) string {
	return func(name string) string {
		for _, m := range maps {
			if v, ok := m[name]; ok {
				return v
			}
		}
		return "$(" + name + ")"
	}
}

// ExpandString replaces every $(NAME) in s by mapping(NAME). "$$" becomes "$";
// a "$" not followed by "(" or "$" stays as is, and so does an unterminated
// "$(". A caller that wants unknown names left in place returns "$(NAME)" for
// them; subPathExpr expansion, for example, records them as missing instead.
func ExpandString(s string, mapping func(name string) string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	last := 0 // start of the input not yet copied
	for i := 0; i+1 < len(s); i++ {
		if s[i] != '$' {
			continue
		}
		b.WriteString(s[last:i])
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				// Unterminated: keep "$(" and go on scanning after it.
				b.WriteString("$(")
				i++
				break
			}
			b.WriteString(mapping(s[i+2 : i+2+end]))
			i += 2 + end
		default:
			b.WriteByte('$')
			b.WriteByte(s[i+1])
			i++
		}
		last = i + 1
	}
	b.WriteString(s[last:])
	return b.String()
}

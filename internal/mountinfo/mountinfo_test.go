package mountinfo

import (
	"slices"
	"strings"
	"testing"
)

func TestParseUnder(t *testing.T) {
	text := "22 1 0:21 / / rw - ext4 /dev/root rw\n" +
		"30 22 0:40 / /tmp/k1s-demo-1/nodes/n2/run rw - tmpfs tmpfs rw\n" +
		"31 22 0:41 / /tmp/k1s-demo-1\\040x rw - tmpfs tmpfs rw\n" +
		"32 22 0:42 / /tmp/k1s-demo-10 rw - tmpfs tmpfs rw\n" +
		"33 22 0:43 / /tmp/k1s-demo-1 rw - tmpfs tmpfs rw\n" +
		"short line\n"
	points, err := Parse(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/", "/tmp/k1s-demo-1/nodes/n2/run", "/tmp/k1s-demo-1 x", "/tmp/k1s-demo-10", "/tmp/k1s-demo-1"}; !slices.Equal(points, want) {
		t.Errorf("Parse = %q, want %q", points, want)
	}
	if got, want := Under(points, "/tmp/k1s-demo-1/"), []string{"/tmp/k1s-demo-1/nodes/n2/run", "/tmp/k1s-demo-1"}; !slices.Equal(got, want) {
		t.Errorf("Under = %q, want %q", got, want)
	}
}

func TestUnescape(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`/plain`, `/plain`},
		{`/a\040b`, `/a b`},
		{`/tab\011x\012`, "/tab\tx\n"},
		{`/back\134slash`, `/back\slash`},
		{`/a\040b\134c`, `/a b\c`},
		{`/short\04`, `/short\04`},
		{`/not\999octal`, `/not\999octal`},
	} {
		if got := unescape(tt.in); got != tt.want {
			t.Errorf("unescape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPoints(t *testing.T) {
	points, err := Points()
	if err != nil {
		t.Skip("no /proc/self/mountinfo:", err)
	}
	if !slices.Contains(points, "/") {
		t.Errorf("Points has no /: %q", points)
	}
}

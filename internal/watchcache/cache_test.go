package watchcache

import (
	"fmt"
	"strings"
	"testing"
)

func keys(es []*entry) string {
	var out []string
	for _, e := range es {
		out = append(out, e.key)
	}
	return strings.Join(out, ",")
}

func TestStateScope(t *testing.T) {
	var s state
	for _, k := range []string{"/p/b/2", "/p/a/1", "/p/b/1", "/p/ba/1", "/p/a/1", "/q/x"} {
		s.put(&entry{key: k})
	}
	s.remove("/q/x")
	s.remove("/missing")
	tests := []struct {
		key       string
		recursive bool
		want      string
	}{
		{"/p/", true, "/p/a/1,/p/b/1,/p/b/2,/p/ba/1"},
		{"/p/b/", true, "/p/b/1,/p/b/2"},
		{"/p/b/1", false, "/p/b/1"},
		{"/p/b", false, ""},
		{"/q/", true, ""},
		{"/", true, "/p/a/1,/p/b/1,/p/b/2,/p/ba/1"},
	}
	for _, tt := range tests {
		if got := keys(s.scope(tt.key, tt.recursive)); got != tt.want {
			t.Errorf("scope(%q, %v) = %q, want %q", tt.key, tt.recursive, got, tt.want)
		}
	}
	if s.get("/p/a/1") == nil || s.get("/p/a") != nil {
		t.Errorf("get: found the wrong keys")
	}
}

func TestWindow(t *testing.T) {
	w := newWindow(3, 10)
	revs := func(evs []*event) string {
		var out []string
		for _, ev := range evs {
			out = append(out, fmt.Sprint(ev.rev))
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		add   []int64 // events added before the checks
		since int64
		ok    bool
		want  string
	}{
		{nil, 10, true, ""},
		{nil, 9, false, ""},
		{[]int64{11, 12}, 10, true, "11,12"},
		{nil, 11, true, "12"},
		{[]int64{13}, 10, true, "11,12,13"},
		{[]int64{14}, 10, false, ""}, // 11 left the window
		{nil, 11, true, "12,13,14"},
		{nil, 14, true, ""},
		{nil, 20, true, ""}, // the caller waits for the cache to get there
		{[]int64{15, 16, 17, 18}, 14, false, ""},
		{nil, 15, true, "16,17,18"},
	}
	for i, tt := range tests {
		for _, rev := range tt.add {
			w.add(&event{rev: rev})
		}
		got, ok := w.since(tt.since)
		if ok != tt.ok || revs(got) != tt.want {
			t.Errorf("step %d: since(%d) = %q, %v; want %q, %v", i, tt.since, revs(got), ok, tt.want, tt.ok)
		}
	}
	w.reset(30)
	if _, ok := w.since(29); ok {
		t.Errorf("since(29) after reset(30) ok, want too old")
	}
	if got, ok := w.since(30); !ok || len(got) != 0 {
		t.Errorf("since(30) after reset(30) = %v, %v", got, ok)
	}
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestReport(t *testing.T) {
	const (
		okPkg = `{"Action":"start","Package":"a"}
{"Action":"run","Package":"a","Test":"TestOne"}
{"Action":"output","Package":"a","Test":"TestOne","Output":"=== RUN   TestOne\n"}
{"Action":"output","Package":"a","Test":"TestOne","Output":"    one_test.go:9: chatter\n"}
{"Action":"output","Package":"a","Test":"TestOne","Output":"--- PASS: TestOne (0.00s)\n"}
{"Action":"pass","Package":"a","Test":"TestOne"}
{"Action":"output","Package":"a","Output":"PASS\n"}
{"Action":"output","Package":"a","Output":"ok  \ta\t0.01s\n"}
{"Action":"pass","Package":"a"}
`
		skipPkg = `{"Action":"start","Package":"b"}
{"Action":"run","Package":"b","Test":"TestRoot"}
{"Action":"output","Package":"b","Test":"TestRoot","Output":"=== RUN   TestRoot\n"}
{"Action":"output","Package":"b","Test":"TestRoot","Output":"    root_test.go:12: needs root\n"}
{"Action":"output","Package":"b","Test":"TestRoot","Output":"--- SKIP: TestRoot (0.00s)\n"}
{"Action":"skip","Package":"b","Test":"TestRoot"}
{"Action":"output","Package":"b","Output":"ok  \tb\t0.01s\n"}
{"Action":"pass","Package":"b"}
`
		failPkg = `{"Action":"start","Package":"c"}
{"Action":"run","Package":"c","Test":"TestBad"}
{"Action":"output","Package":"c","Test":"TestBad","Output":"=== RUN   TestBad\n"}
{"Action":"output","Package":"c","Test":"TestBad","Output":"    bad_test.go:3: got 1, want 2\n"}
{"Action":"output","Package":"c","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}
{"Action":"fail","Package":"c","Test":"TestBad"}
{"Action":"output","Package":"c","Output":"FAIL\tc\t0.01s\n"}
{"Action":"fail","Package":"c"}
`
		panicPkg = `{"Action":"start","Package":"d"}
{"Action":"run","Package":"d","Test":"TestHang"}
{"Action":"output","Package":"d","Test":"TestHang","Output":"=== RUN   TestHang\n"}
{"Action":"output","Package":"d","Test":"TestHang","Output":"waiting for the node\n"}
{"Action":"output","Package":"d","Output":"panic: test timed out after 25m0s\n"}
{"Action":"output","Package":"d","Output":"FAIL\td\t1500.01s\n"}
{"Action":"fail","Package":"d"}
`
		buildFail = `{"ImportPath":"e [e.test]","Action":"build-output","Output":"e/x_test.go:1:1: syntax error\n"}
{"ImportPath":"e [e.test]","Action":"build-fail"}
{"Action":"start","Package":"e"}
{"Action":"output","Package":"e","Output":"FAIL\te [build failed]\n"}
{"Action":"fail","Package":"e"}
`
		killed = `{"Action":"start","Package":"f"}
{"Action":"run","Package":"f","Test":"TestLong"}
`
	)
	for _, tc := range []struct {
		name   string
		in     string
		noSkip bool
		ok     bool
		want   []string // in the output
		not    []string // not in it
	}{
		{name: "passed", in: okPkg, ok: true, want: []string{"ok  \ta\t0.01s\n"}, not: []string{"chatter", "failed", "skipped"}},
		{name: "skipped, allowed", in: okPkg + skipPkg, ok: true, want: []string{"1 skipped:\n  b TestRoot: root_test.go:12: needs root\n"}},
		{name: "skipped, in CI", in: okPkg + skipPkg, noSkip: true, ok: false, want: []string{"b TestRoot: root_test.go:12: needs root"}},
		{name: "failed test", in: okPkg + failPkg, want: []string{"bad_test.go:3: got 1, want 2", "--- FAIL: TestBad", "FAIL\tc\t0.01s", "2 failed:\n  c\n  c TestBad\n"}, not: []string{"chatter"}},
		{name: "package panicked", in: panicPkg, want: []string{"waiting for the node\n", "panic: test timed out", "1 failed:\n  d\n"}},
		{name: "build failed", in: buildFail, want: []string{"syntax error", "e [e.test] (build)"}},
		{name: "killed", in: killed, want: []string{"f (never finished)", "no package reported a result"}},
		{name: "nothing", in: "go: cannot find main module\n", want: []string{"go: cannot find main module", "no package reported"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			r := &report{w: &out, running: map[string]*output{}, started: map[string]bool{}}
			if err := r.read(strings.NewReader(tc.in)); err != nil {
				t.Fatal(err)
			}
			if ok := r.finish(tc.noSkip); ok != tc.ok {
				t.Errorf("finish = %v, want %v", ok, tc.ok)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out.String(), n) {
					t.Errorf("output has %q:\n%s", n, out.String())
				}
			}
		})
	}
}

func TestOutputKeepsTheTail(t *testing.T) {
	var o output
	line := strings.Repeat("x", 1<<20) + "\n"
	for range 10 {
		o.add(line)
	}
	o.add("the end\n")
	var b strings.Builder
	o.print(&b)
	if !strings.HasSuffix(b.String(), "the end\n") || !strings.HasPrefix(b.String(), "[... 7 lines dropped ...]") || b.Len() > maxKept+100 {
		t.Fatalf("kept %d bytes, starting %q", b.Len(), b.String()[:40])
	}
}

// TestMakeTestKeepsGoExitStatus runs the Makefile's test recipe with
// a stand-in for go whose `go test` prints a passing package and then
// fails without a JSON event (as go does when it is killed, by the OOM
// killer say, between two packages, or fails after the tests). make test
// must fail then: the report cannot see that failure in the events, so
// the recipe must not drop go test's own exit status in the pipe.
func TestMakeTestKeepsGoExitStatus(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal("make is not installed (make deps installs it)")
	}
	dir := t.TempDir()
	report := filepath.Join(dir, "report")
	if out, err := exec.Command("go", "build", "-o", report, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	// Only the recipe: not deps (which installs) nor build.
	mk = []byte(strings.Replace(string(mk), "\ntest: deps build\n", "\ntest:\n", 1))
	if err := os.WriteFile(filepath.Join(dir, "Makefile"), mk, 0o644); err != nil {
		t.Fatal(err)
	}
	events := `{"Action":"start","Package":"a"}
{"Action":"output","Package":"a","Output":"ok  \ta\t0.01s\n"}
{"Action":"pass","Package":"a"}
`
	if err := os.WriteFile(filepath.Join(dir, "events"), []byte(events), 0o644); err != nil {
		t.Fatal(err)
	}
	fakeGo := filepath.Join(dir, "go")
	script := `#!/bin/sh
case "$1" in
list) echo a ;;
test) cat ` + filepath.Join(dir, "events") + `; echo "signal: killed" >&2; exit 1 ;;
run) shift 2; exec ` + report + ` "$@" ;;
*) exit 2 ;;
esac
`
	if err := os.WriteFile(fakeGo, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("make", "-C", dir, "test", "GO="+fakeGo).CombinedOutput()
	if err == nil {
		t.Errorf("make test passed although go test failed:\n%s", out)
	}
}

// Command report reads `go test -json` on its standard input and prints
// what a reader of a CI log needs: each package's result line, the whole
// output of every test that failed (and of a package that failed outside
// its tests: a panic, a timeout, a build error), and at the end every
// skipped test with its reason.
//
// It exits 1 when a package or test failed, when a package started but
// never finished (go test was killed), or when no package reported at
// all; with -no-skip (CI) also when a test was skipped, because a test
// that skips for want of something on the machine tests nothing.
//
//	go test -json ./... 2>&1 | go run ./test/report -no-skip
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // build-output and build-fail
}

// maxKept bounds the output kept for one test or package: the tail is
// what explains a failure.
const maxKept = 4 << 20

type output struct {
	lines   []string
	size    int
	dropped int // lines dropped from the front
}

func (o *output) add(line string) {
	o.lines = append(o.lines, line)
	o.size += len(line)
	for o.size > maxKept && len(o.lines) > 1 {
		o.size -= len(o.lines[0])
		o.lines = o.lines[1:]
		o.dropped++
	}
}

func (o *output) print(w io.Writer) {
	if o.dropped > 0 {
		fmt.Fprintf(w, "[... %d lines dropped ...]\n", o.dropped)
	}
	for _, l := range o.lines {
		io.WriteString(w, l)
	}
}

type report struct {
	w        io.Writer
	running  map[string]*output // by package + "\x00" + test; test "" is the package's own
	started  map[string]bool    // packages started and not finished
	skipped  []string
	failed   []string
	packages int
}

func main() {
	noSkip := flag.Bool("no-skip", false, "fail when a test was skipped")
	flag.Parse()
	r := &report{w: os.Stdout, running: map[string]*output{}, started: map[string]bool{}}
	if err := r.read(os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	if !r.finish(*noSkip) {
		os.Exit(1)
	}
}

func (r *report) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			// Not an event: go's own messages on stderr.
			fmt.Fprintf(r.w, "%s\n", line)
			continue
		}
		r.handle(ev)
	}
	return sc.Err()
}

func (r *report) handle(ev event) {
	key := ev.Package + "\x00" + ev.Test
	switch ev.Action {
	case "build-output":
		io.WriteString(r.w, ev.Output)
	case "build-fail":
		r.failed = append(r.failed, ev.ImportPath+" (build)")
	case "start":
		r.started[ev.Package] = true
	case "run":
		r.running[key] = &output{}
	case "output":
		o := r.running[key]
		if o == nil {
			o = &output{}
			r.running[key] = o
		}
		o.add(ev.Output)
	case "pass", "fail", "skip":
		o := r.running[key]
		if o == nil {
			o = &output{}
		}
		delete(r.running, key)
		if ev.Test == "" {
			r.endPackage(ev, o)
			return
		}
		switch ev.Action {
		case "fail":
			r.failed = append(r.failed, ev.Package+" "+ev.Test)
			o.print(r.w)
		case "skip":
			r.skipped = append(r.skipped, ev.Package+" "+ev.Test+": "+skipReason(o.lines))
		}
	}
}

// endPackage prints a package's result line, and all its output when it
// failed: with the tests still running then (a panic or a timeout).
func (r *report) endPackage(ev event, o *output) {
	delete(r.started, ev.Package)
	r.packages++
	if ev.Action != "fail" {
		// The last line is "ok  \tpkg\t1.2s" or "?   \tpkg\t[no test files]".
		if n := len(o.lines); n > 0 {
			io.WriteString(r.w, o.lines[n-1])
		}
		return
	}
	r.failed = append(r.failed, ev.Package)
	prefix := ev.Package + "\x00"
	var pending []string
	for key := range r.running {
		if strings.HasPrefix(key, prefix) {
			pending = append(pending, key)
		}
	}
	slices.Sort(pending)
	for _, key := range pending {
		r.running[key].print(r.w)
		delete(r.running, key)
	}
	o.print(r.w)
}

// skipReason is what a skipped test logged, without go test's own lines.
func skipReason(lines []string) string {
	var why []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		why = append(why, t)
	}
	if len(why) == 0 {
		return "(no reason given)"
	}
	return strings.Join(why, " ")
}

// finish prints the summary and says whether the run passed.
func (r *report) finish(noSkip bool) bool {
	ok := true
	for pkg := range r.started {
		r.failed = append(r.failed, pkg+" (never finished)")
	}
	if r.packages == 0 {
		fmt.Fprintln(r.w, "report: no package reported a result")
		ok = false
	}
	if len(r.skipped) > 0 {
		fmt.Fprintf(r.w, "\n%d skipped:\n", len(r.skipped))
		for _, s := range r.skipped {
			fmt.Fprintln(r.w, "  "+s)
		}
		if noSkip {
			ok = false
		}
	}
	if len(r.failed) > 0 {
		slices.Sort(r.failed)
		fmt.Fprintf(r.w, "\n%d failed:\n", len(r.failed))
		for _, f := range r.failed {
			fmt.Fprintln(r.w, "  "+f)
		}
		ok = false
	}
	return ok
}

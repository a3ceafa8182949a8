package kubeletserver

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseRecord(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	for _, tc := range []struct {
		line    string
		want    record
		wantErr bool
	}{
		{line: "2026-01-02T03:04:05.123456789Z stdout F hello world\n", want: record{time: ts, stream: "stdout", msg: []byte("hello world")}},
		{line: "2026-01-02T03:04:05.123456789Z stderr P part", want: record{time: ts, stream: "stderr", partial: true, msg: []byte("part")}},
		{line: "2026-01-02T03:04:05.123456789Z stdout F \n", want: record{time: ts, stream: "stdout", msg: []byte("")}},
		{line: "2026-01-02T03:04:05.123456789Z stdout F\n", want: record{time: ts, stream: "stdout"}},
		{line: "2026-01-02T03:04:05.123456789Z stdout F:x a  b \n", want: record{time: ts, stream: "stdout", msg: []byte("a  b ")}},
		{line: "2026-01-02T05:04:05.123456789+02:00 stdout F tz\n", want: record{time: ts, stream: "stdout", msg: []byte("tz")}},
		{line: "garbage\n", wantErr: true},
		{line: "2026-01-02T03:04:05Z stdin F x\n", wantErr: true},
		{line: "2026-01-02T03:04:05Z stdout X x\n", wantErr: true},
		{line: "yesterday stdout F x\n", wantErr: true},
	} {
		got, err := parseRecord([]byte(tc.line))
		if tc.wantErr {
			if err == nil {
				t.Errorf("parseRecord(%q): no error", tc.line)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseRecord(%q): %v", tc.line, err)
			continue
		}
		if !got.time.Equal(tc.want.time) || got.stream != tc.want.stream || got.partial != tc.want.partial || !bytes.Equal(got.msg, tc.want.msg) {
			t.Errorf("parseRecord(%q) = %+v, want %+v", tc.line, got, tc.want)
		}
	}
}

// testLog has four logical lines, one split in two records, one unparsable
// line and an unterminated last line.
const testLog = `2026-01-01T00:00:01Z stdout F one
2026-01-01T00:00:02Z stderr P tw
2026-01-01T00:00:03Z stderr F o
not a record
2026-01-01T00:00:04Z stdout F three
2026-01-01T00:00:05.5Z stdout F four
2026-01-01T00:00:06Z stdout F unfinis`

func TestCopyLogs(t *testing.T) {
	at := func(sec int) time.Time { return time.Date(2026, 1, 1, 0, 0, sec, 0, time.UTC) }
	for _, tc := range []struct {
		name string
		opts logOptions
		want string
	}{
		{name: "all", opts: logOptions{tail: -1}, want: "one\ntwo\nthree\nfour\n"},
		{name: "tail 2", opts: logOptions{tail: 2}, want: "three\nfour\n"},
		{name: "tail joins partials", opts: logOptions{tail: 3}, want: "two\nthree\nfour\n"},
		{name: "tail 0", opts: logOptions{tail: 0}, want: ""},
		{name: "tail beyond", opts: logOptions{tail: 100}, want: "one\ntwo\nthree\nfour\n"},
		{name: "timestamps", opts: logOptions{tail: 3, timestamps: true},
			want: "2026-01-01T00:00:02Z two\n2026-01-01T00:00:04Z three\n2026-01-01T00:00:05.5Z four\n"},
		{name: "since", opts: logOptions{tail: -1, since: at(4)}, want: "three\nfour\n"},
		{name: "since mid line keeps whole line out", opts: logOptions{tail: -1, since: at(3)}, want: "three\nfour\n"},
		{name: "limitBytes", opts: logOptions{tail: -1, limitBytes: 6}, want: "one\ntw"},
		{name: "limitBytes exact", opts: logOptions{tail: -1, limitBytes: 4}, want: "one\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := strings.NewReader(testLog)
			off, err := tailOffset(r, tc.opts.tail)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			lw := &logWriter{w: &out, opts: tc.opts}
			err = copyRecords(newLineScanner(strings.NewReader(testLog[off:])), lw)
			if err != nil && err != errLimitReached {
				t.Fatal(err)
			}
			if got := out.String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// growingReader returns its chunks one Read at a time, then io.EOF once
// per exhausted chunk list, like a file being appended to.
type growingReader struct{ chunks []string }

func (g *growingReader) Read(p []byte) (int, error) {
	if len(g.chunks) == 0 || g.chunks[0] == "" {
		if len(g.chunks) > 0 {
			g.chunks = g.chunks[1:]
		}
		return 0, io.EOF
	}
	n := copy(p, g.chunks[0])
	g.chunks[0] = g.chunks[0][n:]
	return n, nil
}

func TestLineScannerKeepsUnfinishedLine(t *testing.T) {
	g := &growingReader{chunks: []string{"2026-01-01T00:00:01Z stdout F he", "llo\n"}}
	sc := newLineScanner(g)
	var out bytes.Buffer
	lw := &logWriter{w: &out, opts: logOptions{tail: -1}}
	if err := copyRecords(sc, lw); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Fatalf("wrote %q before the line was complete", out.String())
	}
	if err := copyRecords(sc, lw); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "hello\n" {
		t.Errorf("got %q, want %q", got, "hello\n")
	}
}

func TestTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	log := "2026-11-27T10:00:00.000000001Z stdout F one\n" +
		"2026-11-27T10:00:00.000000002Z stderr P tw\n" +
		"2026-11-27T10:00:00.000000003Z stderr F o\n" +
		"garbage\n" +
		"2026-11-27T10:00:00.000000004Z stdout F three\n"
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		n        int64
		maxBytes int
		want     string
	}{
		{2, 100, "two\nthree\n"},
		{80, 100, "one\ntwo\nthree\n"},
		{80, 6, "three\n"},
		{0, 100, ""},
	} {
		got, err := Tail(path, tc.n, tc.maxBytes)
		if err != nil || string(got) != tc.want {
			t.Errorf("Tail(%d, %d) = %q, %v; want %q", tc.n, tc.maxBytes, got, err, tc.want)
		}
	}
	if _, err := Tail(filepath.Join(t.TempDir(), "missing"), 1, 1); err == nil {
		t.Error("Tail of a missing file succeeded")
	}
}

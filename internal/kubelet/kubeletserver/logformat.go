package kubeletserver

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// record is one line of a CRI log file:
//
//	<RFC3339Nano time> <stdout|stderr> <tags> <message>
//
// where the first ':'-separated tag is P (partial: the message continues in
// the next record) or F (full: the message ends a line).
type record struct {
	time    time.Time
	stream  string
	partial bool
	msg     []byte // without the trailing newline
}

// parseRecord parses one CRI log line (with or without its newline).
func parseRecord(line []byte) (record, error) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	var r record
	ts, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		return r, fmt.Errorf("log line %q: no timestamp", line)
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return r, fmt.Errorf("log line %q: %w", line, err)
	}
	stream, rest, ok := bytes.Cut(rest, []byte(" "))
	if !ok || (string(stream) != "stdout" && string(stream) != "stderr") {
		return r, fmt.Errorf("log line %q: bad stream %q", line, stream)
	}
	tags, msg, ok := bytes.Cut(rest, []byte(" "))
	if !ok {
		// "<time> stdout F" with no separator: an empty message.
		tags, msg = rest, nil
	}
	tag, _, _ := bytes.Cut(tags, []byte(":"))
	switch string(tag) {
	case "P":
		r.partial = true
	case "F":
	default:
		return r, fmt.Errorf("log line %q: bad tag %q", line, tags)
	}
	r.time, r.stream, r.msg = t, string(stream), msg
	return r, nil
}

// logOptions select and format what a log request returns.
type logOptions struct {
	since      time.Time // zero: from the start
	tail       int64     // <0: every line
	limitBytes int64     // <=0: no limit
	timestamps bool
	follow     bool
}

// errLimitReached ends a copy once limitBytes have been written.
var errLimitReached = errors.New("log byte limit reached")

// logWriter turns records into the bytes a client sees. It tracks logical
// lines (a run of P records ended by an F record) so that the timestamp
// prefix and the since filter apply per line, not per fragment.
type logWriter struct {
	w       io.Writer
	opts    logOptions
	written int64
	inLine  bool // the previous record was partial
	skip    bool // the current logical line is before since
}

func (lw *logWriter) write(r record) error {
	if !lw.inLine {
		lw.skip = !lw.opts.since.IsZero() && r.time.Before(lw.opts.since)
	}
	startsLine := !lw.inLine
	lw.inLine = r.partial
	if lw.skip {
		return nil
	}
	var out []byte
	if lw.opts.timestamps && startsLine {
		out = append(out, r.time.Format(time.RFC3339Nano)...)
		out = append(out, ' ')
	}
	out = append(out, r.msg...)
	if !r.partial {
		out = append(out, '\n')
	}
	if lw.opts.limitBytes > 0 {
		left := lw.opts.limitBytes - lw.written
		if int64(len(out)) >= left {
			if _, err := lw.w.Write(out[:left]); err != nil {
				return err
			}
			lw.written += left
			return errLimitReached
		}
	}
	n, err := lw.w.Write(out)
	lw.written += int64(n)
	return err
}

// tailOffset returns the byte offset in r of the start of the n-th last
// logical line (0 if there are fewer). Unparsable lines are not lines
// (copyRecords skips them).
func tailOffset(r io.Reader, n int64) (int64, error) {
	if n < 0 {
		return 0, nil
	}
	// starts is a ring of the offsets of the last n+1 line starts.
	starts := make([]int64, 0, min(n+1, 4096))
	var ring int
	var off int64
	inLine := false
	sc := newLineScanner(r)
	for {
		line, err := sc.next()
		if len(line) > 0 {
			rec, perr := parseRecord(line)
			if perr == nil {
				if !inLine {
					if int64(len(starts)) < n+1 {
						starts = append(starts, off)
					} else {
						starts[ring] = off
						ring = (ring + 1) % len(starts)
					}
				}
				inLine = rec.partial
			}
			off += int64(len(line))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if n == 0 {
		return off, nil
	}
	if int64(len(starts)) <= n {
		return 0, nil
	}
	// The oldest start in the ring is the (n+1)-th last; the one after it
	// is the n-th last.
	return starts[(ring+1)%len(starts)], nil
}

// lineScanner reads newline-terminated lines, keeping an unterminated tail
// until more data arrives (a log file being written may end mid-line).
type lineScanner struct {
	br      *bufio.Reader
	pending []byte
}

func newLineScanner(r io.Reader) *lineScanner {
	return &lineScanner{br: bufio.NewReaderSize(r, 32*1024)}
}

// next returns the next complete line including its '\n'. At the end of
// the data it returns (nil, io.EOF) and keeps any partial line for the
// next call, which may find it completed (bufio.Reader does not make EOF
// sticky, so a growing file yields its new data).
func (s *lineScanner) next() ([]byte, error) {
	line, err := s.br.ReadBytes('\n')
	if err != nil {
		s.pending = append(s.pending, line...)
		return nil, err
	}
	if len(s.pending) > 0 {
		line = append(s.pending, line...)
		s.pending = nil
	}
	return line, nil
}

// copyRecords writes every complete record available from sc through lw.
// Lines that are not CRI records are skipped. It returns nil at the end of
// the available data.
func copyRecords(sc *lineScanner, lw *logWriter) error {
	for {
		line, err := sc.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		rec, perr := parseRecord(line)
		if perr != nil {
			continue
		}
		if err := lw.write(rec); err != nil {
			return err
		}
	}
}

// Tail returns the messages of the last n logical lines of a CRI log file,
// cut to its last maxBytes: what a container printed last, for a
// terminated container's message (terminationMessagePolicy
// FallbackToLogsOnError).
func Tail(path string, n int64, maxBytes int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	off, err := tailOffset(f, n)
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := copyRecords(newLineScanner(f), &logWriter{w: &buf, opts: logOptions{tail: n}}); err != nil {
		return nil, err
	}
	out := buf.Bytes()
	if len(out) > maxBytes {
		out = out[len(out)-maxBytes:]
	}
	return out, nil
}

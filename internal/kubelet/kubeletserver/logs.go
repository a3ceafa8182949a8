package kubeletserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

// parseLogOptions reads the containerLogs query parameters.
func parseLogOptions(r *http.Request, now time.Time) (logOptions, error) {
	q := r.URL.Query()
	opts := logOptions{
		tail:       -1,
		timestamps: boolParam(r, "timestamps"),
		follow:     boolParam(r, "follow"),
	}
	intParam := func(name string) (int64, bool, error) {
		v := q.Get(name)
		if v == "" {
			return 0, false, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, false, badRequest("%s: %q is not an integer", name, v)
		}
		return n, true, nil
	}
	if n, ok, err := intParam("tailLines"); err != nil {
		return opts, err
	} else if ok {
		if n < 0 {
			return opts, badRequest("tailLines: must be greater than or equal to 0")
		}
		opts.tail = n
	}
	if n, ok, err := intParam("limitBytes"); err != nil {
		return opts, err
	} else if ok {
		if n < 1 {
			return opts, badRequest("limitBytes: must be greater than 0")
		}
		opts.limitBytes = n
	}
	if n, ok, err := intParam("sinceSeconds"); err != nil {
		return opts, err
	} else if ok {
		if n < 1 {
			return opts, badRequest("sinceSeconds: must be greater than 0")
		}
		opts.since = now.Add(-time.Duration(n) * time.Second)
	}
	if v := q.Get("sinceTime"); v != "" {
		if !opts.since.IsZero() {
			return opts, badRequest("at most one of `sinceTime` or `sinceSeconds` may be specified")
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return opts, badRequest("sinceTime: %q is not an RFC3339 time", v)
		}
		opts.since = t
	}
	return opts, nil
}

// serveLogs streams a container's log (GET /containerLogs/ns/pod/container).
func (s *Server) serveLogs(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ns, pod, name := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	opts, err := parseLogOptions(r, s.opts.Now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ref, err := s.opts.Pods.Container(ctx, ns, pod, name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	path := ref.LogPath
	if boolParam(r, "previous") {
		if ref.PreviousLogPath == "" {
			s.writeError(w, r, badRequest("previous terminated container %q in pod %q not found", ref.Name, pod))
			return
		}
		path = ref.PreviousLogPath
		opts.follow = false // a terminated container's log does not grow
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("log of container %q in pod %q: %w", ref.Name, pod, ErrNotFound)
		}
		s.writeError(w, r, err)
		return
	}
	defer func() { f.Close() }()
	if opts.tail >= 0 {
		off, err := tailOffset(f, opts.tail)
		if err == nil {
			_, err = f.Seek(off, io.SeekStart)
		}
		if err != nil {
			s.writeError(w, r, fmt.Errorf("reading %s: %w", path, err))
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	lw := &logWriter{w: w, opts: opts}
	rc := http.NewResponseController(w)
	err = s.followLog(ctx, f, path, ref.ContainerID, lw, func() { rc.Flush() }, func(nf *os.File) { f = nf })
	if err != nil && !errors.Is(err, errLimitReached) && ctx.Err() == nil {
		// The status line is sent: all that is left is to log and cut.
		s.log.Warn("streaming container log", "path", path, "err", err)
	}
}

// followLog copies f's records through lw; with follow set it keeps
// reading as the file grows, reopens path when the runtime rotates it, and
// ends once the container is no longer running and its log is drained, or
// when ctx ends. reopened is told about each newly opened file.
func (s *Server) followLog(ctx context.Context, f *os.File, path, containerID string, lw *logWriter, flush func(), reopened func(*os.File)) error {
	sc := newLineScanner(f)
	if err := copyRecords(sc, lw); err != nil {
		return err
	}
	flush()
	if !lw.opts.follow {
		return nil
	}
	t := time.NewTicker(s.opts.LogPollInterval)
	defer t.Stop()
	// Asking whether the container runs may cost a runtime call: do it
	// about once a second while the log is idle.
	checkEvery := max(1, int(time.Second/s.opts.LogPollInterval))
	idle := 0
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		before := lw.written
		if err := copyRecords(sc, lw); err != nil {
			return err
		}
		if lw.written != before {
			flush()
			idle = 0
			continue
		}
		if rotated(f, path) {
			nf, err := os.Open(path)
			if err != nil {
				// Rotated away and not recreated yet: try again next tick.
				continue
			}
			f.Close()
			f = nf
			reopened(nf)
			sc = newLineScanner(f)
			continue
		}
		idle++
		if idle%checkEvery == 0 && !s.opts.Pods.ContainerRunning(ctx, containerID) {
			// The container may have written its last lines between the
			// read above and the check: drain once more.
			err := copyRecords(sc, lw)
			flush()
			return err
		}
	}
}

// rotated reports whether path now names a different file than f.
func rotated(f *os.File, path string) bool {
	cur, err := f.Stat()
	if err != nil {
		return false
	}
	now, err := os.Stat(path)
	if err != nil {
		return false
	}
	return !os.SameFile(cur, now)
}

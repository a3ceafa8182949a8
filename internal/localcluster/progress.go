package localcluster

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress shows the steps of Up as they happen: on a terminal, one live
// line per step with a spinner and the elapsed time, replaced by its
// outcome; elsewhere, one plain line per finished step.
type progress struct {
	out   io.Writer
	tty   bool
	start time.Time
	mu    sync.Mutex
	cur   *step
	stop  chan struct{}
	wg    sync.WaitGroup
}

func newProgress(out io.Writer) *progress {
	p := &progress{out: out, start: time.Now(), stop: make(chan struct{})}
	if f, ok := out.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	if p.tty {
		p.wg.Add(1)
		go p.spin()
	}
	return p
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

func (p *progress) spin() {
	defer p.wg.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		if s := p.cur; s != nil {
			fmt.Fprintf(p.out, "\r\033[K %s %s %s (%.1fs)", spinner[i%len(spinner)], s.name, s.detail, time.Since(s.start).Seconds())
		}
		p.mu.Unlock()
	}
}

func (p *progress) close() {
	close(p.stop)
	p.wg.Wait()
}

// step is one step of the display.
type step struct {
	p      *progress
	name   string
	detail string
	start  time.Time
}

func (p *progress) step(name string) *step {
	s := &step{p: p, name: name, start: time.Now()}
	p.mu.Lock()
	p.cur = s
	p.mu.Unlock()
	return s
}

// update changes the step's detail while it runs.
func (s *step) update(detail string) {
	s.p.mu.Lock()
	s.detail = detail
	s.p.mu.Unlock()
}

func (s *step) done(detail string) { s.finish("✓", detail) }

// fail shows the step as failed and returns err.
func (s *step) fail(err error) error {
	s.finish("✗", "")
	return err
}

func (s *step) finish(mark, detail string) {
	p := s.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == s {
		p.cur = nil
	}
	if detail != "" {
		detail = ": " + detail
	}
	line := fmt.Sprintf("%s %s%s (%.1fs)", mark, s.name, detail, time.Since(s.start).Seconds())
	if p.tty {
		fmt.Fprintf(p.out, "\r\033[K %s\n", line)
		return
	}
	fmt.Fprintf(p.out, "[%6.1fs] %s\n", time.Since(p.start).Seconds(), line)
}

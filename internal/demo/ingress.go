package demo

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// requestTimeout bounds one request through the Ingress.
const requestTimeout = 5 * time.Second

// Ingress sends requests for Host to the Ingress port on 127.0.0.1, each
// on a fresh connection, so that the Ingress's choice of backend shows
// on every request.
type Ingress struct {
	base   string
	client *http.Client
}

// NewIngress returns a client of the Ingress listening on
// 127.0.0.1:port.
func NewIngress(port int) *Ingress {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	dialer := &net.Dialer{Timeout: requestTimeout}
	return &Ingress{
		base: "http://" + addr,
		client: &http.Client{
			Transport: &http.Transport{
				Proxy: nil, // straight to the node, whatever the environment says
				DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					return dialer.DialContext(ctx, network, addr)
				},
				DisableKeepAlives: true,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// Response is what the application answered.
type Response struct {
	Status int
	Body   string
	// ServedBy is the X-Served-By header: the pod that answered.
	ServedBy string
}

// Do sends one request with Host: my-app.com and reads the whole answer.
func (in *Ingress) Do(ctx context.Context, method, path string, body io.Reader) (Response, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, in.base+path, body)
	if err != nil {
		return Response{}, err
	}
	req.Host = Host
	resp, err := in.client.Do(req)
	if err != nil {
		return Response{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Response{}, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	return Response{Status: resp.StatusCode, Body: string(b), ServedBy: resp.Header.Get("X-Served-By")}, nil
}

// Get is Do for a GET that must answer 200.
func (in *Ingress) Get(ctx context.Context, path string) (Response, error) {
	r, err := in.Do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return r, err
	}
	if r.Status != http.StatusOK {
		return r, fmt.Errorf("GET %s: %d %s", path, r.Status, firstLine(r.Body))
	}
	return r, nil
}

// servedBy sends up to max GETs of path and counts the answers by pod,
// stopping once want different pods have answered. A failed request
// ends it with an error.
func servedBy(ctx context.Context, in *Ingress, path string, want, max int) (map[string]int, error) {
	seen := map[string]int{}
	for i := 0; i < max && len(seen) < want; i++ {
		r, err := in.Get(ctx, path)
		if err != nil {
			return seen, err
		}
		if r.ServedBy == "" {
			return seen, fmt.Errorf("GET %s: no X-Served-By header", path)
		}
		seen[r.ServedBy]++
	}
	return seen, nil
}

// page is the application's answer to GET /.
type page struct {
	greeting, pod string
	visits        int
}

// parsePage reads "my-app\ngreeting: G\npod: P\nvisits: N\n".
func parsePage(body string) (page, error) {
	lines := strings.Split(strings.TrimRight(body, "\n"), "\n")
	if len(lines) == 0 || lines[0] != "my-app" {
		return page{}, fmt.Errorf("not my-app's page: %q", firstLine(body))
	}
	var p page
	var haveGreeting, havePod, haveVisits bool
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ": ")
		if !ok {
			k, v = strings.TrimSuffix(l, ":"), "" // "greeting: " with an empty greeting
		}
		switch k {
		case "greeting":
			p.greeting, haveGreeting = v, true
		case "pod":
			p.pod, havePod = v, true
		case "visits":
			n, err := strconv.Atoi(v)
			if err != nil {
				return page{}, fmt.Errorf("my-app's page: visits %q", v)
			}
			p.visits, haveVisits = n, true
		}
	}
	if !haveGreeting || !havePod || !haveVisits {
		return page{}, fmt.Errorf("my-app's page lacks greeting, pod or visits: %q", body)
	}
	return p, nil
}

// load sends GET / through the Ingress, one request at a time and at
// most one per interval, until stop; it counts what failed (a transport
// error or any status but 200).
type load struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	sent     int
	failed   int
	firstErr error
	byPod    map[string]int
}

// startLoad starts sending; stop ends it and returns the counts.
func startLoad(ctx context.Context, in *Ingress, interval time.Duration) *load {
	ctx, cancel := context.WithCancel(ctx)
	l := &load{cancel: cancel, done: make(chan struct{}), byPod: map[string]int{}}
	go func() {
		defer close(l.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			r, err := in.Get(ctx, "/")
			if ctx.Err() != nil {
				return // stopped mid-request: not the application's failure
			}
			l.record(r, err)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return l
}

func (l *load) record(r Response, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent++
	if err != nil {
		l.failed++
		if l.firstErr == nil {
			l.firstErr = fmt.Errorf("request %d at %s: %w", l.sent, time.Now().Format("15:04:05.000"), err)
		}
		return
	}
	l.byPod[r.ServedBy]++
}

// loadResult is what a load saw.
type loadResult struct {
	sent, failed int
	firstErr     error
	byPod        map[string]int
}

// stop ends the load and waits for its last request.
func (l *load) stop() loadResult {
	l.cancel()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return loadResult{sent: l.sent, failed: l.failed, firstErr: l.firstErr, byPod: l.byPod}
}

// countsByPod formats {"b": 3, "a": 2} as "a ×2, b ×3".
func countsByPod(m map[string]int) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s ×%d", n, m[n])
	}
	return strings.Join(parts, ", ")
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

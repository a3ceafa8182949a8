package apiserver

import (
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Upstream's --max-requests-inflight and --max-mutating-requests-inflight
// defaults.
const (
	maxReadsInFlight  = 400
	maxWritesInFlight = 200
)

// inflight bounds concurrent short requests, reads and writes separately,
// answering 429 with Retry-After beyond the bound (client-go waits and
// retries). Without it, a burst of clients (thousands of nodes
// registering at once) queues work until every request times out;
// with it, the excess is refused cheaply and served a second later.
// Long-running requests (watches, logs, exec, attach, port-forward) are
// not counted.
type inflight struct {
	reads, writes chan struct{}
}

func newInflight(reads, writes int) *inflight {
	return &inflight{reads: make(chan struct{}, reads), writes: make(chan struct{}, writes)}
}

// wrap admits requests to next; refused ones get Retry-After and an
// error from writeError.
func (f *inflight) wrap(writeError func(http.ResponseWriter, *http.Request, error), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if longRunning(r) {
			next.ServeHTTP(w, r)
			return
		}
		slots := f.reads
		if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions {
			slots = f.writes
		}
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
			next.ServeHTTP(w, r)
		default:
			w.Header().Set("Retry-After", "1")
			writeError(w, r, apierrors.NewTooManyRequests("too many requests in flight, please try again later", 1))
		}
	})
}

// longRunning: watches and streaming subresources.
func longRunning(r *http.Request) bool {
	if v := r.URL.Query().Get("watch"); v == "true" || v == "1" {
		return true
	}
	if strings.Contains(r.URL.Path, "/watch/") {
		return true
	}
	for _, sub := range []string{"/log", "/exec", "/attach", "/portforward", "/proxy"} {
		if strings.HasSuffix(r.URL.Path, sub) || strings.Contains(r.URL.Path, sub+"/") {
			return true
		}
	}
	return strings.HasPrefix(r.URL.Path, "/debug/pprof/")
}

package demo

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeApp is my-app's HTTP surface as the Ingress passes it on: it
// answers only Host my-app.com, on fresh connections, from the pods in
// turn (round robin, as a balancing Ingress would).
type fakeApp struct {
	pods     []string
	greeting string
	fail     func(n int64) bool // answer 503 to request n (from 1)

	n        atomic.Int64
	mu       sync.Mutex
	kv       map[string]string
	visits   int
	reused   atomic.Int64 // requests on a connection that served before
	badHosts atomic.Int64
}

func (a *fakeApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := a.n.Add(1)
	if r.Host != Host {
		a.badHosts.Add(1)
		http.Error(w, "no rule for "+r.Host, http.StatusNotFound)
		return
	}
	pod := a.pods[int(n-1)%len(a.pods)]
	w.Header().Set("X-Served-By", pod)
	if a.fail != nil && a.fail(n) {
		http.Error(w, "no endpoints", http.StatusServiceUnavailable)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case r.URL.Path == "/" && r.Method == http.MethodGet:
		a.visits++
		fmt.Fprintf(w, "my-app\ngreeting: %s\npod: %s\nvisits: %d\n", a.greeting, pod, a.visits)
	case strings.HasPrefix(r.URL.Path, "/kv/") && r.Method == http.MethodPut:
		b, _ := io.ReadAll(r.Body)
		a.kv[strings.TrimPrefix(r.URL.Path, "/kv/")] = string(b)
		w.WriteHeader(http.StatusNoContent)
	case strings.HasPrefix(r.URL.Path, "/kv/") && r.Method == http.MethodGet:
		v, ok := a.kv[strings.TrimPrefix(r.URL.Path, "/kv/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, v)
	default:
		http.NotFound(w, r)
	}
}

// serveFake starts app on loopback and returns an Ingress client of it.
func serveFake(t *testing.T, app *fakeApp) *Ingress {
	t.Helper()
	if app.kv == nil {
		app.kv = map[string]string{}
	}
	srv := httptest.NewUnstartedServer(app)
	seen := map[net.Conn]bool{}
	var mu sync.Mutex
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s != http.StateActive {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if seen[c] {
			app.reused.Add(1)
		}
		seen[c] = true
	}
	srv.Start()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return NewIngress(p)
}

func TestIngressSendsHostOnFreshConnections(t *testing.T) {
	app := &fakeApp{pods: []string{"my-app-a", "my-app-b"}, greeting: "hello"}
	in := serveFake(t, app)
	ctx := context.Background()
	for range 5 {
		r, err := in.Get(ctx, "/")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parsePage(r.Body); err != nil {
			t.Error(err)
		}
	}
	if got := app.badHosts.Load(); got != 0 {
		t.Errorf("%d requests without Host %s", got, Host)
	}
	if got := app.reused.Load(); got != 0 {
		t.Errorf("%d requests reused a connection; each must open its own", got)
	}
}

func TestIngressPutGet(t *testing.T) {
	in := serveFake(t, &fakeApp{pods: []string{"p"}})
	ctx := context.Background()
	r, err := in.Do(ctx, http.MethodPut, "/kv/"+Key, strings.NewReader("blue"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != http.StatusNoContent {
		t.Errorf("PUT status = %d, want 204", r.Status)
	}
	r, err = in.Get(ctx, "/kv/"+Key)
	if err != nil {
		t.Fatal(err)
	}
	if r.Body != "blue" || r.ServedBy != "p" {
		t.Errorf("GET = %q served by %q, want \"blue\" by p", r.Body, r.ServedBy)
	}
	if _, err := in.Get(ctx, "/kv/missing"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("GET of a missing key: err = %v, want a 404", err)
	}
}

func TestServedBy(t *testing.T) {
	tests := []struct {
		name     string
		pods     []string
		fail     func(int64) bool
		want     map[string]int
		wantErr  bool
		requests int64
	}{
		{name: "both answer", pods: []string{"my-app-a", "my-app-b"},
			want: map[string]int{"my-app-a": 1, "my-app-b": 1}, requests: 2},
		{name: "one replica only", pods: []string{"my-app-a"},
			want: map[string]int{"my-app-a": 6}, requests: 6},
		{name: "a failure ends it", pods: []string{"my-app-a", "my-app-b"}, fail: func(n int64) bool { return n == 1 },
			want: map[string]int{}, wantErr: true, requests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := &fakeApp{pods: tt.pods, fail: tt.fail}
			in := serveFake(t, app)
			got, err := servedBy(context.Background(), in, "/", 2, 6)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error: %t", err, tt.wantErr)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("served by %v, want %v", got, tt.want)
			}
			if n := app.n.Load(); n != tt.requests {
				t.Errorf("%d requests sent, want %d", n, tt.requests)
			}
		})
	}
}

func TestLoadCountsFailures(t *testing.T) {
	tests := []struct {
		name    string
		fail    func(int64) bool
		closed  bool // nothing listens: transport errors
		wantAll bool // every request fails
	}{
		{name: "all answer"},
		{name: "one 503", fail: func(n int64) bool { return n == 3 }},
		{name: "nothing listens", closed: true, wantAll: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := &fakeApp{pods: []string{"a", "b"}, fail: tt.fail}
			in := serveFake(t, app)
			if tt.closed {
				in = NewIngress(closedPort(t))
			}
			l := startLoad(context.Background(), in, time.Millisecond)
			deadline := time.Now().Add(10 * time.Second)
			for {
				l.mu.Lock()
				sent := l.sent
				l.mu.Unlock()
				if sent >= 10 || time.Now().After(deadline) {
					break
				}
				time.Sleep(time.Millisecond)
			}
			res := l.stop()
			if res.sent < 10 {
				t.Fatalf("%d requests sent in 10s", res.sent)
			}
			wantFailed := 0
			switch {
			case tt.wantAll:
				wantFailed = res.sent
			case tt.fail != nil:
				wantFailed = 1
			}
			if res.failed != wantFailed {
				t.Errorf("failed = %d of %d, want %d (first: %v)", res.failed, res.sent, wantFailed, res.firstErr)
			}
			if (res.firstErr != nil) != (wantFailed > 0) {
				t.Errorf("first error = %v with %d failures", res.firstErr, wantFailed)
			}
			if tt.fail != nil && !strings.Contains(fmt.Sprint(res.firstErr), "request 3") {
				t.Errorf("first error = %v, want request 3's", res.firstErr)
			}
			if !tt.closed && res.byPod["a"]+res.byPod["b"] != res.sent-res.failed {
				t.Errorf("by pod %v does not add up to %d answers", res.byPod, res.sent-res.failed)
			}
		})
	}
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func TestParsePage(t *testing.T) {
	tests := []struct {
		body    string
		want    page
		wantErr bool
	}{
		{body: "my-app\ngreeting: hello\npod: my-app-1\nvisits: 7\n", want: page{greeting: "hello", pod: "my-app-1", visits: 7}},
		{body: "my-app\ngreeting: hello from k1s\npod: p\nvisits: 1\n", want: page{greeting: "hello from k1s", pod: "p", visits: 1}},
		{body: "my-app\ngreeting: \npod: p\nvisits: 0\n", want: page{greeting: "", pod: "p", visits: 0}},
		{body: "my-app\ngreeting:\npod: p\nvisits: 0", want: page{greeting: "", pod: "p", visits: 0}},
		{body: "default backend - 404\n", wantErr: true},
		{body: "my-app\npod: p\nvisits: 1\n", wantErr: true},
		{body: "my-app\ngreeting: hi\npod: p\nvisits: many\n", wantErr: true},
		{body: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parsePage(tt.body)
		if (err != nil) != tt.wantErr {
			t.Errorf("parsePage(%q) err = %v, want error: %t", tt.body, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("parsePage(%q) = %+v, want %+v", tt.body, got, tt.want)
		}
	}
}

func TestCountsByPod(t *testing.T) {
	if got, want := countsByPod(map[string]int{"b": 3, "a": 2}), "a ×2, b ×3"; got != want {
		t.Errorf("countsByPod = %q, want %q", got, want)
	}
}

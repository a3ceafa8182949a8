package apiserver

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestInflightRefusesBeyondTheBound(t *testing.T) {
	f := newInflight(1, 1)
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	refuse := func(w http.ResponseWriter, r *http.Request, err error) { w.WriteHeader(http.StatusTooManyRequests) }
	h := f.wrap(refuse, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}))
	serve := func(method, target string) chan int {
		done := make(chan int, 1)
		go func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
			done <- rec.Code
		}()
		return done
	}
	read := serve(http.MethodGet, "/api/v1/pods")
	write := serve(http.MethodPost, "/api/v1/namespaces/a/pods")
	<-entered
	<-entered
	// Both slots are taken: another read and another write are refused,
	// a watch is not counted.
	for _, tc := range []struct{ method, target string }{
		{http.MethodGet, "/api/v1/nodes"},
		{http.MethodPut, "/api/v1/nodes/a"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.target, nil))
		if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" {
			t.Errorf("%s %s: %d (Retry-After %q), want 429 with Retry-After 1", tc.method, tc.target, rec.Code, rec.Header().Get("Retry-After"))
		}
	}
	watch := serve(http.MethodGet, "/api/v1/pods?watch=true")
	<-entered
	close(release)
	for _, ch := range []chan int{read, write, watch} {
		if code := <-ch; code != http.StatusOK {
			t.Errorf("admitted request: %d", code)
		}
	}
}

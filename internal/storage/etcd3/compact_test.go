package etcd3_test

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/k1s/k1s/internal/storage"
	"github.com/k1s/k1s/internal/storage/storagetest"
)

// A watch that falls behind a compaction ends with a 410 Expired event.
func TestWatchCompactedWhileRunning(t *testing.T) {
	client := storagetest.StartEtcd(t)
	s := newStore(t, client, nil)
	ctx := t.Context()
	// etcd catches a new watch up on old revisions in the background; a
	// compaction right after the watch starts usually comes first. If the
	// watch wins the race, try again with a fresh backlog.
	for attempt := range 5 {
		start, err := s.CurrentRevision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2000 {
			if _, err := client.Put(ctx, fmt.Sprintf("/registry/pods/ns1/p%d", i), "{}"); err != nil {
				t.Fatal(err)
			}
		}
		w, err := s.Watch(ctx, "/registry/pods/", storage.ListOptions{ResourceVersion: strconv.FormatInt(start, 10), Recursive: true})
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		rev, err := s.CurrentRevision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.Compact(ctx, rev); err != nil {
			t.Fatalf("compact: %v", err)
		}
		for {
			ev := storagetest.Next(t, w)
			if ev.Type != watch.Error {
				if ev.Object.(interface{ GetResourceVersion() string }).GetResourceVersion() == strconv.FormatInt(rev, 10) {
					break // caught up before the compaction
				}
				continue
			}
			st, ok := ev.Object.(*metav1.Status)
			if !ok || st.Code != http.StatusGone || st.Reason != metav1.StatusReasonExpired {
				t.Fatalf("error event %v, want 410 Expired", ev.Object)
			}
			if _, ok := <-w.ResultChan(); ok {
				t.Errorf("event after the error")
			}
			w.Stop()
			return
		}
		w.Stop()
		t.Logf("attempt %d: the watch caught up before the compaction", attempt)
	}
	t.Errorf("the watch always caught up before the compaction")
}

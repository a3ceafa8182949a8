package expectations

import (
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func TestExpectations(t *testing.T) {
	now := t0
	e := New(func() time.Time { return now })
	const key = "ns/rs"
	if !e.Satisfied(key) {
		t.Fatal("nothing expected should be satisfied")
	}
	e.ExpectCreations(key, 2)
	if e.Satisfied(key) {
		t.Fatal("satisfied with 2 creations outstanding")
	}
	e.CreationObserved(key)
	e.CreationObserved(key)
	if !e.Satisfied(key) {
		t.Fatal("not satisfied after both creations were observed")
	}
	e.CreationObserved(key) // more than expected: no harm
	e.ExpectDeletions(key, []string{"ns/a", "ns/b"})
	e.DeletionObserved(key, "ns/a")
	e.DeletionObserved(key, "ns/a") // the update, then the delete event
	if e.Satisfied(key) {
		t.Fatal("satisfied with ns/b's deletion outstanding")
	}
	now = now.Add(expectationsTTL + time.Second)
	if !e.Satisfied(key) {
		t.Fatal("expectations should expire")
	}
	now = t0
	e.ExpectCreations(key, 1)
	e.Forget(key)
	if !e.Satisfied(key) {
		t.Fatal("forgotten expectations should be satisfied")
	}
}

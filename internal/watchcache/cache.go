package watchcache

import (
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// entry is one cached object. Entries and their objects are never changed
// once made: a new state is a new entry.
type entry struct {
	key    string
	obj    runtime.Object
	labels labels.Set
	fields fields.Set
}

// event is one change the cache applied, shared by every watcher.
type event struct {
	typ watch.EventType // Added, Modified, Deleted; Bookmark carries only rev
	key string
	rev int64
	// cur is the new state, nil for Deleted. prev is the state before, nil
	// for Added; for Deleted it is the last state at the delete revision.
	cur, prev *entry
}

// state is the cached objects sorted by key, so a prefix is a contiguous
// range found by binary search.
type state struct {
	entries []*entry
}

func (s *state) find(key string) (int, bool) {
	i := sort.Search(len(s.entries), func(i int) bool { return s.entries[i].key >= key })
	return i, i < len(s.entries) && s.entries[i].key == key
}

func (s *state) get(key string) *entry {
	if i, ok := s.find(key); ok {
		return s.entries[i]
	}
	return nil
}

// put stores e and returns the entry it replaced, if any.
func (s *state) put(e *entry) *entry {
	i, ok := s.find(e.key)
	if ok {
		prev := s.entries[i]
		s.entries[i] = e
		return prev
	}
	s.entries = slices.Insert(s.entries, i, e)
	return nil
}

// remove deletes key and returns its entry, if any.
func (s *state) remove(key string) *entry {
	i, ok := s.find(key)
	if !ok {
		return nil
	}
	prev := s.entries[i]
	s.entries = slices.Delete(s.entries, i, i+1)
	return prev
}

// scope returns the entries a watch or list of key sees: every key under
// it if recursive, else key alone. The slice is the state's own: valid
// only while the cache lock is held.
func (s *state) scope(key string, recursive bool) []*entry {
	if !recursive {
		if i, ok := s.find(key); ok {
			return s.entries[i : i+1]
		}
		return nil
	}
	lo, _ := s.find(key)
	hi := lo + sort.Search(len(s.entries)-lo, func(i int) bool {
		return !strings.HasPrefix(s.entries[lo+i].key, key)
	})
	return s.entries[lo:hi]
}

// window is the sliding window of the newest events, a ring buffer of fixed
// capacity: memory stays bounded however fast objects change.
type window struct {
	buf  []*event
	head int // index of the oldest event
	n    int
	// start is the oldest revision a watch can start from: every event
	// after it is in the window.
	start int64
}

func newWindow(capacity int, start int64) window {
	return window{buf: make([]*event, capacity), start: start}
}

// reset empties the window; watches can start from rev on.
func (w *window) reset(rev int64) {
	clear(w.buf)
	w.head, w.n, w.start = 0, 0, rev
}

func (w *window) add(ev *event) {
	if w.n == len(w.buf) {
		w.start = w.buf[w.head].rev
		w.buf[w.head] = nil
		w.head = (w.head + 1) % len(w.buf)
		w.n--
	}
	w.buf[(w.head+w.n)%len(w.buf)] = ev
	w.n++
}

func (w *window) at(i int) *event { return w.buf[(w.head+i)%len(w.buf)] }

// since returns the events after rev, or false if some of them have
// already left the window.
func (w *window) since(rev int64) ([]*event, bool) {
	if rev < w.start {
		return nil, false
	}
	i := sort.Search(w.n, func(i int) bool { return w.at(i).rev > rev })
	out := make([]*event, 0, w.n-i)
	for ; i < w.n; i++ {
		out = append(out, w.at(i))
	}
	return out, true
}

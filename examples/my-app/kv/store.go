package kv

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Limits of a Store. A key becomes a file name (base64, 4/3 of its
// length), which must stay under the usual 255-byte limit.
const (
	MaxKeySize   = 128
	MaxValueSize = 1 << 20
)

var (
	// ErrNotFound: the key has no value.
	ErrNotFound = errors.New("key not found")
	// ErrInvalid: a key or value outside the limits, or a counter that is
	// not a number.
	ErrInvalid = errors.New("invalid")
)

// File names in the data directory: committed values and writes in
// progress. Anything else (lost+found, say) is left alone.
const (
	valuePrefix = "v-"
	tempPrefix  = ".tmp-"
)

// Store is a durable string-to-bytes map in a directory. It is safe for
// concurrent use; writes are serialized so that the file on disk and the
// value in memory always agree.
type Store struct {
	dir string

	mu     sync.RWMutex
	values map[string][]byte
}

// Open loads the store kept in dir, creating dir if needed, and removes
// the temporary files of writes a crash interrupted.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &Store{dir: dir, values: map[string][]byte{}}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, tempPrefix):
			// A write that never reached its rename: it was not acknowledged.
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return nil, fmt.Errorf("open store: %w", err)
			}
		case strings.HasPrefix(name, valuePrefix) && e.Type().IsRegular():
			key, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(name, valuePrefix))
			if err != nil {
				return nil, fmt.Errorf("open store: file %s: %w", name, err)
			}
			v, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				return nil, fmt.Errorf("open store: %w", err)
			}
			s.values[string(key)] = v
		}
	}
	return s, nil
}

// Len returns the number of keys.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.values)
}

// Get returns a copy of key's value, or ErrNotFound.
func (s *Store) Get(key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.values[key]
	if !ok {
		return nil, fmt.Errorf("get %q: %w", key, ErrNotFound)
	}
	return append([]byte{}, v...), nil
}

// Put sets key to value. When it returns nil the value is on disk.
func (s *Store) Put(key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if len(value) > MaxValueSize {
		return fmt.Errorf("put %q: value of %d bytes is over %d: %w", key, len(value), MaxValueSize, ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.putLocked(key, value)
}

// Delete removes key; it returns ErrNotFound if key had no value.
func (s *Store) Delete(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.values[key]; !ok {
		return fmt.Errorf("delete %q: %w", key, ErrNotFound)
	}
	if err := os.Remove(s.path(key)); err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	delete(s.values, key)
	return nil
}

// Add adds delta to the decimal integer stored at key (a missing key
// counts as 0) and returns the new value. It is atomic: concurrent Adds
// never lose an increment.
func (s *Store) Add(key string, delta int64) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	if v, ok := s.values[key]; ok {
		var err error
		if n, err = strconv.ParseInt(string(v), 10, 64); err != nil {
			return 0, fmt.Errorf("add to %q: value is not an integer: %w", key, ErrInvalid)
		}
	}
	n += delta
	if err := s.putLocked(key, []byte(strconv.FormatInt(n, 10))); err != nil {
		return 0, err
	}
	return n, nil
}

func (s *Store) putLocked(key string, value []byte) error {
	if err := writeFileAtomic(s.dir, s.path(key), value); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	s.values[key] = append([]byte{}, value...)
	return nil
}

func (s *Store) path(key string) string {
	return filepath.Join(s.dir, valuePrefix+base64.RawURLEncoding.EncodeToString([]byte(key)))
}

func checkKey(key string) error {
	if key == "" || len(key) > MaxKeySize {
		return fmt.Errorf("key of %d bytes (want 1 to %d): %w", len(key), MaxKeySize, ErrInvalid)
	}
	return nil
}

// writeFileAtomic replaces path (in dir) with data: write a temporary
// file, sync it, rename it over path, sync the directory. A crash at any
// point leaves the old file or the new one, plus perhaps a temporary
// file that Open removes.
func writeFileAtomic(dir, path string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes renames and removals in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

package kv

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestStorePutGetDelete(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		op      func() error
		wantErr error
	}{
		{"put", func() error { return s.Put("a", []byte("1")) }, nil},
		{"overwrite", func() error { return s.Put("a", []byte("2")) }, nil},
		{"put empty value", func() error { return s.Put("empty", nil) }, nil},
		{"put odd key", func() error { return s.Put("x/../y é", []byte("odd")) }, nil},
		{"empty key", func() error { return s.Put("", []byte("v")) }, ErrInvalid},
		{"long key", func() error { return s.Put(strings.Repeat("k", MaxKeySize+1), nil) }, ErrInvalid},
		{"big value", func() error { return s.Put("big", make([]byte, MaxValueSize+1)) }, ErrInvalid},
		{"delete missing", func() error { return s.Delete("missing") }, ErrNotFound},
		{"get missing", func() error { _, err := s.Get("missing"); return err }, ErrNotFound},
		{"put then delete", func() error {
			if err := s.Put("gone", []byte("x")); err != nil {
				return err
			}
			return s.Delete("gone")
		}, nil},
		{"get deleted", func() error { _, err := s.Get("gone"); return err }, ErrNotFound},
	}
	for _, tt := range tests {
		if err := tt.op(); !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.wantErr)
		}
	}
	for key, want := range map[string]string{"a": "2", "empty": "", "x/../y é": "odd"} {
		got, err := s.Get(key)
		if err != nil || string(got) != want {
			t.Errorf("Get(%q) = %q, %v; want %q", key, got, err, want)
		}
	}
	if got := s.Len(); got != 3 {
		t.Errorf("Len() = %d, want 3", got)
	}
}

func TestStoreGetReturnsCopy(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	v := []byte("abc")
	if err := s.Put("k", v); err != nil {
		t.Fatal(err)
	}
	v[0] = 'X'
	got, _ := s.Get("k")
	got[1] = 'Y'
	if again, _ := s.Get("k"); string(again) != "abc" {
		t.Errorf("Get after caller mutations = %q, want abc", again)
	}
}

func TestStorePersistsAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := s.Put(fmt.Sprintf("key-%d", i), []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete("key-3"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add("visits", 5); err != nil {
		t.Fatal(err)
	}

	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := s2.Len(); got != 20 {
		t.Errorf("reopened Len() = %d, want 20", got)
	}
	if got, err := s2.Get("key-7"); err != nil || string(got) != "7" {
		t.Errorf("reopened Get(key-7) = %q, %v", got, err)
	}
	if _, err := s2.Get("key-3"); !errors.Is(err, ErrNotFound) {
		t.Errorf("reopened Get(key-3) err = %v, want ErrNotFound", err)
	}
	if n, err := s2.Add("visits", 1); err != nil || n != 6 {
		t.Errorf("reopened Add(visits, 1) = %d, %v; want 6", n, err)
	}
}

// A crash between writing the temporary file and renaming it leaves a
// partial file behind: the old value must stay, and Open cleans up.
func TestStoreIgnoresPartialWrite(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put("k", []byte("committed")); err != nil {
		t.Fatal(err)
	}
	partial := filepath.Join(dir, tempPrefix+"12345")
	if err := os.WriteFile(partial, []byte("half-writ"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Files the store does not own (a filesystem's lost+found, say) stay.
	other := filepath.Join(dir, "lost+found")
	if err := os.Mkdir(other, 0o700); err != nil {
		t.Fatal(err)
	}

	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.Get("k"); err != nil || string(got) != "committed" {
		t.Errorf("Get(k) after crash = %q, %v; want committed", got, err)
	}
	if s2.Len() != 1 {
		t.Errorf("Len() = %d, want 1", s2.Len())
	}
	if _, err := os.Stat(partial); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("partial write %s still there: %v", partial, err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("foreign entry removed: %v", err)
	}
}

func TestStoreAdd(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put("text", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key     string
		delta   int64
		want    int64
		wantErr error
	}{
		{"c", 1, 1, nil},
		{"c", 1, 2, nil},
		{"c", -5, -3, nil},
		{"text", 1, 0, ErrInvalid},
		{"", 1, 0, ErrInvalid},
	}
	for _, tt := range tests {
		got, err := s.Add(tt.key, tt.delta)
		if got != tt.want || !errors.Is(err, tt.wantErr) {
			t.Errorf("Add(%q, %d) = %d, %v; want %d, %v", tt.key, tt.delta, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestStoreConcurrentAccess(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 8, 25
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := fmt.Sprintf("worker-%d", w)
			for i := range rounds {
				if _, err := s.Add("counter", 1); err != nil {
					t.Error(err)
					return
				}
				if err := s.Put(own, []byte(strconv.Itoa(i))); err != nil {
					t.Error(err)
					return
				}
				if err := s.Put("shared", []byte(own)); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Get("shared"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()

	// What memory says is what the disk says.
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s2.Get("counter"); string(got) != strconv.Itoa(workers*rounds) {
		t.Errorf("counter = %s, want %d", got, workers*rounds)
	}
	inMemory, _ := s.Get("shared")
	onDisk, _ := s2.Get("shared")
	if string(inMemory) != string(onDisk) {
		t.Errorf("shared: memory %q, disk %q", inMemory, onDisk)
	}
	for w := range workers {
		key := fmt.Sprintf("worker-%d", w)
		if got, _ := s2.Get(key); string(got) != strconv.Itoa(rounds-1) {
			t.Errorf("%s = %q, want %d", key, got, rounds-1)
		}
	}
}

// TestStoreSurvivesKill runs writes in a child process, kills it with
// SIGKILL mid-stream, and checks that every write the child reported as
// done is there, and the store opens cleanly.
func TestStoreSurvivesKill(t *testing.T) {
	if dir := os.Getenv("KV_TEST_WRITER_DIR"); dir != "" {
		writeForever(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestStoreSurvivesKill$")
	cmd.Env = append(os.Environ(), "KV_TEST_WRITER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	acked := -1
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(30 * time.Second)
	for acked < 50 && sc.Scan() {
		if n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "acked ")); err == nil {
			acked = n
		}
		if time.Now().After(deadline) {
			t.Fatal("writer too slow")
		}
	}
	if acked < 50 {
		t.Fatalf("writer stopped after %d writes: %v", acked, sc.Err())
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open after kill: %v", err)
	}
	for i := 0; i <= acked; i++ {
		if got, err := s.Get(fmt.Sprintf("k%d", i)); err != nil || string(got) != strconv.Itoa(i) {
			t.Fatalf("acknowledged write k%d = %q, %v", i, got, err)
		}
	}
	if n, err := s.Get("last"); err != nil {
		t.Errorf("Get(last): %v", err)
	} else if v, _ := strconv.Atoi(string(n)); v < acked {
		t.Errorf("last = %d, want at least %d", v, acked)
	}
}

// writeForever is the child of TestStoreSurvivesKill: it writes until
// killed (or for a minute, should its parent die first) and reports each
// write once Put has returned.
func writeForever(dir string) {
	s, err := Open(dir)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	stop := time.Now().Add(time.Minute)
	for i := 0; time.Now().Before(stop); i++ {
		v := []byte(strconv.Itoa(i))
		if err := s.Put(fmt.Sprintf("k%d", i), v); err != nil {
			fmt.Println("put:", err)
			os.Exit(1)
		}
		if err := s.Put("last", v); err != nil {
			fmt.Println("put:", err)
			os.Exit(1)
		}
		fmt.Printf("acked %d\n", i)
	}
}

package volume

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// file is one entry of a volume's payload.
type file struct {
	data []byte
	mode int32
}

const (
	dataLink    = "..data"
	dataLinkTmp = "..data_tmp"
)

// validatePayloadPath rejects paths that could leave the volume or collide
// with the writer's own "..": names.
func validatePayloadPath(p string) error {
	switch {
	case p == "":
		return errors.New("invalid path: must not be empty")
	case filepath.IsAbs(p):
		return fmt.Errorf("invalid path %q: must be relative", p)
	case strings.HasPrefix(p, ".."):
		return fmt.Errorf("invalid path %q: must not start with '..'", p)
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return fmt.Errorf("invalid path %q: must not contain '..'", p)
		}
	}
	return nil
}

// writeAtomic makes dir hold exactly payload, so that a reader of dir/<path>
// sees either all old or all new contents: the files go into a new
// timestamped directory, the "..data" symlink is switched to it with a rename,
// and the user-visible top-level names are symlinks through "..data". fsGroup,
// if not -1, becomes the group of everything written.
func writeAtomic(dir string, payload map[string]file, fsGroup int) error {
	top := map[string]bool{}
	cleaned := make(map[string]file, len(payload))
	for p, f := range payload {
		if err := validatePayloadPath(p); err != nil {
			return err
		}
		p = filepath.Clean(p)
		cleaned[p] = f
		top[strings.SplitN(p, "/", 2)[0]] = true
	}
	payload = cleaned

	current, err := os.Readlink(filepath.Join(dir, dataLink))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if current == "" || !sameContents(filepath.Join(dir, current), payload) {
		tsDir, err := writeTimestampDir(dir, payload, fsGroup)
		if err != nil {
			return err
		}
		tmp := filepath.Join(dir, dataLinkTmp)
		if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := os.Symlink(filepath.Base(tsDir), tmp); err != nil {
			return err
		}
		if err := os.Rename(tmp, filepath.Join(dir, dataLink)); err != nil {
			return err
		}
		current = filepath.Base(tsDir)
	}

	// Make every top-level name a symlink through ..data, drop stale ones and
	// old timestamped directories.
	for name := range top {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); errors.Is(err, fs.ErrNotExist) {
			if err := os.Symlink(filepath.Join(dataLink, name), link); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == dataLink || name == current:
		case strings.HasPrefix(name, ".."):
			if e.IsDir() { // a timestamped directory no longer in use
				if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
					return err
				}
			}
		case !top[name] && e.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(filepath.Join(dir, name))
			if err == nil && strings.HasPrefix(target, dataLink+"/") {
				if err := os.Remove(filepath.Join(dir, name)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func writeTimestampDir(dir string, payload map[string]file, fsGroup int) (string, error) {
	tsDir, err := os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return "", err
	}
	// Others must be able to traverse it whatever the umask.
	if err := os.Chmod(tsDir, 0o755); err != nil {
		return "", err
	}
	chown := func(p string) error {
		if fsGroup < 0 {
			return nil
		}
		return os.Lchown(p, -1, fsGroup)
	}
	if err := chown(tsDir); err != nil {
		return "", err
	}
	for p, f := range payload {
		full := filepath.Join(tsDir, filepath.Clean(p))
		for d := filepath.Dir(full); d != tsDir; d = filepath.Dir(d) {
			if _, err := os.Stat(d); err == nil {
				break
			}
			if err := os.MkdirAll(d, 0o755); err != nil {
				return "", err
			}
			if err := chown(d); err != nil {
				return "", err
			}
		}
		perm := os.FileMode(f.mode) & os.ModePerm
		if err := os.WriteFile(full, f.data, perm); err != nil {
			return "", err
		}
		if err := chown(full); err != nil {
			return "", err
		}
		if err := os.Chmod(full, perm); err != nil {
			return "", err
		}
	}
	return tsDir, nil
}

// sameContents reports whether tsDir holds exactly payload, modes included.
func sameContents(tsDir string, payload map[string]file) bool {
	seen := 0
	err := filepath.WalkDir(tsDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(tsDir, p)
		if err != nil {
			return err
		}
		want, ok := payload[rel]
		if !ok {
			return fs.ErrNotExist
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode().Perm() != os.FileMode(want.mode)&os.ModePerm {
			return fs.ErrInvalid
		}
		got, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want.data) {
			return fs.ErrInvalid
		}
		seen++
		return nil
	})
	return err == nil && seen == len(payload)
}

package image

import (
	"io/fs"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BusyboxPath is where busybox-static installs its binary.
const BusyboxPath = "/bin/busybox"

// busyboxApplets are linked into /bin of a BusyboxImage.
func busyboxApplets() []string {
	return []string{
		"[", "awk", "basename", "cat", "chmod", "chown", "cp", "cut", "date", "dd",
		"df", "dirname", "du", "echo", "env", "expr", "false", "find", "grep", "head",
		"hostname", "httpd", "id", "ifconfig", "ip", "kill", "ln", "ls", "mkdir", "mount",
		"mv", "nc", "nslookup", "ping", "printf", "ps", "pwd", "readlink", "realpath", "rm",
		"sed", "seq", "sh", "sleep", "sort", "stat", "sync", "tail", "tee", "test",
		"timeout", "top", "touch", "tr", "true", "umount", "uname", "uniq", "vi", "wc",
		"wget", "which", "whoami", "xargs", "yes",
	}
}

// BusyboxImage builds a small test image: the host's static busybox as
// /bin/busybox with applet symlinks (sh, ls, cat, wget, nc, ...), a
// world-writable /tmp, /etc/passwd and /etc/group with root and nobody,
// and then extra, which may override any of those. Cmd is ["sh"].
func BusyboxImage(ref string, extra ...File) (v1.Image, error) {
	files := []File{
		{Path: "/bin/busybox", HostPath: BusyboxPath, Mode: 0o755},
		{Path: "/tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
		{Path: "/etc/passwd", Data: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")},
		{Path: "/etc/group", Data: []byte("root:x:0:\nnogroup:x:65534:\n")},
		{Path: "/root", Mode: fs.ModeDir | 0o700},
	}
	for _, a := range busyboxApplets() {
		files = append(files, File{Path: "/bin/" + a, Link: "busybox"})
	}
	files = append(files, extra...)
	return Build(ref, files, ImageConfig{
		Cmd: []string{"sh"},
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	})
}

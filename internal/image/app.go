package image

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// The images of the reference application in examples/my-app: the web
// service and its key-value database.
const (
	AppImageRef   = "k1s.local/my-app:latest"
	AppDBImageRef = "k1s.local/my-app-db:latest"
)

// AppUID is the user (and group) the my-app images run as, not root: the
// "nonroot" user of distroless images, which the manifests' runAsUser
// repeats for Pod Security "restricted".
const AppUID = 65532

// appCommand is one command of examples/my-app and the image made of it.
type appCommand struct {
	ref        string
	pkg        string // package path relative to the module
	bin        string // file name go build gives it
	entrypoint string // where the binary goes in the image
	port       string // the port it serves, recorded as exposed
	extra      []File
}

func appCommands() []appCommand {
	return []appCommand{
		{ref: AppImageRef, pkg: "./examples/my-app/app", bin: "app", entrypoint: "/my-app", port: "8080"},
		{ref: AppDBImageRef, pkg: "./examples/my-app/db", bin: "db", entrypoint: "/my-app-db", port: "5432",
			// The data directory when no volume is mounted there.
			extra: []File{{Path: "/data", Mode: fs.ModeDir | 0o777}}},
	}
}

// BuildAppImages compiles examples/my-app's commands from the k1s module
// at moduleDir with the go command goBin (static, CGO_ENABLED=0,
// -trimpath, for linux on this machine's architecture) and returns their
// images by reference: AppImageRef (entrypoint /my-app) and AppDBImageRef
// (entrypoint /my-app-db). Each image holds the binary, /etc/passwd and
// /etc/group naming AppUID "nonroot", and a world-writable /tmp; it runs
// as AppUID. It does not load them anywhere: LoadImage does that.
func BuildAppImages(ctx context.Context, goBin, moduleDir string) (map[string]v1.Image, error) {
	out, err := os.MkdirTemp("", "k1s-my-app-*")
	if err != nil {
		return nil, fmt.Errorf("my-app images: %w", err)
	}
	defer os.RemoveAll(out)

	cmds := appCommands()
	args := []string{"build", "-trimpath", "-ldflags=-s -w", "-o", out + string(filepath.Separator)}
	for _, c := range cmds {
		args = append(args, c.pkg)
	}
	build := exec.CommandContext(ctx, goBin, args...)
	build.Dir = moduleDir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if output, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("my-app images: go %s: %w\n%s", strings.Join(args, " "), err, output)
	}

	uid := strconv.Itoa(AppUID)
	images := map[string]v1.Image{}
	for _, c := range cmds {
		files := append([]File{
			{Path: c.entrypoint, HostPath: filepath.Join(out, c.bin), Mode: 0o755},
			{Path: "/etc/passwd", Data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:" + uid + ":" + uid + ":nonroot:/home/nonroot:/sbin/nologin\n")},
			{Path: "/etc/group", Data: []byte("root:x:0:\nnonroot:x:" + uid + ":\n")},
			{Path: "/tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
		}, c.extra...)
		img, err := Build(c.ref, files, ImageConfig{Entrypoint: []string{c.entrypoint}})
		if err != nil {
			return nil, fmt.Errorf("my-app images: %w", err)
		}
		if img, err = runAs(img, uid+":"+uid, c.port); err != nil {
			return nil, fmt.Errorf("my-app image %s: %w", c.ref, err)
		}
		images[c.ref] = img
	}
	return images, nil
}

// runAs sets the image's user and its exposed TCP port, which
// ImageConfig does not carry.
func runAs(img v1.Image, user, port string) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg := *cf.Config.DeepCopy()
	cfg.User = user
	cfg.ExposedPorts = map[string]struct{}{port + "/tcp": {}}
	return mutate.Config(img, cfg)
}

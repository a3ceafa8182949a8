package volume

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestMounts(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	outside := filepath.Join(root, "outside")
	for _, d := range []string{data, outside, filepath.Join(data, "exists"), filepath.Join(root, "cfg")} {
		if err := os.Mkdir(d, 0o775); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o775); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../outside", filepath.Join(data, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("exists", filepath.Join(data, "inside")); err != nil {
		t.Fatal(err)
	}
	vols := Volumes{
		"data": {HostPath: data},
		"cfg":  {HostPath: filepath.Join(root, "cfg"), ReadOnly: true},
	}
	env := []*runtimeapi.KeyValue{{Key: "POD_NAME", Value: []byte("web-0")}, {Key: "EMPTY"}}
	prop := func(m v1.MountPropagationMode) *v1.MountPropagationMode { return &m }
	privileged := &v1.SecurityContext{Privileged: ptr(true)}

	tests := []struct {
		name    string
		vm      v1.VolumeMount
		sc      *v1.SecurityContext
		want    *runtimeapi.Mount
		wantErr string
	}{
		{
			name: "plain",
			vm:   v1.VolumeMount{Name: "data", MountPath: "/data"},
			want: &runtimeapi.Mount{ContainerPath: "/data", HostPath: data},
		},
		{
			name: "readOnly mount",
			vm:   v1.VolumeMount{Name: "data", MountPath: "/data", ReadOnly: true},
			want: &runtimeapi.Mount{ContainerPath: "/data", HostPath: data, Readonly: true},
		},
		{
			name: "read-only volume forces readOnly",
			vm:   v1.VolumeMount{Name: "cfg", MountPath: "/cfg"},
			want: &runtimeapi.Mount{ContainerPath: "/cfg", HostPath: filepath.Join(root, "cfg"), Readonly: true},
		},
		{
			name: "recursive read-only",
			vm:   v1.VolumeMount{Name: "data", MountPath: "/data", ReadOnly: true, RecursiveReadOnly: ptr(v1.RecursiveReadOnlyEnabled)},
			want: &runtimeapi.Mount{ContainerPath: "/data", HostPath: data, Readonly: true, RecursiveReadOnly: true},
		},
		{
			name: "existing subPath",
			vm:   v1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "exists"},
			want: &runtimeapi.Mount{ContainerPath: "/x", HostPath: filepath.Join(data, "exists")},
		},
		{
			name: "subPath through a symlink inside the volume",
			vm:   v1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "inside/deeper"},
			want: &runtimeapi.Mount{ContainerPath: "/x", HostPath: filepath.Join(data, "exists", "deeper")},
		},
		{
			name: "subPath created",
			vm:   v1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "new/dir"},
			want: &runtimeapi.Mount{ContainerPath: "/x", HostPath: filepath.Join(data, "new", "dir")},
		},
		{
			name: "subPathExpr",
			vm:   v1.VolumeMount{Name: "data", MountPath: "/x", SubPathExpr: "logs/$(POD_NAME)"},
			want: &runtimeapi.Mount{ContainerPath: "/x", HostPath: filepath.Join(data, "logs", "web-0")},
		},
		{
			name:    "subPathExpr with an empty variable",
			vm:      v1.VolumeMount{Name: "data", MountPath: "/x", SubPathExpr: "$(EMPTY)/$(NOPE)"},
			wantErr: "missing value for EMPTY, NOPE",
		},
		{
			name:    "subPath with ..",
			vm:      v1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "exists/../../outside"},
			wantErr: "must not contain '..'",
		},
		{
			name:    "absolute subPath",
			vm:      v1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "/etc"},
			wantErr: "must be a relative path",
		},
		{
			name:    "subPath through a symlink leaving the volume",
			vm:      v1.VolumeMount{Name: "data", MountPath: "/x", SubPath: "escape/sub"},
			wantErr: "leads outside the volume",
		},
		{
			name:    "unknown volume",
			vm:      v1.VolumeMount{Name: "nope", MountPath: "/x"},
			wantErr: `cannot find volume "nope" to mount into container "c"`,
		},
		{
			name: "HostToContainer",
			vm:   v1.VolumeMount{Name: "data", MountPath: "/data", MountPropagation: prop(v1.MountPropagationHostToContainer)},
			want: &runtimeapi.Mount{ContainerPath: "/data", HostPath: data, Propagation: runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER},
		},
		{
			name: "None",
			vm:   v1.VolumeMount{Name: "data", MountPath: "/data", MountPropagation: prop(v1.MountPropagationNone)},
			want: &runtimeapi.Mount{ContainerPath: "/data", HostPath: data, Propagation: runtimeapi.MountPropagation_PROPAGATION_PRIVATE},
		},
		{
			name: "Bidirectional privileged",
			vm:   v1.VolumeMount{Name: "data", MountPath: "/data", MountPropagation: prop(v1.MountPropagationBidirectional)},
			sc:   privileged,
			want: &runtimeapi.Mount{ContainerPath: "/data", HostPath: data, Propagation: runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL},
		},
		{
			name:    "Bidirectional unprivileged",
			vm:      v1.VolumeMount{Name: "data", MountPath: "/data", MountPropagation: prop(v1.MountPropagationBidirectional)},
			wantErr: "only to privileged containers",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &v1.Container{Name: "c", VolumeMounts: []v1.VolumeMount{tt.vm}, SecurityContext: tt.sc}
			got, err := vols.Mounts(c, env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("got %d mounts", len(got))
			}
			g := got[0]
			if g.ContainerPath != tt.want.ContainerPath || g.HostPath != tt.want.HostPath || g.Readonly != tt.want.Readonly ||
				g.Propagation != tt.want.Propagation || g.RecursiveReadOnly != tt.want.RecursiveReadOnly {
				t.Errorf("mount = %v, want %v", g, tt.want)
			}
			if info, err := os.Stat(g.HostPath); err != nil {
				t.Errorf("mount source: %v", err)
			} else if tt.vm.SubPath != "" && info.Mode().Perm() != 0o775 {
				t.Errorf("subPath mode = %o, want the volume's 775", info.Mode().Perm())
			}
		})
	}
	if _, err := os.Stat(filepath.Join(outside, "sub")); err == nil {
		t.Errorf("an escaping subPath created a directory outside the volume")
	}
}

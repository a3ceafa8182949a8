package volume

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"

	"github.com/k1s/k1s/internal/mountinfo"
)

func isRoot() bool { return os.Geteuid() == 0 }

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	return string(b)
}

// listVisible returns the user-visible names in a volume dir.
func listVisible(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "..") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func isMounted(t *testing.T, dir string) bool {
	t.Helper()
	points, err := mountinfo.Points()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range points {
		if p == dir {
			return true
		}
	}
	return false
}

func cmVolume(name, cm string, items []v1.KeyToPath, defaultMode *int32, optional *bool) v1.Volume {
	return v1.Volume{Name: name, VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{
		LocalObjectReference: v1.LocalObjectReference{Name: cm}, Items: items, DefaultMode: defaultMode, Optional: optional,
	}}}
}

func TestConfigMapUpdates(t *testing.T) {
	ctx := context.Background()
	m, src, _ := newTestManager(t, false)
	src.setConfigMap("ns", "cfg", map[string]string{"a": "1", "b": "2"})
	pod := testPod("u1", cmVolume("cfg", "cfg", nil, nil, nil))

	vols, err := m.SetUp(ctx, pod, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := vols["cfg"].HostPath
	if !vols["cfg"].ReadOnly {
		t.Errorf("configMap volume not read-only")
	}
	if got := listVisible(t, dir); got != "a,b" {
		t.Errorf("files = %q, want a,b", got)
	}
	if got := readFile(t, filepath.Join(dir, "a")); got != "1" {
		t.Errorf("a = %q, want 1", got)
	}
	target, err := os.Readlink(filepath.Join(dir, "a"))
	if err != nil || target != "..data/a" {
		t.Errorf("a is not a symlink through ..data: %q, %v", target, err)
	}
	firstData, _ := os.Readlink(filepath.Join(dir, "..data"))

	// Same contents: nothing is rewritten.
	if _, err := m.SetUp(ctx, pod, ""); err != nil {
		t.Fatal(err)
	}
	if d, _ := os.Readlink(filepath.Join(dir, "..data")); d != firstData {
		t.Errorf("unchanged ConfigMap rewrote the volume: ..data %s -> %s", firstData, d)
	}

	// Update one key, remove another, add a third.
	src.setConfigMap("ns", "cfg", map[string]string{"a": "1 changed", "c": "3"})
	if _, err := m.SetUp(ctx, pod, ""); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "a")); got != "1 changed" {
		t.Errorf("a = %q after update, want %q", got, "1 changed")
	}
	if got := listVisible(t, dir); got != "a,c" {
		t.Errorf("files after update = %q, want a,c", got)
	}
	if _, err := os.Lstat(filepath.Join(dir, "b")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("removed key b still present: %v", err)
	}
	// Only the current timestamped directory is left.
	entries, _ := os.ReadDir(dir)
	var ts []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "..") {
			ts = append(ts, e.Name())
		}
	}
	cur, _ := os.Readlink(filepath.Join(dir, "..data"))
	if len(ts) != 1 || ts[0] != cur {
		t.Errorf("timestamped dirs = %v, want only %s", ts, cur)
	}
}

func TestConfigMapAndSecretPayloads(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		vol       v1.Volume
		wantFiles map[string]string // path -> content
		wantModes map[string]fs.FileMode
		wantErr   string
		notFound  bool
	}{
		{
			name:      "default mode is 0644",
			vol:       cmVolume("v", "cfg", nil, nil, nil),
			wantFiles: map[string]string{"a": "1", "b": "2", "bin": "\x00\x01"},
			wantModes: map[string]fs.FileMode{"a": 0o644, "bin": 0o644},
		},
		{
			name: "items with paths and modes",
			vol: cmVolume("v", "cfg", []v1.KeyToPath{
				{Key: "a", Path: "dir/sub/a.txt", Mode: ptr(int32(0o600))},
				{Key: "bin", Path: "bin"},
			}, ptr(int32(0o440)), nil),
			wantFiles: map[string]string{"dir/sub/a.txt": "1", "bin": "\x00\x01"},
			wantModes: map[string]fs.FileMode{"dir/sub/a.txt": 0o600, "bin": 0o440},
		},
		{
			name:      "optional missing configMap gives an empty volume",
			vol:       cmVolume("v", "nope", nil, nil, ptr(true)),
			wantFiles: map[string]string{},
		},
		{
			name:      "optional missing key is skipped",
			vol:       cmVolume("v", "cfg", []v1.KeyToPath{{Key: "zz", Path: "zz"}, {Key: "a", Path: "a"}}, nil, ptr(true)),
			wantFiles: map[string]string{"a": "1"},
		},
		{
			name:     "missing configMap",
			vol:      cmVolume("v", "nope", nil, nil, nil),
			wantErr:  `MountVolume.SetUp failed for volume "v" : configmap "nope" not found`,
			notFound: true,
		},
		{
			name:    "missing configMap key",
			vol:     cmVolume("v", "cfg", []v1.KeyToPath{{Key: "zz", Path: "zz"}}, nil, nil),
			wantErr: `MountVolume.SetUp failed for volume "v" : configmap references non-existent config key: zz`,
		},
		{
			name:    "item path escaping the volume",
			vol:     cmVolume("v", "cfg", []v1.KeyToPath{{Key: "a", Path: "x/../../a"}}, nil, nil),
			wantErr: `MountVolume.SetUp failed for volume "v" : invalid path "x/../../a": must not contain '..'`,
		},
		{
			name: "secret with items",
			vol: v1.Volume{Name: "v", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{
				SecretName: "sec", DefaultMode: ptr(int32(0o400)),
				Items: []v1.KeyToPath{{Key: "password", Path: "pw"}},
			}}},
			wantFiles: map[string]string{"pw": "hunter2"},
			wantModes: map[string]fs.FileMode{"pw": 0o400},
		},
		{
			name:     "missing secret",
			vol:      v1.Volume{Name: "v", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "nope"}}},
			wantErr:  `MountVolume.SetUp failed for volume "v" : secret "nope" not found`,
			notFound: true,
		},
		{
			name: "missing secret key",
			vol: v1.Volume{Name: "v", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{
				SecretName: "sec", Items: []v1.KeyToPath{{Key: "zz", Path: "zz"}},
			}}},
			wantErr: `MountVolume.SetUp failed for volume "v" : references non-existent secret key: zz`,
		},
	}
	for _, tmpfs := range []bool{false, true} {
		if tmpfs && !isRoot() {
			t.Log("not root: skipping the tmpfs variants")
			continue
		}
		for _, tt := range tests {
			t.Run(tt.name+map[bool]string{true: " (tmpfs)"}[tmpfs], func(t *testing.T) {
				m, src, _ := newTestManager(t, tmpfs)
				src.configMaps["ns/cfg"] = &v1.ConfigMap{
					Data:       map[string]string{"a": "1", "b": "2"},
					BinaryData: map[string][]byte{"bin": {0, 1}},
				}
				src.secrets["ns/sec"] = &v1.Secret{Data: map[string][]byte{"password": []byte("hunter2"), "user": []byte("me")}}
				vols, err := m.SetUp(ctx, testPod("u1", tt.vol), "")
				if tt.wantErr != "" {
					var se *SetUpError
					if !errors.As(err, &se) || se.Volume != tt.vol.Name {
						t.Fatalf("err = %v, want a *SetUpError for %s", err, tt.vol.Name)
					}
					if err.Error() != tt.wantErr {
						t.Errorf("err = %q, want %q", err, tt.wantErr)
					}
					if apierrors.IsNotFound(err) != tt.notFound {
						t.Errorf("IsNotFound = %v, want %v", apierrors.IsNotFound(err), tt.notFound)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				dir := vols["v"].HostPath
				var got []string
				err = filepath.WalkDir(filepath.Join(dir, "..data")+"/", func(p string, d fs.DirEntry, err error) error {
					if err == nil && !d.IsDir() {
						rel, _ := filepath.Rel(filepath.Join(dir, "..data"), p)
						got = append(got, rel)
					}
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(tt.wantFiles) {
					t.Errorf("files = %v, want %d files", got, len(tt.wantFiles))
				}
				for p, want := range tt.wantFiles {
					if c := readFile(t, filepath.Join(dir, p)); c != want {
						t.Errorf("%s = %q, want %q", p, c, want)
					}
				}
				for p, want := range tt.wantModes {
					info, err := os.Stat(filepath.Join(dir, p))
					if err != nil {
						t.Fatal(err)
					}
					if info.Mode().Perm() != want {
						t.Errorf("mode of %s = %o, want %o", p, info.Mode().Perm(), want)
					}
				}
				wantMounted := tmpfs && tt.vol.Secret != nil
				if isMounted(t, dir) != wantMounted {
					t.Errorf("tmpfs mounted on %s = %v, want %v", dir, !wantMounted, wantMounted)
				}
			})
		}
	}
}

func TestEmptyDir(t *testing.T) {
	ctx := context.Background()
	for _, medium := range []v1.StorageMedium{v1.StorageMediumDefault, v1.StorageMediumMemory} {
		t.Run(string(medium), func(t *testing.T) {
			tmpfs := medium == v1.StorageMediumMemory
			if tmpfs && !isRoot() {
				t.Skip("tmpfs needs root")
			}
			m, _, _ := newTestManager(t, true)
			pod := testPod("u1", v1.Volume{Name: "scratch", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{
				Medium: medium, SizeLimit: ptr(resource.MustParse("16Mi")),
			}}})
			for range 2 { // idempotent
				vols, err := m.SetUp(ctx, pod, "")
				if err != nil {
					t.Fatal(err)
				}
				dir := vols["scratch"].HostPath
				info, err := os.Stat(dir)
				if err != nil {
					t.Fatal(err)
				}
				if info.Mode().Perm() != 0o777 {
					t.Errorf("mode = %o, want 777", info.Mode().Perm())
				}
				if isMounted(t, dir) != tmpfs {
					t.Errorf("mounted = %v, want %v", !tmpfs, tmpfs)
				}
			}
			points, _ := mountinfo.Points()
			var n int
			for _, p := range points {
				if strings.HasPrefix(p, m.PodDir("u1")) {
					n++
				}
			}
			if want := map[bool]int{true: 1}[tmpfs]; n != want {
				t.Errorf("%d mounts under the pod dir after two SetUps, want %d", n, want)
			}
			if err := m.TearDown(ctx, "u1"); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(m.PodDir("u1")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("pod dir left after TearDown: %v", err)
			}
		})
	}
}

func TestDownwardAPI(t *testing.T) {
	ctx := context.Background()
	m, _, _ := newTestManager(t, false)
	m.alloc = v1.ResourceList{v1.ResourceMemory: resource.MustParse("1Gi")}
	pod := testPod("u1", v1.Volume{Name: "info", VolumeSource: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{
		Items: []v1.DownwardAPIVolumeFile{
			{Path: "name", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}},
			{Path: "labels", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels"}, Mode: ptr(int32(0o600))},
			{Path: "mem", ResourceFieldRef: &v1.ResourceFieldSelector{ContainerName: "c", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}},
		},
	}}})
	pod.Spec.Containers = []v1.Container{{Name: "c"}}
	vols, err := m.SetUp(ctx, pod, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	dir := vols["info"].HostPath
	for p, want := range map[string]string{"name": "web", "labels": `app="web"`, "mem": "1024"} {
		if got := readFile(t, filepath.Join(dir, p)); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	pod.Labels["tier"] = "front"
	if _, err := m.SetUp(ctx, pod, "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if got, want := readFile(t, filepath.Join(dir, "labels")), "app=\"web\"\ntier=\"front\""; got != want {
		t.Errorf("labels after update = %q, want %q", got, want)
	}
}

func TestProjectedTokenRefresh(t *testing.T) {
	ctx := context.Background()
	m, src, clk := newTestManager(t, isRoot())
	src.setConfigMap("ns", "kube-root-ca.crt", map[string]string{"ca.crt": "CA"})
	pod := testPod("u1", v1.Volume{Name: "kube-api-access", VolumeSource: v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{
		DefaultMode: ptr(int32(0o644)),
		Sources: []v1.VolumeProjection{
			{ServiceAccountToken: &v1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr(int64(3600)), Audience: "api"}},
			{ConfigMap: &v1.ConfigMapProjection{LocalObjectReference: v1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items: []v1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &v1.DownwardAPIProjection{Items: []v1.DownwardAPIVolumeFile{
				{Path: "namespace", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
		},
	}}})
	vols, err := m.SetUp(ctx, pod, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := vols["kube-api-access"].HostPath
	if got := listVisible(t, dir); got != "ca.crt,namespace,token" {
		t.Errorf("files = %q", got)
	}
	if isRoot() && !isMounted(t, dir) {
		t.Errorf("projected volume is not on tmpfs")
	}
	req := src.tokenReqs[0]
	if req.Spec.Audiences[0] != "api" || req.Spec.BoundObjectRef.UID != "u1" || req.Spec.BoundObjectRef.Kind != "Pod" {
		t.Errorf("token request = %+v", req.Spec)
	}

	steps := []struct {
		advance  time.Duration
		wantReqs int
		token    string
	}{
		{0, 1, "token-ns-sa-1"},
		{47 * time.Minute, 1, "token-ns-sa-1"}, // 47 of 60 minutes: below 80%
		{time.Minute, 2, "token-ns-sa-2"},      // 48 minutes: refresh
		{47 * time.Minute, 2, "token-ns-sa-2"}, // the new token's clock starts at its issue
		{time.Minute + time.Second, 3, "token-ns-sa-3"},
	}
	for i, s := range steps {
		clk.Step(s.advance)
		if _, err := m.SetUp(ctx, pod, ""); err != nil {
			t.Fatal(err)
		}
		if n := src.tokenRequests(); n != s.wantReqs {
			t.Errorf("step %d: %d token requests, want %d", i, n, s.wantReqs)
		}
		if got := readFile(t, filepath.Join(dir, "token")); got != s.token {
			t.Errorf("step %d: token = %q, want %q", i, got, s.token)
		}
	}

	// A torn-down pod starts over.
	if err := m.TearDown(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.SetUp(ctx, pod, ""); err != nil {
		t.Fatal(err)
	}
	if n := src.tokenRequests(); n != 4 {
		t.Errorf("after TearDown: %d token requests, want 4", n)
	}
}

func TestHostPathTypes(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	dir := filepath.Join(base, "dir")
	regular := filepath.Join(base, "file")
	sock := filepath.Join(base, "s.sock")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(regular, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	tests := []struct {
		path    string
		typ     v1.HostPathType
		wantErr string
		created bool
	}{
		{path: filepath.Join(base, "missing"), typ: v1.HostPathUnset},
		{path: dir, typ: v1.HostPathDirectory},
		{path: regular, typ: v1.HostPathDirectory, wantErr: "is not a directory"},
		{path: filepath.Join(base, "missing"), typ: v1.HostPathDirectory, wantErr: "is not a directory"},
		{path: filepath.Join(base, "new/sub"), typ: v1.HostPathDirectoryOrCreate, created: true},
		{path: regular, typ: v1.HostPathDirectoryOrCreate, wantErr: "is not a directory"},
		{path: regular, typ: v1.HostPathFile},
		{path: dir, typ: v1.HostPathFile, wantErr: "is not a file"},
		{path: filepath.Join(base, "newfile"), typ: v1.HostPathFileOrCreate, created: true},
		{path: dir, typ: v1.HostPathFileOrCreate, wantErr: "is not a file"},
		{path: filepath.Join(base, "nodir/newfile"), typ: v1.HostPathFileOrCreate, wantErr: "no such file or directory"},
		{path: sock, typ: v1.HostPathSocket},
		{path: regular, typ: v1.HostPathSocket, wantErr: "is not a socket file"},
		{path: "/dev/null", typ: v1.HostPathCharDev},
		{path: regular, typ: v1.HostPathCharDev, wantErr: "is not a character device"},
		{path: "/dev/null", typ: v1.HostPathBlockDev, wantErr: "is not a block device"},
	}
	m, _, _ := newTestManager(t, false)
	for _, tt := range tests {
		t.Run(string(tt.typ)+" "+filepath.Base(tt.path), func(t *testing.T) {
			pod := testPod("u1", v1.Volume{Name: "h", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: tt.path, Type: ptr(tt.typ)}}})
			vols, err := m.SetUp(ctx, pod, "")
			if tt.wantErr != "" {
				var se *SetUpError
				if !errors.As(err, &se) || !strings.Contains(err.Error(), "hostPath type check failed") || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want a SetUpError with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if vols["h"].HostPath != tt.path {
				t.Errorf("HostPath = %q, want %q", vols["h"].HostPath, tt.path)
			}
			if _, err := os.Stat(tt.path); tt.created && err != nil {
				t.Errorf("not created: %v", err)
			}
		})
	}
}

func TestPersistentVolumeClaim(t *testing.T) {
	ctx := context.Background()
	hostDir := t.TempDir()
	hostFile := filepath.Join(hostDir, "file")
	if err := os.WriteFile(hostFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	claimVol := v1.Volume{Name: "data", VolumeSource: v1.VolumeSource{PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: "c", ReadOnly: true}}}
	boundClaim := func(pv string) *v1.PersistentVolumeClaim {
		c := &v1.PersistentVolumeClaim{Spec: v1.PersistentVolumeClaimSpec{VolumeName: pv}, Status: v1.PersistentVolumeClaimStatus{Phase: v1.ClaimBound}}
		c.UID = "claim-uid"
		return c
	}
	pv := func(src v1.PersistentVolumeSource, claimUID types.UID) *v1.PersistentVolume {
		p := &v1.PersistentVolume{Spec: v1.PersistentVolumeSpec{PersistentVolumeSource: src, ClaimRef: &v1.ObjectReference{UID: claimUID}}}
		p.Name = "pv1"
		return p
	}
	tests := []struct {
		name     string
		claim    *v1.PersistentVolumeClaim
		pv       *v1.PersistentVolume
		wantPath string
		wantErr  string
		unbound  bool
	}{
		{name: "missing claim", wantErr: `persistentvolumeclaim "c" not found`},
		{name: "pending claim", claim: &v1.PersistentVolumeClaim{Status: v1.PersistentVolumeClaimStatus{Phase: v1.ClaimPending}},
			wantErr: "persistentvolumeclaim is not bound: ns/c", unbound: true},
		{name: "PV bound elsewhere", claim: boundClaim("pv1"),
			pv:      pv(v1.PersistentVolumeSource{HostPath: &v1.HostPathVolumeSource{Path: hostDir}}, "other"),
			wantErr: "bound to another claim", unbound: true},
		{name: "hostPath PV", claim: boundClaim("pv1"),
			pv: pv(v1.PersistentVolumeSource{HostPath: &v1.HostPathVolumeSource{Path: hostDir}}, "claim-uid"), wantPath: hostDir},
		{name: "local PV", claim: boundClaim("pv1"),
			pv: pv(v1.PersistentVolumeSource{Local: &v1.LocalVolumeSource{Path: hostDir}}, "claim-uid"), wantPath: hostDir},
		{name: "local PV on a file", claim: boundClaim("pv1"),
			pv: pv(v1.PersistentVolumeSource{Local: &v1.LocalVolumeSource{Path: hostFile}}, "claim-uid"), wantErr: "is not a directory"},
		{name: "local PV missing", claim: boundClaim("pv1"),
			pv: pv(v1.PersistentVolumeSource{Local: &v1.LocalVolumeSource{Path: filepath.Join(hostDir, "nope")}}, "claim-uid"), wantErr: "no such file"},
		{name: "block PV", claim: boundClaim("pv1"),
			pv: func() *v1.PersistentVolume {
				p := pv(v1.PersistentVolumeSource{Local: &v1.LocalVolumeSource{Path: hostDir}}, "claim-uid")
				p.Spec.VolumeMode = ptr(v1.PersistentVolumeBlock)
				return p
			}(), wantErr: "volumeMode Block"},
		{name: "missing PV", claim: boundClaim("pv1"), wantErr: `persistentvolume "pv1" not found`},
		{name: "unsupported PV", claim: boundClaim("pv1"),
			pv: pv(v1.PersistentVolumeSource{NFS: &v1.NFSVolumeSource{Server: "x", Path: "/"}}, "claim-uid"), wantErr: "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, src, _ := newTestManager(t, false)
			if tt.claim != nil {
				src.claims["ns/c"] = tt.claim
			}
			if tt.pv != nil {
				src.pvs["pv1"] = tt.pv
			}
			vols, err := m.SetUp(ctx, testPod("u1", claimVol), "")
			if tt.wantErr != "" {
				var se *SetUpError
				if !errors.As(err, &se) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want a SetUpError with %q", err, tt.wantErr)
				}
				if errors.Is(err, ErrClaimNotBound) != tt.unbound {
					t.Errorf("errors.Is(err, ErrClaimNotBound) = %v, want %v", !tt.unbound, tt.unbound)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := vols["data"]; got.HostPath != tt.wantPath || !got.ReadOnly {
				t.Errorf("volume = %+v, want %s read-only", got, tt.wantPath)
			}
		})
	}
}

// TestLocalClaimMounts follows a claim bound to a local PV, as the
// local-path provisioner makes them (a 0777 directory), through to the CRI
// mounts: read-only from the pod's volume source or from the volumeMount,
// subPath created inside the volume with the volume's mode.
func TestLocalClaimMounts(t *testing.T) {
	ctx := context.Background()
	volDir := filepath.Join(t.TempDir(), "pvc-u")
	if err := os.Mkdir(volDir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(volDir, 0o777); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		claimRO      bool
		vm           v1.VolumeMount
		wantPath     string
		wantReadOnly bool
	}{
		{name: "plain", vm: v1.VolumeMount{Name: "data", MountPath: "/data"}, wantPath: volDir},
		{name: "read-only mount", vm: v1.VolumeMount{Name: "data", MountPath: "/data", ReadOnly: true},
			wantPath: volDir, wantReadOnly: true},
		{name: "read-only claim", claimRO: true, vm: v1.VolumeMount{Name: "data", MountPath: "/data"},
			wantPath: volDir, wantReadOnly: true},
		{name: "subPath", vm: v1.VolumeMount{Name: "data", MountPath: "/var/lib/db", SubPath: "db/main"},
			wantPath: filepath.Join(volDir, "db", "main")},
		{name: "subPath read-only claim", claimRO: true, vm: v1.VolumeMount{Name: "data", MountPath: "/cfg", SubPath: "cfg"},
			wantPath: filepath.Join(volDir, "cfg"), wantReadOnly: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, src, _ := newTestManager(t, false)
			claim := &v1.PersistentVolumeClaim{Spec: v1.PersistentVolumeClaimSpec{VolumeName: "pvc-u"},
				Status: v1.PersistentVolumeClaimStatus{Phase: v1.ClaimBound}}
			claim.UID = "u"
			src.claims["ns/c"] = claim
			pv := &v1.PersistentVolume{Spec: v1.PersistentVolumeSpec{
				PersistentVolumeSource: v1.PersistentVolumeSource{Local: &v1.LocalVolumeSource{Path: volDir}},
				ClaimRef:               &v1.ObjectReference{UID: "u"},
				VolumeMode:             ptr(v1.PersistentVolumeFilesystem),
			}}
			pv.Name = "pvc-u"
			src.pvs["pvc-u"] = pv
			pod := testPod("p1", v1.Volume{Name: "data", VolumeSource: v1.VolumeSource{
				PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: "c", ReadOnly: tt.claimRO}}})
			vols, err := m.SetUp(ctx, pod, "")
			if err != nil {
				t.Fatal(err)
			}
			mounts, err := vols.Mounts(&v1.Container{Name: "c", VolumeMounts: []v1.VolumeMount{tt.vm}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(mounts) != 1 {
				t.Fatalf("mounts = %v, want one", mounts)
			}
			if got := mounts[0]; got.HostPath != tt.wantPath || got.Readonly != tt.wantReadOnly || got.ContainerPath != tt.vm.MountPath {
				t.Errorf("mount = %s -> %s read-only %v, want %s -> %s read-only %v",
					got.HostPath, got.ContainerPath, got.Readonly, tt.wantPath, tt.vm.MountPath, tt.wantReadOnly)
			}
			if tt.vm.SubPath != "" {
				info, err := os.Stat(tt.wantPath)
				if err != nil {
					t.Fatal(err)
				}
				if info.Mode().Perm() != 0o777 {
					t.Errorf("subPath mode %v, want the volume's 0777", info.Mode().Perm())
				}
			}
		})
	}
}

func TestSetUpPartialFailure(t *testing.T) {
	m, _, _ := newTestManager(t, false)
	pod := testPod("u1",
		v1.Volume{Name: "ok", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
		cmVolume("bad", "nope", nil, nil, nil),
		v1.Volume{Name: "odd", VolumeSource: v1.VolumeSource{NFS: &v1.NFSVolumeSource{}}},
	)
	vols, err := m.SetUp(context.Background(), pod, "")
	if err == nil {
		t.Fatal("SetUp succeeded")
	}
	if _, ok := vols["ok"]; !ok || len(vols) != 1 {
		t.Errorf("volumes = %v, want only ok", vols)
	}
	want := "MountVolume.SetUp failed for volume \"bad\" : configmap \"nope\" not found\n" +
		"MountVolume.SetUp failed for volume \"odd\" : volume type not supported by k1s"
	if err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

func TestTearDownAndOrphans(t *testing.T) {
	ctx := context.Background()
	m, src, _ := newTestManager(t, isRoot())
	src.secrets["ns/sec"] = &v1.Secret{Data: map[string][]byte{"k": []byte("v")}}
	vols := []v1.Volume{
		{Name: "s", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "sec"}}},
		{Name: "mem", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{Medium: v1.StorageMediumMemory}}},
	}
	for _, uid := range []string{"keep", "gone1", "gone2"} {
		if _, err := m.SetUp(ctx, testPod(uid, vols...), ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.CleanupOrphans(ctx, map[types.UID]bool{"keep": true}); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(m.root, "pods"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "keep" {
		t.Errorf("pod dirs after cleanup = %v, want [keep]", entries)
	}
	points, _ := mountinfo.Points()
	var left []string
	for _, p := range points {
		if strings.HasPrefix(p, m.root+"/") && !strings.HasPrefix(p, m.PodDir("keep")) {
			left = append(left, p)
		}
	}
	if len(left) > 0 {
		t.Errorf("mounts left behind: %v", left)
	}
	if err := m.TearDown(ctx, "keep"); err != nil {
		t.Fatal(err)
	}
	if err := m.TearDown(ctx, "keep"); err != nil {
		t.Errorf("second TearDown: %v", err)
	}
}

func TestTokenRefreshFailure(t *testing.T) {
	ctx := context.Background()
	m, src, clk := newTestManager(t, false)
	pod := testPod("u1", v1.Volume{Name: "tok", VolumeSource: v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{
		Sources: []v1.VolumeProjection{{ServiceAccountToken: &v1.ServiceAccountTokenProjection{Path: "token"}}},
	}}})
	vols, err := m.SetUp(ctx, pod, "")
	if err != nil {
		t.Fatal(err)
	}
	src.mu.Lock()
	src.tokenErr = errors.New("api-server down")
	src.mu.Unlock()

	// Due for refresh but the old token is still valid: keep it.
	clk.Step(50 * time.Minute)
	if _, err := m.SetUp(ctx, pod, ""); err != nil {
		t.Fatalf("SetUp with a still valid token: %v", err)
	}
	if got := readFile(t, filepath.Join(vols["tok"].HostPath, "token")); got != "token-ns-sa-1" {
		t.Errorf("token = %q, want the old one", got)
	}
	// Expired: the failure surfaces.
	clk.Step(11 * time.Minute)
	_, err = m.SetUp(ctx, pod, "")
	var se *SetUpError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "api-server down") {
		t.Errorf("err = %v, want a SetUpError with the cause", err)
	}
}

func TestFSGroup(t *testing.T) {
	if !isRoot() {
		t.Skip("chown to another group needs root")
	}
	ctx := context.Background()
	m, src, _ := newTestManager(t, true)
	src.setConfigMap("ns", "cfg", map[string]string{"a": "1"})
	pod := testPod("u1",
		cmVolume("cfg", "cfg", []v1.KeyToPath{{Key: "a", Path: "d/a"}}, nil, nil),
		v1.Volume{Name: "scratch", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
	)
	pod.Spec.SecurityContext = &v1.PodSecurityContext{FSGroup: ptr(int64(4321))}
	vols, err := m.SetUp(ctx, pod, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		filepath.Join(vols["cfg"].HostPath, "d", "a"),
		filepath.Join(vols["cfg"].HostPath, "d"),
		vols["scratch"].HostPath,
	} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if gid := info.Sys().(*syscall.Stat_t).Gid; gid != 4321 {
			t.Errorf("group of %s = %d, want 4321", p, gid)
		}
	}
	info, _ := os.Stat(vols["scratch"].HostPath)
	if info.Mode()&os.ModeSetgid == 0 || info.Mode().Perm() != 0o777 {
		t.Errorf("emptyDir mode = %v, want setgid and 777", info.Mode())
	}
}

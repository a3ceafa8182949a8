package containerd

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"no data dir", Options{}},
		{"long socket path", Options{DataDir: "/tmp/" + strings.Repeat("x", 90)}},
		{"bad pod CIDR", Options{DataDir: t.TempDir(), PodCIDR: "10.0.0.0"}},
		{"tiny pod CIDR", Options{DataDir: t.TempDir(), PodCIDR: "10.0.0.0/31"}},
		{"long bridge name", Options{DataDir: t.TempDir(), BridgeName: "a-very-long-bridge"}},
	}
	for _, tt := range tests {
		if _, err := New(tt.opts); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestConfigTOML(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{"defaults", Options{DataDir: "/d"}, []string{
			`version = 2`,
			`root = "/d/containerd/root"`,
			`state = "/d/containerd/state"`,
			`address = "/d/containerd/containerd.sock"`,
			`sandbox_image = "k1s.local/pause:3.10"`,
			`restrict_oom_score_adj = true`,
			`disable_apparmor = true`,
			`stream_server_address = "127.0.0.1"`,
			`stream_server_port = "0"`,
			`netns_mounts_under_state_dir = true`,
			`snapshotter = "overlayfs"`,
			`runtime_type = "io.containerd.runc.v2"`,
			`SystemdCgroup = false`,
			`bin_dir = "/usr/lib/cni"`,
			`conf_dir = "/d/containerd/cni/net.d"`,
			`path = "/d/containerd/opt"`,
		}},
		{"node netns", Options{DataDir: "/d", NetNSPath: "/var/run/netns/node2", StreamAddress: "10.0.0.2", CNIBinDir: "/opt/cni/bin"}, []string{
			`netns_mounts_under_state_dir = true`,
			`stream_server_address = "10.0.0.2"`,
			`bin_dir = "/opt/cni/bin"`,
		}},
	}
	for _, tt := range tests {
		c, err := New(tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		got := c.configTOML()
		for _, w := range tt.want {
			if !strings.Contains(got, w+"\n") {
				t.Errorf("%s: config lacks %q:\n%s", tt.name, w, got)
			}
		}
	}
}

func TestSetPodCIDR(t *testing.T) {
	dir := t.TempDir()
	c, err := New(Options{DataDir: dir, BridgeName: "br9"})
	if err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(dir, "containerd", "cni", "net.d", cniConfName)
	if _, err := os.Stat(confPath); !os.IsNotExist(err) {
		t.Fatalf("CNI config written without a pod CIDR: %v", err)
	}
	tests := []struct {
		cidr, subnet, route string
	}{
		{"10.244.3.0/24", "10.244.3.0/24", "0.0.0.0/0"},
		{"10.244.4.7/24", "10.244.4.0/24", "0.0.0.0/0"}, // replaces the previous one
		{"fd00:10:244::/64", "fd00:10:244::/64", "::/0"},
	}
	for _, tt := range tests {
		if err := c.SetPodCIDR(tt.cidr); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(confPath)
		if err != nil {
			t.Fatal(err)
		}
		var conf struct {
			CNIVersion string `json:"cniVersion"`
			Plugins    []struct {
				Type         string
				Bridge       string
				IsGateway    bool
				HairpinMode  bool
				IPMasq       bool
				Capabilities map[string]bool
				IPAM         struct {
					Type    string
					Ranges  [][]struct{ Subnet string }
					Routes  []struct{ Dst string }
					DataDir string
				}
			}
		}
		if err := json.Unmarshal(data, &conf); err != nil {
			t.Fatalf("%s: %v\n%s", tt.cidr, err, data)
		}
		if len(conf.Plugins) != 2 {
			t.Fatalf("%s: plugins %+v", tt.cidr, conf.Plugins)
		}
		br, pm := conf.Plugins[0], conf.Plugins[1]
		if br.Type != "bridge" || br.Bridge != "br9" || !br.IsGateway || !br.HairpinMode || br.IPMasq {
			t.Errorf("%s: bridge %+v", tt.cidr, br)
		}
		if br.IPAM.Type != "host-local" || br.IPAM.Ranges[0][0].Subnet != tt.subnet || br.IPAM.Routes[0].Dst != tt.route ||
			br.IPAM.DataDir != filepath.Join(dir, "containerd", "cni", "ipam") {
			t.Errorf("%s: ipam %+v", tt.cidr, br.IPAM)
		}
		if pm.Type != "portmap" || !pm.Capabilities["portMappings"] {
			t.Errorf("%s: portmap %+v", tt.cidr, pm)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(confPath))
	if len(entries) != 1 {
		t.Errorf("conf dir holds %d files, want 1", len(entries))
	}
}

// TestRestartsFailingContainerd: a containerd that dies at once is
// restarted with backoff, WaitReady reports why it is not ready, and
// cancelling stops the loop.
func TestRestartsFailingContainerd(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "fake-containerd")
	script := "#!/bin/sh\necho \"started $*\"\necho 'level=fatal msg=\"boom\"'\nexit 1\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{DataDir: dir, Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	c.minBackoff, c.maxBackoff = 10*time.Millisecond, 40*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()

	waitCtx, waitCancel := context.WithTimeout(ctx, 500*time.Millisecond)
	err = c.WaitReady(waitCtx)
	waitCancel()
	if err == nil || !strings.Contains(err.Error(), `msg="boom"`) {
		t.Errorf("WaitReady = %v, want the last log line", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	log, err := os.ReadFile(c.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), "started --config "+c.configPath()); n < 3 {
		t.Errorf("started %d times in 500ms, want restarts:\n%s", n, log)
	}
}

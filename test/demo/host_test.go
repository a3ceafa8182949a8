package demo

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/k1s/k1s/internal/localcluster"
	"github.com/k1s/k1s/internal/mountinfo"
)

// namePrefix starts the name of everything a local cluster makes on the
// host: network namespaces, nftables tables, links, cgroups.
const namePrefix = "k1s-"

// hostState is what of a cluster's kind the host holds, by name.
type hostState struct {
	netns, tables, links, cgroups []string
}

// snapshotHost lists the host's network namespaces, nftables tables,
// links and top-level cgroups whose names start with namePrefix.
func snapshotHost(t *testing.T) hostState {
	t.Helper()
	var s hostState
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	s.netns = netnsNames(string(out))
	out, err = exec.Command("nft", "list", "tables").Output()
	if err != nil {
		t.Fatalf("nft list tables: %v", err)
	}
	s.tables = nftTables(string(out))
	out, err = exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		t.Fatalf("ip link show: %v", err)
	}
	s.links = linkNames(string(out))
	// The first node's cgroup root is /k1s, the others' /k1s-NODE.
	for _, pattern := range []string{"/sys/fs/cgroup/k1s*", "/sys/fs/cgroup/*/k1s*"} {
		dirs, _ := filepath.Glob(pattern)
		s.cgroups = append(s.cgroups, dirs...)
	}
	slices.Sort(s.cgroups)
	return s
}

// netnsNames reads `ip netns list`: "name (id: 3)" or "name" per line.
func netnsNames(out string) []string {
	var names []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 && strings.HasPrefix(f[0], namePrefix) {
			names = append(names, f[0])
		}
	}
	return names
}

// nftTables reads `nft list tables`: "table FAMILY NAME" per line, and
// returns "FAMILY NAME".
func nftTables(out string) []string {
	var tables []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && f[0] == "table" && strings.HasPrefix(f[2], namePrefix) {
			tables = append(tables, f[1]+" "+f[2])
		}
	}
	return tables
}

// linkNames reads `ip -o link show`: "IDX: NAME[@PEER]: <FLAGS> ..." per
// line.
func linkNames(out string) []string {
	var names []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.SplitN(l, ": ", 3)
		if len(f) < 3 {
			continue
		}
		name, _, _ := strings.Cut(f[1], "@")
		if strings.HasPrefix(name, namePrefix) {
			names = append(names, name)
		}
	}
	return names
}

// processesMentioning lists the processes with an argument that is dir,
// a path below it or a --flag=dir, as "pid: command line".
func processesMentioning(dir string) []string {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	self := os.Getpid()
	var found []string
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil || pid == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if slices.ContainsFunc(args, func(a string) bool { return mentions(a, dir) }) {
			found = append(found, fmt.Sprintf("%d: %s", pid, strings.Join(args, " ")))
		}
	}
	return found
}

// mentions says whether a command-line argument names dir or a path
// below it (/tmp/k1s-demo-1 does not mention /tmp/k1s-demo-10).
func mentions(arg, dir string) bool {
	return arg == dir || strings.HasSuffix(arg, "="+dir) || strings.Contains(arg, dir+"/")
}

// leftovers lists what the cluster of state in dataDir left on the host
// compared with before it started: the namespaces, nftables tables,
// links and cgroups that are new or that the state names, mounts under
// the data dir and processes mentioning it.
func leftovers(t *testing.T, before hostState, state *localcluster.State, dataDir string) []string {
	t.Helper()
	now := snapshotHost(t)
	var left []string
	added := func(kind string, before, now []string) {
		for _, n := range now {
			if !slices.Contains(before, n) {
				left = append(left, kind+" "+n)
			}
		}
	}
	added("network namespace", before.netns, now.netns)
	added("nftables table", before.tables, now.tables)
	added("link", before.links, now.links)
	added("cgroup", before.cgroups, now.cgroups)
	// What the state names, in case its name escapes the prefixes above.
	for _, n := range state.Nodes {
		// NetNS is a name; a path (/run/netns/NAME) would do as well.
		if ns := filepath.Base(n.NetNS); n.NetNS != "" && !slices.Contains(before.netns, ns) &&
			!slices.Contains(now.netns, ns) && slices.Contains(netnsNamesAll(t), ns) {
			left = append(left, "network namespace "+ns+" of node "+n.Name)
		}
		if n.CgroupRoot != "" {
			for _, d := range localcluster.CgroupDirs(n.CgroupRoot) {
				if !slices.Contains(before.cgroups, d) && !slices.Contains(now.cgroups, d) {
					left = append(left, "cgroup "+d+" of node "+n.Name)
				}
			}
		}
	}
	points, err := mountinfo.Points()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mountinfo.Under(points, dataDir) {
		left = append(left, "mount "+m)
	}
	for _, p := range processesMentioning(dataDir) {
		left = append(left, "process "+p)
	}
	return left
}

// netnsNamesAll lists every network namespace, whatever its name.
func netnsNamesAll(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

func TestHostParsers(t *testing.T) {
	if got, want := netnsNames("k1s-n3 (id: 2)\nother\nk1s-n2\n\n"), []string{"k1s-n3", "k1s-n2"}; !slices.Equal(got, want) {
		t.Errorf("netnsNames = %q, want %q", got, want)
	}
	tables := "table inet filter\ntable ip k1s-nat\ntable inet k1s-proxy\ntable ip k1sn-other\n"
	if got, want := nftTables(tables), []string{"ip k1s-nat", "inet k1s-proxy"}; !slices.Equal(got, want) {
		t.Errorf("nftTables = %q, want %q", got, want)
	}
	links := "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue\n" +
		"5: k1s-nodes: <BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue\n" +
		"6: k1s-v2@if2: <BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue master k1s-nodes\n"
	if got, want := linkNames(links), []string{"k1s-nodes", "k1s-v2"}; !slices.Equal(got, want) {
		t.Errorf("linkNames = %q, want %q", got, want)
	}
	for _, tt := range []struct {
		arg  string
		want bool
	}{
		{"/tmp/k1s-demo-1", true},
		{"/tmp/k1s-demo-1/nodes/node-2", true},
		{"--net=/var/run/netns/k1s-node-2", false},
		{"--data-dir=/tmp/k1s-demo-1", true},
		{"--config=/tmp/k1s-demo-1/server/containerd/config.toml", true},
		{"/tmp/k1s-demo-10", false},
		{"/tmp/k1s-demo-10/server", false},
	} {
		if got := mentions(tt.arg, "/tmp/k1s-demo-1"); got != tt.want {
			t.Errorf("mentions(%q) = %t, want %t", tt.arg, got, tt.want)
		}
	}
}

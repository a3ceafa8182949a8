package kubeletserver

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/k1s/k1s/internal/upgradeproxy"
)

// streamFlags reads stdin/stdout/stderr/tty. The api-server sends
// input/output/error=1 (upstream's names); stdin/stdout/stderr=true are
// accepted too.
type streamFlags struct{ stdin, stdout, stderr, tty bool }

func parseStreamFlags(r *http.Request) (streamFlags, error) {
	f := streamFlags{
		stdin:  boolParam(r, "input", "stdin"),
		stdout: boolParam(r, "output", "stdout"),
		stderr: boolParam(r, "error", "stderr"),
		tty:    boolParam(r, "tty"),
	}
	if f.tty && f.stderr {
		// A terminal merges stderr into stdout (upstream drops it too).
		f.stderr = false
	}
	if !f.stdin && !f.stdout && !f.stderr {
		return f, badRequest("you must specify at least 1 of stdin, stdout, stderr")
	}
	return f, nil
}

// serveExec runs a command in a container through the runtime's streaming
// server (/exec/ns/pod/container?command=...).
func (s *Server) serveExec(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !upgradeproxy.IsUpgradeRequest(r) {
		s.writeError(w, r, badRequest("Upgrade request required"))
		return
	}
	flags, err := parseStreamFlags(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cmd := r.URL.Query()["command"]
	if len(cmd) == 0 {
		s.writeError(w, r, badRequest("you must specify at least one command for the container"))
		return
	}
	ref, err := s.opts.Pods.Container(ctx, r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp, err := s.opts.Runtime.Exec(ctx, &runtimeapi.ExecRequest{
		ContainerId: ref.ContainerID, Cmd: cmd,
		Tty: flags.tty, Stdin: flags.stdin, Stdout: flags.stdout, Stderr: flags.stderr,
	})
	if err != nil {
		s.writeError(w, r, fmt.Errorf("exec in container %q: %w", ref.Name, err))
		return
	}
	s.proxyStream(w, r, resp.GetUrl())
}

// serveAttach attaches to a container's main process.
func (s *Server) serveAttach(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !upgradeproxy.IsUpgradeRequest(r) {
		s.writeError(w, r, badRequest("Upgrade request required"))
		return
	}
	flags, err := parseStreamFlags(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ref, err := s.opts.Pods.Container(ctx, r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp, err := s.opts.Runtime.Attach(ctx, &runtimeapi.AttachRequest{
		ContainerId: ref.ContainerID,
		Tty:         flags.tty, Stdin: flags.stdin, Stdout: flags.stdout, Stderr: flags.stderr,
	})
	if err != nil {
		s.writeError(w, r, fmt.Errorf("attach to container %q: %w", ref.Name, err))
		return
	}
	s.proxyStream(w, r, resp.GetUrl())
}

// servePortForward forwards ports of a pod's sandbox. SPDY clients name
// ports per stream; WebSocket clients list them as port= parameters.
func (s *Server) servePortForward(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !upgradeproxy.IsUpgradeRequest(r) {
		s.writeError(w, r, badRequest("Upgrade request required"))
		return
	}
	var ports []int32
	for _, p := range r.URL.Query()["port"] {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			s.writeError(w, r, badRequest("invalid port %q", p))
			return
		}
		ports = append(ports, int32(n))
	}
	sandbox, err := s.opts.Pods.Sandbox(ctx, r.PathValue("ns"), r.PathValue("pod"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp, err := s.opts.Runtime.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: sandbox, Port: ports})
	if err != nil {
		s.writeError(w, r, fmt.Errorf("port-forward to pod %q: %w", r.PathValue("pod"), err))
		return
	}
	s.proxyStream(w, r, resp.GetUrl())
}

// proxyStream hands the client's upgrade request to the runtime's
// streaming URL.
func (s *Server) proxyStream(w http.ResponseWriter, r *http.Request, rawURL string) {
	target, err := url.Parse(rawURL)
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") {
		s.writeError(w, r, fmt.Errorf("runtime returned a bad streaming URL %q", rawURL))
		return
	}
	err = upgradeproxy.Forward(w, r, target, s.opts.RuntimeTLS)
	var be *upgradeproxy.BackendError
	switch {
	case errors.As(err, &be):
		s.writeError(w, r, fmt.Errorf("runtime streaming server: %w", err))
	case err != nil:
		s.log.Debug("streaming proxy ended", "path", r.URL.Path, "err", err)
	}
}

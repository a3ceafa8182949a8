package apiserver

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/k1s/k1s/internal/storage"
	"github.com/k1s/k1s/internal/upgradeproxy"
)

// defaultKubeletPort is used when a Node does not publish its kubelet port.
const defaultKubeletPort = 10250

// kubeletClient reaches kubelets for pods/log, exec, attach and
// portforward.
type kubeletClient struct {
	tls  *tls.Config
	http *http.Client
}

// newKubeletClient uses cfg (the api-server's client certificate). Without
// RootCAs the kubelet's serving certificate is not verified, as upstream
// does without --kubelet-certificate-authority: kubelets serve
// self-signed certificates.
func newKubeletClient(cfg *tls.Config) *kubeletClient {
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg = cfg.Clone()
	if cfg.RootCAs == nil {
		cfg.InsecureSkipVerify = true //nolint:gosec // upstream default, see above
	}
	return &kubeletClient{
		tls: cfg,
		http: &http.Client{Transport: &http.Transport{
			TLSClientConfig:     cfg,
			DialContext:         (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     90 * time.Second,
		}},
	}
}

// isKubeletSubresource reports whether info names a pod subresource the
// kubelet serves.
func isKubeletSubresource(info requestInfo) bool {
	if info.Group != "" || info.Resource != "pods" {
		return false
	}
	switch info.Subresource {
	case "log", "exec", "attach", "portforward":
		return true
	}
	return false
}

// serveKubeletProxy answers pods/log, pods/exec, pods/attach and
// pods/portforward by forwarding to the kubelet of the pod's node.
func (s *Server) serveKubeletProxy(w http.ResponseWriter, r *http.Request, res *resource, info requestInfo) error {
	q := r.URL.Query()
	var build func(pod *corev1.Pod) (string, url.Values, error)
	switch info.Subresource {
	case "log":
		opts, err := podLogOptions(q, info.Name)
		if err != nil {
			return err
		}
		build = func(pod *corev1.Pod) (string, url.Values, error) {
			c, err := podContainer(pod, opts.Container)
			if err != nil {
				return "", nil, err
			}
			return "/containerLogs/" + pod.Namespace + "/" + pod.Name + "/" + c, kubeletLogParams(opts), nil
		}
	case "exec", "attach":
		verb := info.Subresource
		params, container, err := streamParams(q, verb == "exec")
		if err != nil {
			return err
		}
		build = func(pod *corev1.Pod) (string, url.Values, error) {
			if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
				return "", nil, newBadRequest("cannot %s into a container in a completed pod; current phase is %s", verb, pod.Status.Phase)
			}
			c, err := podContainer(pod, container)
			if err != nil {
				return "", nil, err
			}
			return "/" + verb + "/" + pod.Namespace + "/" + pod.Name + "/" + c, params, nil
		}
	case "portforward":
		params := url.Values{}
		for _, p := range q["ports"] {
			for _, one := range strings.Split(p, ",") {
				n, err := strconv.ParseUint(strings.TrimSpace(one), 10, 16)
				if err != nil || n == 0 {
					return newBadRequest("invalid port %q: must be in the range 1..65535", one)
				}
				params.Add("port", strconv.FormatUint(n, 10))
			}
		}
		build = func(pod *corev1.Pod) (string, url.Values, error) {
			return "/portForward/" + pod.Namespace + "/" + pod.Name, params, nil
		}
	}

	obj, err := res.store.Get(r.Context(), res.key(info.Namespace, info.Name), storage.GetOptions{})
	if err != nil {
		return toAPIError(err, res.gr, info.Name)
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return apierrors.NewInternalError(fmt.Errorf("pods store returned %T", obj))
	}
	path, params, err := build(pod)
	if err != nil {
		return err
	}
	if pod.Spec.NodeName == "" {
		return newBadRequest("pod %s does not have a host assigned", pod.Name)
	}
	host, err := s.kubeletHost(r, pod.Spec.NodeName)
	if err != nil {
		return err
	}
	target := &url.URL{Scheme: "https", Host: host, Path: path, RawQuery: params.Encode()}
	if info.Subresource == "log" {
		return s.streamKubeletLog(w, r, target, info.Name)
	}
	if !upgradeproxy.IsUpgradeRequest(r) {
		return newBadRequest("Upgrade request required")
	}
	err = upgradeproxy.Forward(w, r, target, s.kubelet.tls)
	var be *upgradeproxy.BackendError
	if errors.As(err, &be) {
		return apierrors.NewInternalError(be)
	}
	if err != nil {
		s.log.Debug("kubelet stream ended", "path", r.URL.Path, "err", err)
	}
	return nil
}

// kubeletHost returns host:port of the named node's kubelet.
func (s *Server) kubeletHost(r *http.Request, nodeName string) (string, error) {
	nodes := s.resources[schema.GroupVersionResource{Version: "v1", Resource: "nodes"}]
	if nodes == nil {
		return "", apierrors.NewInternalError(errors.New("nodes are not served"))
	}
	obj, err := nodes.store.Get(r.Context(), nodes.key("", nodeName), storage.GetOptions{})
	if err != nil {
		return "", toAPIError(err, nodes.gr, nodeName)
	}
	node, ok := obj.(*corev1.Node)
	if !ok {
		return "", apierrors.NewInternalError(fmt.Errorf("nodes store returned %T", obj))
	}
	port := int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if port <= 0 {
		port = defaultKubeletPort
	}
	var addr string
	for _, want := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeHostName, corev1.NodeExternalIP} {
		for _, a := range node.Status.Addresses {
			if a.Type == want && a.Address != "" && addr == "" {
				addr = a.Address
			}
		}
	}
	if addr == "" {
		return "", apierrors.NewServiceUnavailable(fmt.Sprintf("node %s has no address", nodeName))
	}
	return net.JoinHostPort(addr, strconv.Itoa(port)), nil
}

// streamKubeletLog copies the kubelet's log answer to the client as it
// arrives.
func (s *Server) streamKubeletLog(w http.ResponseWriter, r *http.Request, target *url.URL, name string) error {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, target.String(), nil)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	resp, err := s.kubelet.http.Do(req)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return kubeletError(resp.StatusCode, strings.TrimSpace(string(body)), name)
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()
	buf := make([]byte, 32*1024)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return nil // the client left
			}
			rc.Flush()
		}
		if rerr != nil {
			// The status line is sent: a broken stream can only be cut.
			if !errors.Is(rerr, io.EOF) && r.Context().Err() == nil {
				s.log.Warn("streaming pod log from kubelet", "url", target.String(), "err", rerr)
			}
			return nil
		}
	}
}

// kubeletError turns a kubelet's error answer into a Status.
func kubeletError(code int, msg, name string) error {
	reason := metav1.StatusReasonInternalError
	switch code {
	case http.StatusBadRequest:
		reason = metav1.StatusReasonBadRequest
	case http.StatusNotFound:
		reason = metav1.StatusReasonNotFound
	case http.StatusUnauthorized:
		reason = metav1.StatusReasonUnauthorized
	case http.StatusForbidden:
		reason = metav1.StatusReasonForbidden
	}
	if msg == "" {
		msg = fmt.Sprintf("the kubelet answered %d", code)
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: int32(code), Reason: reason, Message: msg,
		Details: &metav1.StatusDetails{Name: name, Kind: "pods/log"},
	}}
}

// podContainer validates a container name against the pod's spec, or picks
// the only container when name is empty (upstream's rules and messages).
func podContainer(pod *corev1.Pod, name string) (string, error) {
	var names []string
	for _, c := range pod.Spec.InitContainers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		names = append(names, c.Name)
	}
	if name == "" {
		switch len(pod.Spec.Containers) {
		case 1:
			return pod.Spec.Containers[0].Name, nil
		case 0:
			return "", newBadRequest("a container name must be specified for pod %s", pod.Name)
		}
		return "", newBadRequest("a container name must be specified for pod %s, choose one of: %v", pod.Name, names)
	}
	for _, n := range names {
		if n == name {
			return name, nil
		}
	}
	return "", newBadRequest("container %s is not valid for pod %s", name, pod.Name)
}

// queryBool reads a boolean parameter the way upstream's query conversion
// does: absent, "0" or "false" is false, anything else true.
func queryBool(q url.Values, name string) bool {
	v, ok := q[name]
	if !ok || len(v) == 0 {
		return false
	}
	return v[0] != "0" && !strings.EqualFold(v[0], "false")
}

func queryInt(q url.Values, name string) (*int64, error) {
	v := q.Get(name)
	if v == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, newBadRequest("%s: %v", name, err)
	}
	return &n, nil
}

// podLogOptions parses and validates a pods/log request's parameters.
func podLogOptions(q url.Values, name string) (*corev1.PodLogOptions, error) {
	opts := &corev1.PodLogOptions{
		Container:  q.Get("container"),
		Follow:     queryBool(q, "follow"),
		Previous:   queryBool(q, "previous"),
		Timestamps: queryBool(q, "timestamps"),
	}
	var err error
	if opts.TailLines, err = queryInt(q, "tailLines"); err != nil {
		return nil, err
	}
	if opts.LimitBytes, err = queryInt(q, "limitBytes"); err != nil {
		return nil, err
	}
	if opts.SinceSeconds, err = queryInt(q, "sinceSeconds"); err != nil {
		return nil, err
	}
	if v := q.Get("sinceTime"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return nil, newBadRequest("sinceTime: %v", err)
		}
		mt := metav1.NewTime(t)
		opts.SinceTime = &mt
	}
	var errs field.ErrorList
	if opts.TailLines != nil && *opts.TailLines < 0 {
		errs = append(errs, field.Invalid(field.NewPath("tailLines"), *opts.TailLines, "must be greater than or equal to 0"))
	}
	if opts.LimitBytes != nil && *opts.LimitBytes < 1 {
		errs = append(errs, field.Invalid(field.NewPath("limitBytes"), *opts.LimitBytes, "must be greater than 0"))
	}
	switch {
	case opts.SinceSeconds != nil && opts.SinceTime != nil:
		errs = append(errs, field.Forbidden(field.NewPath(""), "at most one of `sinceTime` or `sinceSeconds` may be specified"))
	case opts.SinceSeconds != nil && *opts.SinceSeconds < 1:
		errs = append(errs, field.Invalid(field.NewPath("sinceSeconds"), *opts.SinceSeconds, "must be greater than 0"))
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(schema.GroupKind{Kind: "PodLogOptions"}, name, errs)
	}
	return opts, nil
}

// kubeletLogParams is the kubelet's query for opts.
func kubeletLogParams(opts *corev1.PodLogOptions) url.Values {
	p := url.Values{}
	for name, on := range map[string]bool{"follow": opts.Follow, "previous": opts.Previous, "timestamps": opts.Timestamps} {
		if on {
			p.Set(name, "true")
		}
	}
	for name, v := range map[string]*int64{"tailLines": opts.TailLines, "limitBytes": opts.LimitBytes, "sinceSeconds": opts.SinceSeconds} {
		if v != nil {
			p.Set(name, strconv.FormatInt(*v, 10))
		}
	}
	if opts.SinceTime != nil {
		p.Set("sinceTime", opts.SinceTime.UTC().Format(time.RFC3339))
	}
	return p
}

// streamParams parses pods/exec or pods/attach parameters into the
// kubelet's query (upstream's input/output/error/tty names) and returns the
// requested container.
func streamParams(q url.Values, exec bool) (url.Values, string, error) {
	p := url.Values{}
	if exec {
		cmd := q["command"]
		if len(cmd) == 0 {
			return nil, "", newBadRequest("you must specify at least one command for the container")
		}
		p["command"] = cmd
	}
	stdin, stdout, stderr, tty := queryBool(q, "stdin"), queryBool(q, "stdout"), queryBool(q, "stderr"), queryBool(q, "tty")
	if !stdin && !stdout && !stderr {
		return nil, "", newBadRequest("you must specify at least 1 of stdin, stdout, stderr")
	}
	for name, on := range map[string]bool{"input": stdin, "output": stdout, "error": stderr, "tty": tty} {
		if on {
			p.Set(name, "1")
		}
	}
	return p, q.Get("container"), nil
}

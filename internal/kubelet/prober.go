package kubelet

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

type probeType int

const (
	probeLiveness probeType = iota
	probeReadiness
	probeStartup
)

func (t probeType) String() string {
	return [...]string{"Liveness", "Readiness", "Startup"}[t]
}

type probeResult int

const (
	probeUnknown probeResult = iota
	probeSuccess
	probeFailure
)

// NetworkProber performs the network probes (httpGet, tcpSocket) and
// HTTP lifecycle hooks. Hollow nodes pass one that answers without
// dialling.
type NetworkProber interface {
	HTTPGet(ctx context.Context, url string, headers []corev1.HTTPHeader) (ok bool, message string, err error)
	TCP(ctx context.Context, addr string) (ok bool, message string, err error)
}

type netProber struct{}

func (netProber) HTTPGet(ctx context.Context, url string, headers []corev1.HTTPHeader) (bool, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, "", err
	}
	req.Header.Set("User-Agent", "kube-probe/1.37")
	req.Header.Set("Accept", "*/*")
	for _, h := range headers {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	client := &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true, Proxy: nil},
		CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err.Error(), nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 10<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return true, "", nil
	}
	return false, fmt.Sprintf("HTTP probe failed with statuscode: %d %s", resp.StatusCode, strings.TrimSpace(string(body))), nil
}

func (netProber) TCP(ctx context.Context, addr string) (bool, string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false, err.Error(), nil
	}
	conn.Close()
	return true, "", nil
}

type probeKey struct {
	containerID string
	kind        probeType
}

// probeManager runs one goroutine per (container instance, probe kind)
// and keeps the latest results; a changed result re-syncs the pod.
type probeManager struct {
	k       *Kubelet
	prober  NetworkProber
	mu      sync.Mutex
	workers map[probeKey]*probeWorker
	results map[probeKey]probeResult
}

type probeWorker struct {
	uid    types.UID
	cancel context.CancelFunc
	done   chan struct{}
}

func newProbeManager(k *Kubelet, p NetworkProber) *probeManager {
	return &probeManager{k: k, prober: p, workers: map[probeKey]*probeWorker{}, results: map[probeKey]probeResult{}}
}

func (m *probeManager) result(id string, kind probeType) probeResult {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.results[probeKey{id, kind}]
}

// started: no startup probe, or it succeeded.
func (m *probeManager) started(id string, c *corev1.Container) bool {
	return c.StartupProbe == nil || m.result(id, probeStartup) == probeSuccess
}

// ready: started and, with a readiness probe, its last verdict success.
func (m *probeManager) ready(id string, c *corev1.Container) bool {
	return c.ReadinessProbe == nil || m.result(id, probeReadiness) == probeSuccess
}

// ensure starts workers for running containers' probes and stops those of
// containers no longer running.
func (m *probeManager) ensure(pod *corev1.Pod, rp *runtimePod) {
	live := map[probeKey]bool{}
	for _, st := range rp.running() {
		c := specContainer(pod, st.Metadata.GetName())
		if c == nil {
			continue
		}
		for kind, p := range map[probeType]*corev1.Probe{probeLiveness: c.LivenessProbe, probeReadiness: c.ReadinessProbe, probeStartup: c.StartupProbe} {
			if p == nil {
				continue
			}
			key := probeKey{st.Id, kind}
			live[key] = true
			m.mu.Lock()
			if _, ok := m.workers[key]; !ok {
				ctx, cancel := context.WithCancel(context.Background())
				w := &probeWorker{uid: pod.UID, cancel: cancel, done: make(chan struct{})}
				m.workers[key] = w
				go m.run(ctx, w, pod.DeepCopy(), c.DeepCopy(), st, kind, p.DeepCopy())
			}
			m.mu.Unlock()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, w := range m.workers {
		if w.uid == pod.UID && !live[key] {
			w.cancel()
			delete(m.workers, key)
			delete(m.results, key)
		}
	}
}

func (m *probeManager) removeContainer(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, w := range m.workers {
		if key.containerID == id {
			w.cancel()
			delete(m.workers, key)
			delete(m.results, key)
		}
	}
}

func (m *probeManager) removePod(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, w := range m.workers {
		if w.uid == uid {
			w.cancel()
			delete(m.workers, key)
			delete(m.results, key)
		}
	}
}

func (m *probeManager) stopAll() {
	m.mu.Lock()
	ws := make([]*probeWorker, 0, len(m.workers))
	for key, w := range m.workers {
		w.cancel()
		ws = append(ws, w)
		delete(m.workers, key)
	}
	m.mu.Unlock()
	for _, w := range ws {
		<-w.done
	}
}

// run probes one container until cancelled: after initialDelaySeconds,
// every periodSeconds; the verdict flips after failureThreshold
// consecutive failures or successThreshold successes.
func (m *probeManager) run(ctx context.Context, w *probeWorker, pod *corev1.Pod, c *corev1.Container, st *runtimeapi.ContainerStatus, kind probeType, p *corev1.Probe) {
	defer close(w.done)
	clk := m.k.clock
	key := probeKey{st.Id, kind}
	initial := probeUnknown
	if kind == probeLiveness {
		initial = probeSuccess
	}
	if kind == probeReadiness {
		initial = probeFailure
	}
	m.set(key, initial, pod.UID, false)
	period := time.Duration(max(p.PeriodSeconds, 1)) * time.Second
	timeout := time.Duration(max(p.TimeoutSeconds, 1)) * time.Second
	failureThreshold := int(max(p.FailureThreshold, 1))
	successThreshold := int(max(p.SuccessThreshold, 1))
	started := time.Unix(0, st.StartedAt)
	if d := started.Add(time.Duration(p.InitialDelaySeconds) * time.Second).Sub(clk.Now()); d > 0 {
		select {
		case <-ctx.Done():
			return
		case <-clk.After(d):
		}
	}
	t := clk.NewTicker(period)
	defer t.Stop()
	var successes, failures int
	// Until a readiness or startup probe first succeeds, the kubelet also
	// probes between the periodic probes, 25 ms after the last one and
	// a quarter longer each time, so that a pod turns Ready soon after
	// its server answers instead of up to a period later. (Upstream's
	// kubelet gets close by probing a not-ready container again at each
	// pod sync.) These probes only ever count a success: their failures
	// raise no event and bring no container nearer to a restart. Network
	// probes only: an exec probe runs a process in the container through
	// the runtime (tens of milliseconds of CPU each here), too dear to
	// repeat ten times a second across a burst of pods.
	eager := kind != probeLiveness && successThreshold == 1 && p.Exec == nil
	eagerDelay := 25 * time.Millisecond
	counted := true
	for {
		if kind != probeStartup && c.StartupProbe != nil && m.result(st.Id, probeStartup) != probeSuccess {
			// Liveness and readiness wait for the startup probe.
		} else if !(kind == probeStartup && m.result(st.Id, probeStartup) == probeSuccess) {
			pctx, cancel := context.WithTimeout(ctx, timeout)
			ok, msg := m.probe(pctx, pod, c, st.Id, p, timeout)
			cancel()
			if ctx.Err() != nil {
				return
			}
			if msg == errNoPodIP {
				// Not a verdict: the pod's address is not published yet
				// (its first status write is in flight). Try next period.
			} else if ok {
				eager = false
				successes, failures = successes+1, 0
				if successes >= successThreshold {
					m.set(key, probeSuccess, pod.UID, true)
				}
			} else if counted {
				successes, failures = 0, failures+1
				m.k.recorder.Eventf(pod, corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", kind, msg)
				if failures >= failureThreshold {
					m.set(key, probeFailure, pod.UID, true)
					if kind != probeReadiness {
						return // the container is killed; its successor gets a new worker
					}
				}
			}
		}
		var eagerC <-chan time.Time
		if eager && eagerDelay < period {
			eagerC = clk.After(eagerDelay)
			eagerDelay += eagerDelay / 4
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			counted = true
		case <-eagerC:
			// A periodic probe due at the same moment takes precedence.
			select {
			case <-t.C():
				counted = true
			default:
				counted = false
			}
		}
	}
}

func (m *probeManager) set(key probeKey, r probeResult, uid types.UID, notify bool) {
	m.mu.Lock()
	if _, ok := m.workers[key]; !ok && notify {
		m.mu.Unlock()
		return // removed meanwhile
	}
	old, had := m.results[key]
	m.results[key] = r
	m.mu.Unlock()
	if notify && (!had || old != r) {
		m.k.queue.Add(uid)
	}
}

// errNoPodIP is probe's message when a network probe has no address to
// reach yet.
const errNoPodIP = "the pod has no IP address yet"

// probe runs one probe once.
func (m *probeManager) probe(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id string, p *corev1.Probe, timeout time.Duration) (bool, string) {
	// The address of the pod's current sandbox: a probe worker lives as
	// long as its container, and the address the API had when it started
	// may be an older sandbox's (after a node restart). Before the first
	// sync has one, the API's, newest first.
	m.k.mu.Lock()
	host := m.k.podIPs[pod.UID]
	m.k.mu.Unlock()
	if host == "" {
		if cur := m.k.podByUID(pod.UID); cur != nil {
			host = cur.Status.PodIP
		}
	}
	if host == "" {
		host = pod.Status.PodIP
	}
	if host == "" && (p.HTTPGet != nil && p.HTTPGet.Host == "" || p.TCPSocket != nil && p.TCPSocket.Host == "") {
		return false, errNoPodIP
	}
	switch {
	case p.Exec != nil:
		out, stderr, code, err := m.k.rt.ExecSync(ctx, id, p.Exec.Command, timeout)
		if err != nil {
			return false, err.Error()
		}
		if code != 0 {
			return false, fmt.Sprintf("command %q exited with %d: %s%s", p.Exec.Command, code, out, stderr)
		}
		return true, ""
	case p.HTTPGet != nil:
		if p.HTTPGet.Host != "" {
			host = p.HTTPGet.Host
		}
		port, err := resolvePort(p.HTTPGet.Port, c)
		if err != nil {
			return false, err.Error()
		}
		path := p.HTTPGet.Path
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		scheme := strings.ToLower(string(orDefault(p.HTTPGet.Scheme, corev1.URISchemeHTTP)))
		ok, msg, err := m.prober.HTTPGet(ctx, scheme+"://"+net.JoinHostPort(host, strconv.Itoa(port))+path, p.HTTPGet.HTTPHeaders)
		if err != nil {
			return false, err.Error()
		}
		return ok, msg
	case p.TCPSocket != nil:
		if p.TCPSocket.Host != "" {
			host = p.TCPSocket.Host
		}
		port, err := resolvePort(p.TCPSocket.Port, c)
		if err != nil {
			return false, err.Error()
		}
		ok, msg, err := m.prober.TCP(ctx, net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return false, err.Error()
		}
		return ok, msg
	case p.GRPC != nil:
		ok, msg, err := m.prober.TCP(ctx, net.JoinHostPort(host, strconv.Itoa(int(p.GRPC.Port))))
		if err != nil {
			return false, err.Error()
		}
		return ok, msg
	}
	return false, "probe has no handler"
}

// resolvePort turns a numeric or named port into a number.
func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	if c != nil {
		for _, cp := range c.Ports {
			if cp.Name == p.StrVal {
				return int(cp.ContainerPort), nil
			}
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("couldn't find port %q in container", p.StrVal)
}

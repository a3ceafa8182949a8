package apiserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"reflect"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"

	"github.com/k1s/k1s/internal/admission"
	"github.com/k1s/k1s/internal/authz"
	"github.com/k1s/k1s/internal/registry"
	"github.com/k1s/k1s/internal/satoken"
	"github.com/k1s/k1s/internal/scheme"
	"github.com/k1s/k1s/internal/storage"
	"github.com/k1s/k1s/internal/storage/etcd3"
	"github.com/k1s/k1s/internal/watchcache"
)

// Config configures a Server.
type Config struct {
	// Etcd is the client of the cluster's etcd. Required.
	Etcd *clientv3.Client
	// Resources to serve. Required.
	Resources []*registry.Resource
	// Scheme knows every served type. Defaults to scheme.New().
	Scheme *scheme.Scheme
	// OpenAPI serves /openapi/v2 and /openapi/v3. Optional.
	OpenAPI http.Handler
	// Listener to serve on; if nil, Addr is listened on.
	Listener net.Listener
	Addr     string
	// TLS for the listener. Required: there is no plain HTTP port.
	TLS *tls.Config
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Version is served at /version.
	Version version.Info
	// KeyPrefix of every etcd key, default "/registry".
	KeyPrefix string
	// KubernetesService, if set, is created in default and kept pointing
	// at this api-server.
	KubernetesService *KubernetesService
	// Transformer for secrets at rest (optional).
	SecretTransformer etcd3.Transformer
	// KubeletClientTLS is used to reach kubelets for pods/log, exec,
	// attach and portforward: it carries the api-server's client
	// certificate. Without RootCAs, kubelet serving certificates are not
	// verified (upstream's default without --kubelet-certificate-authority).
	KubeletClientTLS *tls.Config
	// NodeToken, if set, is a bearer token that authenticates node agents
	// (NodeTokenUser).
	NodeToken string
	// CACertPEM, if set, is served at /cacerts without authentication:
	// joining agents fetch it and check it against their token.
	CACertPEM []byte
	// ServiceAccountIssuer, if set, signs tokens for serviceaccounts/token
	// and authenticates them; new pods then get the kube-api-access
	// volume.
	ServiceAccountIssuer *satoken.Issuer
	// ClientCertSigner, if set, signs the client certificates agents
	// request at nodeCertPath (pki.Bundle.SignClientCSR).
	ClientCertSigner func(csr *x509.CertificateRequest, ttl time.Duration) ([]byte, error)
	// NodeCertTTL is the lifetime of those certificates (default a year).
	NodeCertTTL time.Duration
	// AuthorizationModes, in order (ModeNode, ModeRBAC, ModeAlwaysAllow);
	// default Node then RBAC. Members of system:masters may do anything.
	AuthorizationModes []string
	// APIAudiences are the token audiences the api-server accepts;
	// default: the issuer's URL.
	APIAudiences []string
}

func (c *Config) validate() error {
	if c.Etcd == nil {
		return errors.New("apiserver: Config.Etcd is required")
	}
	if len(c.Resources) == 0 {
		return errors.New("apiserver: Config.Resources is empty")
	}
	if c.TLS == nil {
		return errors.New("apiserver: Config.TLS is required")
	}
	if c.Listener == nil && c.Addr == "" {
		return errors.New("apiserver: Config.Listener or Config.Addr is required")
	}
	if c.Scheme == nil {
		c.Scheme = scheme.New()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = "/registry"
	}
	return nil
}

// Server is the api-server. Create it with New, then Run it.
type Server struct {
	cfg       Config
	log       *slog.Logger
	codecs    *codecs
	resources map[schema.GroupVersionResource]*resource
	byKind    map[schema.GroupVersionKind]*resource
	groups    []groupVersions // discovery order
	cachers   []*watchcache.Cacher
	byType    map[reflect.Type]*resource
	managers  fieldManagers
	handler   http.Handler
	ready     atomic.Bool
	// nsWriteRev is the revision of this server's latest namespace write.
	nsWriteRev atomic.Int64
	listener   net.Listener
	kubelet    *kubeletClient
	local      localInformers
	// authorizers decide requests in order (see authorize).
	authorizers []authz.Authorizer
	// rules answers SelfSubjectRulesReview and escalation checks (RBAC).
	rules ruleResolver
	// admission plugins, in order (see admit.go).
	mutators   []admission.Mutator
	validators []admission.Validator
	// quota charges writes to ResourceQuotas (nil: no quota plugin).
	quota quotaCharger
	// alwaysAllow: authorization mode AlwaysAllow.
	alwaysAllow bool
}

// resource is a registry entry with its store.
type resource struct {
	*registry.Resource
	store  storage.Interface
	direct storage.Interface // etcd, bypassing the cache
	prefix string            // key prefix, ends with "/"
	gr     schema.GroupResource
	// hasSpec: objects carry a spec, so a generation (computed once).
	hasSpec bool
	// fields are the selectable fields (computed once).
	fields map[string]bool
}

// New builds a Server; nothing is started until Run.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		codecs:    newCodecs(cfg.Scheme),
		resources: map[schema.GroupVersionResource]*resource{},
		byKind:    map[schema.GroupVersionKind]*resource{},
		byType:    map[reflect.Type]*resource{},
		kubelet:   newKubeletClient(cfg.KubeletClientTLS),
	}
	protoInfo, ok := runtime.SerializerInfoForMediaType(cfg.Scheme.Codecs.SupportedMediaTypes(), mediaProtobuf)
	if !ok {
		return nil, errors.New("apiserver: no protobuf serializer")
	}
	for _, r := range cfg.Resources {
		gvr := r.GroupVersionResource()
		group := r.Group
		if group == "" {
			group = "core"
		}
		prefix := fmt.Sprintf("%s/%s/%s/", cfg.KeyPrefix, group, r.Plural)
		gv := r.GroupVersion()
		codec := cfg.Scheme.Codecs.CodecForVersions(protoInfo.Serializer, protoInfo.Serializer, gv, gv)
		var tr etcd3.Transformer
		if r.Group == "" && r.Plural == "secrets" {
			tr = cfg.SecretTransformer
		}
		direct, err := etcd3.New(etcd3.Config{Client: cfg.Etcd, Codec: codec, NewFunc: r.New, NewListFunc: r.NewList, Transformer: tr})
		if err != nil {
			return nil, fmt.Errorf("storage for %s: %w", gvr, err)
		}
		res := &resource{Resource: r, direct: direct, prefix: prefix, gr: gvr.GroupResource()}
		_, spec := structField(r.New(), "Spec")
		res.hasSpec = spec || r.Status != nil
		_, fs, err := res.getAttrs(r.New())
		if err != nil {
			return nil, fmt.Errorf("fields of %s: %w", gvr, err)
		}
		res.fields = map[string]bool{}
		for f := range fs {
			res.fields[f] = true
		}
		cacher, err := watchcache.New(watchcache.Config{
			Store: direct, Prefix: prefix, NewFunc: r.New, NewListFunc: r.NewList,
			GetAttrs: res.getAttrs, IndexField: r.WatchIndex, Logger: cfg.Logger.With("resource", gvr.String()),
		})
		if err != nil {
			return nil, fmt.Errorf("watch cache for %s: %w", gvr, err)
		}
		res.store = cacher
		s.cachers = append(s.cachers, cacher)
		s.resources[gvr] = res
		s.byKind[r.GroupVersionKind()] = res
		s.byType[reflect.TypeOf(r.New())] = res
	}
	s.groups = buildGroups(cfg.Resources)
	if err := s.setupAuthorization(); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the api-server's HTTP handler (for in-process use).
func (s *Server) Handler() http.Handler { return s.handler }

// Addr returns the address the server listens on once Run has started.
func (s *Server) Addr() net.Addr {
	if s.listener == nil {
		return nil
	}
	return s.listener.Addr()
}

// Listen opens the listener (Run does it if not done before); it lets a
// caller learn the address before Run.
func (s *Server) Listen() error {
	if s.listener != nil {
		return nil
	}
	if s.cfg.Listener != nil {
		s.listener = s.cfg.Listener
		return nil
	}
	l, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("apiserver: listen: %w", err)
	}
	s.listener = l
	return nil
}

// Run serves until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	for _, c := range s.cachers {
		g.Go(func() error { return c.Run(ctx) })
	}
	g.Go(func() error {
		for _, c := range s.cachers {
			if err := c.WaitReady(ctx); err != nil {
				return nil // ctx ended
			}
		}
		if !s.runInformers(ctx) {
			return nil // ctx ended
		}
		if err := s.bootstrap(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		s.ready.Store(true)
		s.log.Info("api-server ready", "addr", s.listener.Addr().String())
		return nil
	})
	hs := &http.Server{
		Handler:           s.handler,
		TLSConfig:         s.cfg.TLS,
		ReadHeaderTimeout: 30 * time.Second,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	g.Go(func() error {
		err := hs.Serve(tls.NewListener(s.listener, s.cfg.TLS))
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	})
	g.Go(func() error {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			hs.Close()
		}
		return nil
	})
	return g.Wait()
}

// getAttrs returns the labels and selectable fields of obj.
func (r *resource) getAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	m, err := metaOf(obj)
	if err != nil {
		return nil, nil, err
	}
	fs := fields.Set{"metadata.name": m.GetName()}
	if r.Namespaced {
		fs["metadata.namespace"] = m.GetNamespace()
	}
	if r.Fields != nil {
		for k, v := range r.Fields(obj) {
			fs[k] = v
		}
	}
	return labels.Set(m.GetLabels()), fs, nil
}

// key returns the etcd key of an object.
func (r *resource) key(namespace, name string) string {
	if r.Namespaced {
		return r.prefix + namespace + "/" + name
	}
	return r.prefix + name
}

// listPrefix returns the key prefix of a collection (all namespaces if "").
func (r *resource) listPrefix(namespace string) string {
	if r.Namespaced && namespace != "" {
		return r.prefix + namespace + "/"
	}
	return r.prefix
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", s.serveHealth)
	mux.HandleFunc("/livez", s.serveHealth)
	mux.HandleFunc("/readyz", s.serveReady)
	mux.HandleFunc("/healthz/", s.serveHealth)
	mux.HandleFunc("/livez/", s.serveHealth)
	mux.HandleFunc("/readyz/", s.serveReady)
	mux.HandleFunc("/version", s.serveVersion)
	mux.HandleFunc("/cacerts", s.serveCACerts)
	// Profiling, as upstream's --profiling (on by default): authenticated
	// like every non-public path.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	if s.cfg.OpenAPI != nil {
		mux.Handle("/openapi/", s.cfg.OpenAPI)
	}
	mux.HandleFunc("/api", s.serveAPI)
	mux.HandleFunc("/api/", s.serveAPI)
	mux.HandleFunc("/apis", s.serveAPI)
	mux.HandleFunc("/apis/", s.serveAPI)
	mux.HandleFunc(selfSubjectReviewPath, s.serveSelfSubjectReview)
	mux.HandleFunc(nodeCertPath, s.serveNodeCert)
	mux.HandleFunc(tokenReviewPath, s.serveTokenReview)
	s.registerAccessReviews(mux)
	limit := newInflight(maxReadsInFlight, maxWritesInFlight)
	return s.withRecovery(s.withAuthentication(s.withImpersonation(s.withAuthorization(limit.wrap(s.writeError, mux)))))
}

// serveCACerts returns the cluster CA (public information) for agents
// joining with a token.
func (s *Server) serveCACerts(w http.ResponseWriter, r *http.Request) {
	if len(s.cfg.CACertPEM) == 0 {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Write(s.cfg.CACertPEM)
}

// withRecovery turns a handler panic into a logged 500 Status instead of a
// reset connection. http.ErrAbortHandler is re-raised (it is how a handler
// aborts a response on purpose).
func (s *Server) withRecovery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				s.writeError(w, r, apierrors.NewInternalError(fmt.Errorf("panic: %v", v)))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write([]byte("ok"))
}

func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if !s.ready.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("[-]informer-sync failed: caches not synced\nreadyz check failed"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.cfg.Etcd.Get(ctx, "health", clientv3.WithSerializable(), clientv3.WithCountOnly()); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "[-]etcd failed: %v\nreadyz check failed", err)
		return
	}
	w.Write([]byte("ok"))
}

func (s *Server) serveVersion(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusOK, s.cfg.Version)
}

// serveAPI dispatches discovery and resource requests.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	path := strings.Trim(r.URL.Path, "/")
	parts := strings.Split(path, "/")
	switch {
	case path == "api":
		s.serveAPIVersions(w, r)
		return
	case path == "apis":
		s.serveAPIGroupList(w, r)
		return
	case len(parts) == 2 && parts[0] == "api":
		s.serveResourceList(w, r, schema.GroupVersion{Version: parts[1]})
		return
	case len(parts) == 2 && parts[0] == "apis":
		s.serveAPIGroup(w, r, parts[1])
		return
	case len(parts) == 3 && parts[0] == "apis":
		s.serveResourceList(w, r, schema.GroupVersion{Group: parts[1], Version: parts[2]})
		return
	}
	if isCRDPath(r.URL.Path) {
		s.serveCRDs(w, r)
		return
	}
	info, ok := parseResourcePath(r)
	if !ok {
		s.writeError(w, r, notFoundPath(r.URL.Path))
		return
	}
	s.serveResource(w, r, info)
}

// writeJSON writes v (not a runtime.Object) as JSON.
func (s *Server) writeJSON(w http.ResponseWriter, code int, v any) {
	data, err := jsonMarshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", mediaJSON)
	w.WriteHeader(code)
	w.Write(data)
}

// writeError writes err as a metav1.Status in the negotiated format.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := statusFor(err)
	status.Kind, status.APIVersion = "Status", "v1"
	if status.Code >= 500 {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	out, nerr := s.codecs.negotiateOutput(r)
	if nerr != nil || out.as != "" {
		out = output{mediaType: mediaJSON, enc: s.codecs.json}
	}
	data, eerr := encode(out.enc, status)
	if eerr != nil {
		http.Error(w, status.Message, int(status.Code))
		return
	}
	w.Header().Set("Content-Type", out.mediaType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	code := int(status.Code)
	if code == 0 {
		code = http.StatusInternalServerError
	}
	w.WriteHeader(code)
	w.Write(data)
}

// writeObject writes obj in the negotiated output format.
func (s *Server) writeObject(w http.ResponseWriter, r *http.Request, out output, code int, obj runtime.Object) {
	data, err := encode(out.enc, obj)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", out.mediaType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(data)
	}
}

func notFoundPath(path string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound,
		Message: "the server could not find the requested resource",
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: metav1.CauseTypeUnexpectedServerResponse, Message: "404 page not found"}}},
	}}
}

// WaitReady blocks until the server's caches are synced or ctx ends.
func (s *Server) WaitReady(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !s.ready.Load() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// ListServices returns every Service, read from etcd (for allocators that
// rebuild their state at start, before the caches may be ready).
func (s *Server) ListServices(ctx context.Context) ([]corev1.Service, error) {
	res := s.resources[schema.GroupVersionResource{Version: "v1", Resource: "services"}]
	if res == nil {
		return nil, nil
	}
	list, err := res.direct.List(ctx, res.prefix, storage.ListOptions{Recursive: true})
	if err != nil {
		return nil, err
	}
	return list.(*corev1.ServiceList).Items, nil
}

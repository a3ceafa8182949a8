package envvar

import (
	"context"
	"fmt"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Source gives the ConfigMaps and Secrets a container's environment refers
// to. A missing object is reported with an apierrors NotFound error.
type Source interface {
	ConfigMap(ctx context.Context, namespace, name string) (*v1.ConfigMap, error)
	Secret(ctx context.Context, namespace, name string) (*v1.Secret, error)
}

// Options carries what Env needs besides the pod spec: the addresses the
// kubelet knows and the node's allocatable resources.
type Options struct {
	// PodIP and PodIPs are the pod's addresses (status.podIP, status.podIPs).
	// PodIPs defaults to [PodIP]; PodIP defaults to PodIPs[0], then to
	// pod.Status.PodIP.
	PodIP  string
	PodIPs []string
	// HostIP and HostIPs are the node's addresses, defaulted the same way
	// (with pod.Status.HostIP last).
	HostIP  string
	HostIPs []string
	// NodeAllocatable fills limits.* resourceFieldRefs for limits the
	// container does not set.
	NodeAllocatable v1.ResourceList
	// ServiceEnv holds the Service variables (enableServiceLinks). They can be
	// referenced by $(VAR) and are added after the container's own variables,
	// unless the container defines the same name.
	ServiceEnv map[string]string
	// Warn, if set, is told about keys skipped from envFrom because they are
	// not valid variable names; the kubelet turns it into a Warning event.
	Warn func(reason, message string)
}

// ConfigError is the error Env returns: the container's configuration cannot
// be built (the kubelet's CreateContainerConfigError). Err is the cause; a
// missing object keeps the apierrors NotFound, so apierrors.IsNotFound works.
type ConfigError struct {
	Msg string
	Err error
}

func (e *ConfigError) Error() string { return e.Msg }
func (e *ConfigError) Unwrap() error { return e.Err }

func configErrorf(err error, format string, args ...any) *ConfigError {
	return &ConfigError{Msg: fmt.Sprintf(format, args...), Err: err}
}

// Env returns the environment of container c of pod. Later definitions of a
// name override earlier ones; the order is that of first definition, with
// Service variables last.
func Env(ctx context.Context, src Source, pod *v1.Pod, c *v1.Container, opts Options) ([]*runtimeapi.KeyValue, error) {
	b := builder{
		ctx: ctx, src: src, pod: pod, opts: opts.defaulted(pod),
		vars:       map[string]string{},
		configMaps: map[string]*v1.ConfigMap{},
		secrets:    map[string]*v1.Secret{},
	}
	for i := range c.EnvFrom {
		if err := b.envFrom(&c.EnvFrom[i]); err != nil {
			return nil, err
		}
	}
	expand := mappingFor(b.vars, opts.ServiceEnv)
	for i := range c.Env {
		e := &c.Env[i]
		switch {
		case e.Value != "":
			b.set(e.Name, ExpandString(e.Value, expand))
		case e.ValueFrom != nil:
			v, ok, err := b.valueFrom(c, e.ValueFrom)
			if err != nil {
				return nil, err
			}
			if ok {
				b.set(e.Name, v)
			}
		default:
			b.set(e.Name, "")
		}
	}

	out := make([]*runtimeapi.KeyValue, 0, len(b.order)+len(opts.ServiceEnv))
	for _, k := range b.order {
		out = append(out, &runtimeapi.KeyValue{Key: k, Value: []byte(b.vars[k])})
	}
	svc := make([]string, 0, len(opts.ServiceEnv))
	for k := range opts.ServiceEnv {
		if _, defined := b.vars[k]; !defined {
			svc = append(svc, k)
		}
	}
	sort.Strings(svc)
	for _, k := range svc {
		out = append(out, &runtimeapi.KeyValue{Key: k, Value: []byte(opts.ServiceEnv[k])})
	}
	return out, nil
}

func (o Options) defaulted(pod *v1.Pod) Options {
	if o.PodIP == "" && len(o.PodIPs) > 0 {
		o.PodIP = o.PodIPs[0]
	}
	if o.PodIP == "" {
		o.PodIP = pod.Status.PodIP
	}
	if len(o.PodIPs) == 0 && o.PodIP != "" {
		o.PodIPs = []string{o.PodIP}
	}
	if o.HostIP == "" && len(o.HostIPs) > 0 {
		o.HostIP = o.HostIPs[0]
	}
	if o.HostIP == "" {
		o.HostIP = pod.Status.HostIP
	}
	if len(o.HostIPs) == 0 && o.HostIP != "" {
		o.HostIPs = []string{o.HostIP}
	}
	return o
}

type builder struct {
	ctx        context.Context
	src        Source
	pod        *v1.Pod
	opts       Options
	vars       map[string]string
	order      []string
	configMaps map[string]*v1.ConfigMap
	secrets    map[string]*v1.Secret
}

func (b *builder) set(k, v string) {
	if _, ok := b.vars[k]; !ok {
		b.order = append(b.order, k)
	}
	b.vars[k] = v
}

func (b *builder) envFrom(ef *v1.EnvFromSource) error {
	var (
		kind, name string
		data       map[string]string
	)
	switch {
	case ef.ConfigMapRef != nil:
		kind, name = "configMap", ef.ConfigMapRef.Name
		cm, err := b.configMap(name)
		if err != nil {
			if apierrors.IsNotFound(err) && isTrue(ef.ConfigMapRef.Optional) {
				return nil
			}
			return err
		}
		data = cm.Data
	case ef.SecretRef != nil:
		kind, name = "secret", ef.SecretRef.Name
		s, err := b.secret(name)
		if err != nil {
			if apierrors.IsNotFound(err) && isTrue(ef.SecretRef.Optional) {
				return nil
			}
			return err
		}
		data = make(map[string]string, len(s.Data))
		for k, v := range s.Data {
			data[k] = string(v)
		}
	default:
		return nil
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic order of first definition
	var invalid []string
	for _, k := range keys {
		name := ef.Prefix + k
		if len(validation.IsRelaxedEnvVarName(name)) != 0 {
			invalid = append(invalid, name)
			continue
		}
		b.set(name, data[k])
	}
	if len(invalid) > 0 && b.opts.Warn != nil {
		b.opts.Warn("InvalidEnvironmentVariableNames", fmt.Sprintf(
			"Keys [%s] from the EnvFrom %s %s/%s were skipped since they are considered invalid environment variable names.",
			strings.Join(invalid, ", "), kind, b.pod.Namespace, name))
	}
	return nil
}

// valueFrom resolves one env valueFrom; ok is false when an optional source
// is missing and the variable must be left out.
func (b *builder) valueFrom(c *v1.Container, vf *v1.EnvVarSource) (string, bool, error) {
	switch {
	case vf.FieldRef != nil:
		v, err := FieldValue(b.pod, vf.FieldRef.FieldPath, b.opts.PodIPs, b.opts.HostIPs)
		if err != nil {
			return "", false, &ConfigError{Msg: err.Error(), Err: err}
		}
		return v, true, nil
	case vf.ResourceFieldRef != nil:
		v, err := ResourceValue(b.pod, c, vf.ResourceFieldRef, b.opts.NodeAllocatable)
		if err != nil {
			return "", false, &ConfigError{Msg: err.Error(), Err: err}
		}
		return v, true, nil
	case vf.ConfigMapKeyRef != nil:
		ref := vf.ConfigMapKeyRef
		optional := isTrue(ref.Optional)
		cm, err := b.configMap(ref.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional {
				return "", false, nil
			}
			return "", false, err
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if optional {
				return "", false, nil
			}
			return "", false, configErrorf(nil, "couldn't find key %s in ConfigMap %s/%s", ref.Key, b.pod.Namespace, ref.Name)
		}
		return v, true, nil
	case vf.SecretKeyRef != nil:
		ref := vf.SecretKeyRef
		optional := isTrue(ref.Optional)
		s, err := b.secret(ref.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional {
				return "", false, nil
			}
			return "", false, err
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			if optional {
				return "", false, nil
			}
			return "", false, configErrorf(nil, "couldn't find key %s in Secret %s/%s", ref.Key, b.pod.Namespace, ref.Name)
		}
		return string(v), true, nil
	}
	return "", false, configErrorf(nil, "env valueFrom: no source set")
}

// configMap fetches a ConfigMap once per Env call. Its error is a
// *ConfigError that still answers apierrors.IsNotFound.
func (b *builder) configMap(name string) (*v1.ConfigMap, error) {
	if cm, ok := b.configMaps[name]; ok {
		return cm, nil
	}
	cm, err := b.src.ConfigMap(b.ctx, b.pod.Namespace, name)
	if err != nil {
		return nil, fetchError(err, "configmap", name)
	}
	b.configMaps[name] = cm
	return cm, nil
}

func (b *builder) secret(name string) (*v1.Secret, error) {
	if s, ok := b.secrets[name]; ok {
		return s, nil
	}
	s, err := b.src.Secret(b.ctx, b.pod.Namespace, name)
	if err != nil {
		return nil, fetchError(err, "secret", name)
	}
	b.secrets[name] = s
	return s, nil
}

// fetchError words a failed fetch like the kubelet's object managers do
// (`configmap "x" not found`), whatever the Source's own message.
func fetchError(err error, kind, name string) *ConfigError {
	if apierrors.IsNotFound(err) {
		return configErrorf(err, "%s %q not found", kind, name)
	}
	return configErrorf(err, "couldn't get %s %s: %v", kind, name, err)
}

func isTrue(b *bool) bool { return b != nil && *b }

package volume

import (
	"context"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/k1s/k1s/internal/kubelet/envvar"
)

func fetchError(err error, kind, name string) error {
	if apierrors.IsNotFound(err) {
		return &objectError{msg: fmt.Sprintf("%s %q not found", kind, name), err: err}
	}
	return &objectError{msg: fmt.Sprintf("couldn't get %s %s: %v", kind, name, err), err: err}
}

// configMapPayload lays out a ConfigMap as files: every key (Data and
// BinaryData), or only items. A missing optional ConfigMap gives no files.
func (m *Manager) configMapPayload(ctx context.Context, ns, name string, items []v1.KeyToPath, optional *bool, defaultMode int32) (map[string]file, error) {
	payload := map[string]file{}
	cm, err := m.src.ConfigMap(ctx, ns, name)
	if err != nil {
		if apierrors.IsNotFound(err) && optional != nil && *optional {
			return payload, nil
		}
		return nil, fetchError(err, "configmap", name)
	}
	lookup := func(k string) ([]byte, bool) {
		if s, ok := cm.Data[k]; ok {
			return []byte(s), true
		}
		b, ok := cm.BinaryData[k]
		return b, ok
	}
	if len(items) == 0 {
		for k, v := range cm.Data {
			payload[k] = file{data: []byte(v), mode: defaultMode}
		}
		for k, v := range cm.BinaryData {
			payload[k] = file{data: v, mode: defaultMode}
		}
		return payload, nil
	}
	return payload, project(payload, items, lookup, optional, defaultMode, "configmap references non-existent config key: %s")
}

// secretPayload is configMapPayload for a Secret.
func (m *Manager) secretPayload(ctx context.Context, ns, name string, items []v1.KeyToPath, optional *bool, defaultMode int32) (map[string]file, error) {
	payload := map[string]file{}
	s, err := m.src.Secret(ctx, ns, name)
	if err != nil {
		if apierrors.IsNotFound(err) && optional != nil && *optional {
			return payload, nil
		}
		return nil, fetchError(err, "secret", name)
	}
	if len(items) == 0 {
		for k, v := range s.Data {
			payload[k] = file{data: v, mode: defaultMode}
		}
		return payload, nil
	}
	lookup := func(k string) ([]byte, bool) {
		b, ok := s.Data[k]
		return b, ok
	}
	return payload, project(payload, items, lookup, optional, defaultMode, "references non-existent secret key: %s")
}

// project adds the items of a ConfigMap or Secret to payload; a missing key is
// an error (worded by missingFmt) unless optional.
func project(payload map[string]file, items []v1.KeyToPath, lookup func(string) ([]byte, bool), optional *bool, defaultMode int32, missingFmt string) error {
	for _, it := range items {
		data, ok := lookup(it.Key)
		if !ok {
			if optional != nil && *optional {
				continue
			}
			return fmt.Errorf(missingFmt, it.Key)
		}
		payload[it.Path] = file{data: data, mode: modeOr(it.Mode, defaultMode)}
	}
	return nil
}

func modeOr(m *int32, def int32) int32 {
	if m != nil {
		return *m
	}
	return def
}

func (m *Manager) downwardAPIPayload(pod *v1.Pod, podIP string, items []v1.DownwardAPIVolumeFile, defaultMode int32) (map[string]file, error) {
	payload := map[string]file{}
	var podIPs []string
	if podIP != "" {
		podIPs = []string{podIP}
	}
	for _, it := range items {
		var (
			val string
			err error
		)
		switch {
		case it.FieldRef != nil:
			val, err = envvar.FieldValue(pod, it.FieldRef.FieldPath, podIPs, nil)
		case it.ResourceFieldRef != nil:
			val, err = envvar.ResourceValue(pod, nil, it.ResourceFieldRef, m.alloc)
		default:
			err = fmt.Errorf("downwardAPI item %q has no source", it.Path)
		}
		if err != nil {
			return nil, err
		}
		payload[it.Path] = file{data: []byte(val), mode: modeOr(it.Mode, defaultMode)}
	}
	return payload, nil
}

func (m *Manager) projectedPayload(ctx context.Context, pod *v1.Pod, podIP string, src *v1.ProjectedVolumeSource) (map[string]file, error) {
	defaultMode := mode(src.DefaultMode)
	payload := map[string]file{}
	merge := func(p map[string]file, err error) error {
		if err != nil {
			return err
		}
		for k, v := range p {
			payload[k] = v
		}
		return nil
	}
	for i := range src.Sources {
		s := &src.Sources[i]
		var err error
		switch {
		case s.ConfigMap != nil:
			err = merge(m.configMapPayload(ctx, pod.Namespace, s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.Optional, defaultMode))
		case s.Secret != nil:
			err = merge(m.secretPayload(ctx, pod.Namespace, s.Secret.Name, s.Secret.Items, s.Secret.Optional, defaultMode))
		case s.DownwardAPI != nil:
			err = merge(m.downwardAPIPayload(pod, podIP, s.DownwardAPI.Items, defaultMode))
		case s.ServiceAccountToken != nil:
			var token string
			token, err = m.token(ctx, pod, s.ServiceAccountToken)
			payload[s.ServiceAccountToken.Path] = file{data: []byte(token), mode: defaultMode}
		default:
			err = fmt.Errorf("projected volume source %d not supported by k1s", i)
		}
		if err != nil {
			return nil, err
		}
	}
	return payload, nil
}

// tokenKey identifies a cached token of one pod.
type tokenKey struct {
	serviceAccount string
	audience       string
	expiration     int64
}

// maxTokenAge is the age after which a token is refreshed even if its
// lifetime is longer, as upstream does.
const maxTokenAge = 24 * time.Hour

// token returns a service account token for pod, requesting a new one when
// none is cached or the cached one needs a refresh.
func (m *Manager) token(ctx context.Context, pod *v1.Pod, p *v1.ServiceAccountTokenProjection) (string, error) {
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	exp := int64(3600)
	if p.ExpirationSeconds != nil {
		exp = *p.ExpirationSeconds
	}
	key := tokenKey{serviceAccount: sa, audience: p.Audience, expiration: exp}

	m.mu.Lock()
	cached := m.tokens[pod.UID][key]
	m.mu.Unlock()
	now := m.clock.Now()
	if cached != nil && !needsRefresh(cached, now) {
		return cached.Status.Token, nil
	}

	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &exp,
		BoundObjectRef: &authenticationv1.BoundObjectReference{
			APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID,
		},
	}}
	if p.Audience != "" {
		req.Spec.Audiences = []string{p.Audience}
	}
	resp, err := m.src.ServiceAccountToken(ctx, pod.Namespace, sa, req)
	if err != nil {
		if cached != nil && now.Before(cached.Status.ExpirationTimestamp.Time) {
			// Keep serving the still valid token; the next sync retries.
			m.log.Warn("refreshing service account token failed", "pod", pod.Namespace+"/"+pod.Name, "serviceAccount", sa, "err", err)
			return cached.Status.Token, nil
		}
		return "", fmt.Errorf("fetch token for service account %s/%s: %w", pod.Namespace, sa, err)
	}
	if resp.Spec.ExpirationSeconds == nil {
		resp.Spec.ExpirationSeconds = &exp
	}
	if resp.Status.ExpirationTimestamp.IsZero() {
		resp.Status.ExpirationTimestamp = metav1.NewTime(now.Add(time.Duration(*resp.Spec.ExpirationSeconds) * time.Second))
	}
	m.mu.Lock()
	if m.tokens[pod.UID] == nil {
		m.tokens[pod.UID] = map[tokenKey]*authenticationv1.TokenRequest{}
	}
	m.tokens[pod.UID][key] = resp
	m.mu.Unlock()
	m.log.Debug("service account token issued", "pod", pod.Namespace+"/"+pod.Name, "serviceAccount", sa, "expires", resp.Status.ExpirationTimestamp.Time)
	return resp.Status.Token, nil
}

// needsRefresh reports whether 80% of tr's lifetime has passed at now, or it
// is older than maxTokenAge.
func needsRefresh(tr *authenticationv1.TokenRequest, now time.Time) bool {
	ttl := time.Duration(*tr.Spec.ExpirationSeconds) * time.Second
	exp := tr.Status.ExpirationTimestamp.Time
	issued := exp.Add(-ttl)
	if !now.Before(issued.Add(maxTokenAge)) {
		return true
	}
	return !now.Before(exp.Add(-ttl / 5))
}

// forgetTokens drops the cached tokens of a pod.
func (m *Manager) forgetTokens(uid types.UID) {
	m.mu.Lock()
	delete(m.tokens, uid)
	m.mu.Unlock()
}

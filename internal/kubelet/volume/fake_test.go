package volume

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
)

// fakeSource serves objects from maps keyed "namespace/name" (PVs by name)
// and issues numbered tokens.
type fakeSource struct {
	mu         sync.Mutex
	configMaps map[string]*v1.ConfigMap
	secrets    map[string]*v1.Secret
	claims     map[string]*v1.PersistentVolumeClaim
	pvs        map[string]*v1.PersistentVolume
	clock      clock.PassiveClock
	tokenReqs  []*authenticationv1.TokenRequest
	tokenErr   error // fails ServiceAccountToken when set
}

func newFakeSource(clk clock.PassiveClock) *fakeSource {
	return &fakeSource{
		configMaps: map[string]*v1.ConfigMap{},
		secrets:    map[string]*v1.Secret{},
		claims:     map[string]*v1.PersistentVolumeClaim{},
		pvs:        map[string]*v1.PersistentVolume{},
		clock:      clk,
	}
}

func notFound(resource, name string) error {
	return apierrors.NewNotFound(schema.GroupResource{Resource: resource}, name)
}

func (f *fakeSource) ConfigMap(_ context.Context, ns, name string) (*v1.ConfigMap, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if o, ok := f.configMaps[ns+"/"+name]; ok {
		return o.DeepCopy(), nil
	}
	return nil, notFound("configmaps", name)
}

func (f *fakeSource) Secret(_ context.Context, ns, name string) (*v1.Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if o, ok := f.secrets[ns+"/"+name]; ok {
		return o.DeepCopy(), nil
	}
	return nil, notFound("secrets", name)
}

func (f *fakeSource) PersistentVolumeClaim(_ context.Context, ns, name string) (*v1.PersistentVolumeClaim, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if o, ok := f.claims[ns+"/"+name]; ok {
		return o.DeepCopy(), nil
	}
	return nil, notFound("persistentvolumeclaims", name)
}

func (f *fakeSource) PersistentVolume(_ context.Context, name string) (*v1.PersistentVolume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if o, ok := f.pvs[name]; ok {
		return o.DeepCopy(), nil
	}
	return nil, notFound("persistentvolumes", name)
}

func (f *fakeSource) ServiceAccountToken(_ context.Context, ns, sa string, req *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tokenErr != nil {
		return nil, f.tokenErr
	}
	f.tokenReqs = append(f.tokenReqs, req.DeepCopy())
	resp := req.DeepCopy()
	exp := time.Duration(*req.Spec.ExpirationSeconds) * time.Second
	resp.Status = authenticationv1.TokenRequestStatus{
		Token:               fmt.Sprintf("token-%s-%s-%d", ns, sa, len(f.tokenReqs)),
		ExpirationTimestamp: metav1.NewTime(f.clock.Now().Add(exp)),
	}
	return resp, nil
}

func (f *fakeSource) setConfigMap(ns, name string, data map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.configMaps[ns+"/"+name] = &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
}

func (f *fakeSource) tokenRequests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.tokenReqs)
}

// newTestManager returns a Manager rooted in a temp dir whose pod dirs are
// torn down at the end of the test, so no tmpfs outlives it.
func newTestManager(t *testing.T, tmpfs bool) (*Manager, *fakeSource, *clocktesting.FakeClock) {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	src := newFakeSource(clk)
	m, err := New(Options{RootDir: t.TempDir(), Source: src, Clock: clk, DisableTmpfs: !tmpfs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.CleanupOrphans(context.Background(), nil); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return m, src, clk
}

func testPod(uid string, vols ...v1.Volume) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web", Namespace: "ns", UID: types.UID(uid),
			Labels: map[string]string{"app": "web"},
		},
		Spec: v1.PodSpec{ServiceAccountName: "sa", Volumes: vols},
	}
}

func ptr[T any](v T) *T { return &v }

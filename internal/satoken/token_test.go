package satoken

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"
)

func newIssuer(t *testing.T, url string) *Issuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	i, err := NewIssuer(url, key)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func claims(exp time.Time) Claims {
	return Claims{
		Subject: UserName("default", "web"), Audience: []string{"https://kubernetes.default.svc.cluster.local"},
		Expiry: exp.Unix(),
		Kubernetes: KubernetesClaims{Namespace: "default", ServiceAccount: Ref{Name: "web", UID: "u1"},
			Pod: &Ref{Name: "web-1", UID: "p1"}},
	}
}

func TestIssueVerify(t *testing.T) {
	iss := newIssuer(t, "https://kubernetes.default.svc.cluster.local")
	other := newIssuer(t, "https://kubernetes.default.svc.cluster.local")
	auds := []string{"https://kubernetes.default.svc.cluster.local"}
	now := time.Now()
	good, err := iss.Issue(claims(now.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	expired, err := iss.Issue(claims(now.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.Issue(claims(now.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	wrongSub := claims(now.Add(time.Hour))
	wrongSub.Subject = "system:serviceaccount:kube-system:admin"
	forged, err := iss.Issue(wrongSub)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]

	later := newIssuer(t, iss.URL())
	later.key, later.keyID, later.now = iss.key, iss.keyID, func() time.Time { return now.Add(2 * time.Hour) }

	for _, tc := range []struct {
		name  string
		iss   *Issuer
		token string
		auds  []string
		ok    bool
	}{
		{"good", iss, good, auds, true},
		{"other audience", iss, good, []string{"vault"}, false},
		{"expired", later, expired, auds, false},
		{"signed by another key", iss, foreign, auds, false},
		{"subject not the service account", iss, forged, auds, false},
		{"tampered payload", iss, tampered, auds, false},
		{"garbage", iss, "a.b.c", auds, false},
		{"not a jwt", iss, "abc", auds, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.iss.Verify(tc.token, tc.auds)
			if tc.ok {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if c.Kubernetes.Pod == nil || c.Kubernetes.Pod.UID != "p1" || c.Issuer != iss.URL() || c.ID == "" {
					t.Errorf("claims = %+v", c)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Verify = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestLooksLikeToken(t *testing.T) {
	for s, want := range map[string]bool{"a.b.c": true, "K10abc::def": false, "a.b": false, "a.b c.d": false} {
		if got := LooksLikeToken(s); got != want {
			t.Errorf("LooksLikeToken(%q) = %v", s, got)
		}
	}
}

func TestNewIssuerRejectsOtherKeys(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewIssuer("x", key); err == nil {
		t.Error("NewIssuer accepted a P-384 key")
	}
}

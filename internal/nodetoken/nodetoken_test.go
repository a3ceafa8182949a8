package nodetoken

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestEnsureIsStableAndParses(t *testing.T) {
	dir := t.TempDir()
	ca := []byte("-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n")
	a, err := Ensure(dir, ca)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Ensure(dir, ca)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("token changed between calls: %q then %q", a, b)
	}
	h, s, err := Parse(a)
	if err != nil || h != caHash(ca) || s == "" {
		t.Errorf("Parse(%q) = %q, %q, %v", a, h, s, err)
	}
	if c, _ := Ensure(dir, []byte("other CA")); c == a {
		t.Error("a new CA kept the old token")
	}
}

func TestParseRejects(t *testing.T) {
	for _, tok := range []string{"", "K1S", "K1Sabc::x", "XYZ" + strings.Repeat("a", 64) + "::x", "K1S" + strings.Repeat("z", 64) + "::x", "K1S" + strings.Repeat("a", 64) + "::"} {
		if _, _, err := Parse(tok); err == nil {
			t.Errorf("Parse(%q) accepted", tok)
		}
	}
}

func TestConfigVerifiesCA(t *testing.T) {
	ca := []byte("the CA")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cacerts" {
			w.Write(ca)
		}
	}))
	defer srv.Close()
	good := prefix + caHash(ca) + "::s3cret"
	cfg, err := Config(context.Background(), srv.URL, good)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BearerToken != "s3cret" || string(cfg.CAData) != "the CA" || cfg.Host != srv.URL {
		t.Errorf("config %+v", cfg)
	}
	bad := prefix + caHash([]byte("another CA")) + "::s3cret"
	if _, err := Config(context.Background(), srv.URL, bad); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("mismatched CA accepted: %v", err)
	}
	if !SecretMatches("s3cret", "s3cret") || SecretMatches("", "") || SecretMatches("x", "s3cret") {
		t.Error("SecretMatches")
	}
}

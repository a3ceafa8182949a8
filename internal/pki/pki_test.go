package pki

import (
	"crypto/x509"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

var allFiles = []string{
	CAKeyFile, CACertFile,
	ServingKeyFile, ServingCertFile,
	AdminKeyFile, AdminCertFile,
	ServiceAccountFile,
}

func baseOptions() Options {
	return Options{
		NodeIPs:   []net.IP{net.ParseIP("192.168.1.10")},
		ServiceIP: net.ParseIP("10.43.0.1"),
		Hostname:  "node-a",
	}
}

func mustEnsure(t *testing.T, dir string, opts Options) *Bundle {
	t.Helper()
	b, err := Ensure(dir, opts)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return b
}

func readCert(t *testing.T, dir, name string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "tls", name))
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseCert(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

// serials returns the serial of every certificate file in dir/tls.
func serials(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, name := range []string{CACertFile, ServingCertFile, AdminCertFile} {
		m[name] = readCert(t, dir, name).SerialNumber.String()
	}
	return m
}

func TestEnsureGenerates(t *testing.T) {
	dir := t.TempDir()
	b := mustEnsure(t, dir, baseOptions())

	if !slices.Equal(b.Written, allFiles) {
		t.Errorf("Written = %v, want %v", b.Written, allFiles)
	}
	fi, err := os.Stat(filepath.Join(dir, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("tls dir mode = %o, want 700", got)
	}
	for _, name := range allFiles {
		fi, err := os.Stat(filepath.Join(dir, "tls", name))
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o644)
		if filepath.Ext(name) == ".key" {
			want = 0o600
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode = %o, want %o", name, got, want)
		}
	}

	ca := readCert(t, dir, CACertFile)
	if !ca.IsCA {
		t.Errorf("CA certificate is not a CA")
	}
	if life := ca.NotAfter.Sub(ca.NotBefore); life < 9*365*24*time.Hour {
		t.Errorf("CA lifetime = %v, want about 10 years", life)
	}

	serving := readCert(t, dir, ServingCertFile)
	wantDNS := []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc",
		"kubernetes.default.svc.cluster.local", "localhost", "node-a"}
	if got := sortedStrings(serving.DNSNames); !slices.Equal(got, wantDNS) {
		t.Errorf("serving DNS names = %v, want %v", got, wantDNS)
	}
	wantIPs := []string{"10.43.0.1", "127.0.0.1", "192.168.1.10", "::1"}
	if got := ipStrings(serving.IPAddresses); !slices.Equal(got, wantIPs) {
		t.Errorf("serving IPs = %v, want %v", got, wantIPs)
	}
	if err := serving.CheckSignatureFrom(ca); err != nil {
		t.Errorf("serving certificate not signed by CA: %v", err)
	}
	if _, err := serving.Verify(x509.VerifyOptions{
		Roots:     b.CertPool(),
		DNSName:   "kubernetes.default.svc",
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		t.Errorf("serving certificate does not verify for kubernetes.default.svc: %v", err)
	}

	admin := readCert(t, dir, AdminCertFile)
	if admin.Subject.CommonName != "system:admin" || !slices.Equal(admin.Subject.Organization, []string{"system:masters"}) {
		t.Errorf("admin subject = %v, want CN=system:admin O=system:masters", admin.Subject)
	}
	if _, err := admin.Verify(x509.VerifyOptions{
		Roots:     b.CertPool(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		t.Errorf("admin certificate does not verify as a client: %v", err)
	}
	if b.ServiceAccountKey == nil {
		t.Errorf("no service account key")
	}
}

func TestEnsureReusesUnchanged(t *testing.T) {
	dir := t.TempDir()
	first := mustEnsure(t, dir, baseOptions())
	before := serials(t, dir)

	// Same SANs given in another order and with a duplicate.
	opts := baseOptions()
	opts.NodeIPs = append(opts.NodeIPs, net.ParseIP("127.0.0.1"))
	second := mustEnsure(t, dir, opts)

	if len(second.Written) != 0 {
		t.Errorf("second Ensure wrote %v, want nothing", second.Written)
	}
	if after := serials(t, dir); !maps.Equal(before, after) {
		t.Errorf("serials changed: %v -> %v", before, after)
	}
	if string(first.AdminKeyPEM) != string(second.AdminKeyPEM) ||
		string(first.ServingCertPEM) != string(second.ServingCertPEM) {
		t.Errorf("reloaded bundle differs from the generated one")
	}
	if !publicKeysEqual(first.ServiceAccountKey.Public(), second.ServiceAccountKey.Public()) {
		t.Errorf("service account key changed")
	}
}

func TestSANChangeReissuesServingOnly(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Options)
		want   string // a SAN the new certificate must carry ("" for none)
	}{
		{"node IP added", func(o *Options) { o.NodeIPs = append(o.NodeIPs, net.ParseIP("fd00::5")) }, "fd00::5"},
		{"node IP removed", func(o *Options) { o.NodeIPs = nil }, ""},
		{"service IP changed", func(o *Options) { o.ServiceIP = net.ParseIP("10.96.0.1") }, "10.96.0.1"},
		{"extra host name", func(o *Options) { o.ExtraSANs = []string{"K1S.example.com"} }, "k1s.example.com"},
		{"extra IP", func(o *Options) { o.ExtraSANs = []string{"203.0.113.7"} }, "203.0.113.7"},
		{"host renamed", func(o *Options) { o.Hostname = "node-b" }, "node-b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			mustEnsure(t, dir, baseOptions())
			before := serials(t, dir)

			opts := baseOptions()
			tt.change(&opts)
			b := mustEnsure(t, dir, opts)

			if want := []string{ServingKeyFile, ServingCertFile}; !slices.Equal(b.Written, want) {
				t.Errorf("Written = %v, want %v", b.Written, want)
			}
			after := serials(t, dir)
			if after[ServingCertFile] == before[ServingCertFile] {
				t.Errorf("serving certificate not re-issued")
			}
			for _, name := range []string{CACertFile, AdminCertFile} {
				if after[name] != before[name] {
					t.Errorf("%s re-issued, want kept", name)
				}
			}
			if tt.want != "" {
				c := readCert(t, dir, ServingCertFile)
				if !slices.Contains(c.DNSNames, tt.want) && !slices.Contains(ipStrings(c.IPAddresses), tt.want) {
					t.Errorf("new serving certificate lacks %s: %v %v", tt.want, c.DNSNames, c.IPAddresses)
				}
			}
			// And it is stable again afterwards.
			if b := mustEnsure(t, dir, opts); len(b.Written) != 0 {
				t.Errorf("third Ensure wrote %v", b.Written)
			}
		})
	}
}

func TestRenewal(t *testing.T) {
	start := time.Now()
	tests := []struct {
		name  string
		later time.Duration
		want  []string
	}{
		{"half a year later keeps all", 180 * 24 * time.Hour, nil},
		{"within 90 days of expiry re-issues leaves", 300 * 24 * time.Hour,
			[]string{ServingKeyFile, ServingCertFile, AdminKeyFile, AdminCertFile}},
		{"after expiry re-issues leaves", 400 * 24 * time.Hour,
			[]string{ServingKeyFile, ServingCertFile, AdminKeyFile, AdminCertFile}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := baseOptions()
			opts.Now = func() time.Time { return start }
			mustEnsure(t, dir, opts)

			opts.Now = func() time.Time { return start.Add(tt.later) }
			b := mustEnsure(t, dir, opts)
			if !slices.Equal(b.Written, tt.want) {
				t.Errorf("Written = %v, want %v", b.Written, tt.want)
			}
			if c := readCert(t, dir, ServingCertFile); c.NotAfter.Before(start.Add(tt.later)) {
				t.Errorf("serving certificate expires %v, before the current time", c.NotAfter)
			}
		})
	}
}

func TestRecovery(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(t *testing.T, tlsDir string)
		want    []string // files re-written
		wantErr bool
	}{
		{
			name: "serving key from another pair (crash between key and cert)",
			damage: func(t *testing.T, tlsDir string) {
				copyFile(t, filepath.Join(tlsDir, AdminKeyFile), filepath.Join(tlsDir, ServingKeyFile))
			},
			want: []string{ServingKeyFile, ServingCertFile},
		},
		{
			name: "admin certificate missing",
			damage: func(t *testing.T, tlsDir string) {
				removeFile(t, filepath.Join(tlsDir, AdminCertFile))
			},
			want: []string{AdminKeyFile, AdminCertFile},
		},
		{
			name: "truncated serving certificate",
			damage: func(t *testing.T, tlsDir string) {
				if err := os.WriteFile(filepath.Join(tlsDir, ServingCertFile), []byte("-----BEGIN CERT"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{ServingKeyFile, ServingCertFile},
		},
		{
			name: "CA key written but certificate not (crash on first start)",
			damage: func(t *testing.T, tlsDir string) {
				removeFile(t, filepath.Join(tlsDir, CACertFile))
			},
			// A new CA, so every leaf it signed is re-issued; the
			// service account key is independent and kept.
			want: []string{CAKeyFile, CACertFile, ServingKeyFile, ServingCertFile, AdminKeyFile, AdminCertFile},
		},
		{
			name: "CA key missing",
			damage: func(t *testing.T, tlsDir string) {
				removeFile(t, filepath.Join(tlsDir, CAKeyFile))
			},
			wantErr: true,
		},
		{
			name: "CA key does not match",
			damage: func(t *testing.T, tlsDir string) {
				copyFile(t, filepath.Join(tlsDir, AdminKeyFile), filepath.Join(tlsDir, CAKeyFile))
			},
			wantErr: true,
		},
		{
			name: "key mode loosened",
			damage: func(t *testing.T, tlsDir string) {
				if err := os.Chmod(filepath.Join(tlsDir, ServiceAccountFile), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			mustEnsure(t, dir, baseOptions())
			tt.damage(t, filepath.Join(dir, "tls"))

			b, err := Ensure(dir, baseOptions())
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Ensure = nil error, want one")
				}
				return
			}
			if err != nil {
				t.Fatalf("Ensure: %v", err)
			}
			if !slices.Equal(b.Written, tt.want) {
				t.Errorf("Written = %v, want %v", b.Written, tt.want)
			}
			for _, name := range allFiles {
				fi, err := os.Stat(filepath.Join(dir, "tls", name))
				if err != nil {
					t.Fatal(err)
				}
				if filepath.Ext(name) == ".key" && fi.Mode().Perm() != 0o600 {
					t.Errorf("%s mode = %o, want 600", name, fi.Mode().Perm())
				}
			}
			if b := mustEnsure(t, dir, baseOptions()); len(b.Written) != 0 {
				t.Errorf("Ensure after recovery wrote %v, want nothing", b.Written)
			}
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func removeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

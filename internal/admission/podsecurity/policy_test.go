package podsecurity

import (
	"testing"
)

func TestPolicyFromLabels(t *testing.T) {
	lv := func(l Level, v string) LevelVersion { return LevelVersion{Level: l, Version: v} }
	priv := lv(Privileged, "latest")
	tests := []struct {
		name    string
		labels  map[string]string
		want    Policy
		wantErr string
	}{
		{name: "no labels", want: DefaultPolicy()},
		{name: "unrelated labels", labels: map[string]string{"a": "b"}, want: DefaultPolicy()},
		{
			name:   "enforce only",
			labels: map[string]string{EnforceLevelLabel: "restricted"},
			want:   Policy{Enforce: lv(Restricted, "latest"), Audit: priv, Warn: priv},
		},
		{
			name: "all modes and versions",
			labels: map[string]string{
				EnforceLevelLabel: "baseline", EnforceVersionLabel: "v1.30",
				AuditLevelLabel: "restricted", AuditVersionLabel: "latest",
				WarnLevelLabel: "restricted", WarnVersionLabel: "v1.0",
			},
			want: Policy{Enforce: lv(Baseline, "v1.30"), Audit: lv(Restricted, "latest"), Warn: lv(Restricted, "v1.0")},
		},
		{
			name:    "invalid enforce level fails closed",
			labels:  map[string]string{EnforceLevelLabel: "strict"},
			want:    Policy{Enforce: lv(Restricted, "latest"), Audit: priv, Warn: priv},
			wantErr: `metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted`,
		},
		{
			name:    "invalid warn level fails open",
			labels:  map[string]string{WarnLevelLabel: "Restricted"},
			want:    DefaultPolicy(),
			wantErr: `metadata.labels[pod-security.kubernetes.io/warn]: Invalid value: "Restricted": must be one of privileged, baseline, restricted`,
		},
		{
			name:    "invalid version reads as latest",
			labels:  map[string]string{EnforceLevelLabel: "baseline", EnforceVersionLabel: "1.30"},
			want:    Policy{Enforce: lv(Baseline, "latest"), Audit: priv, Warn: priv},
			wantErr: `metadata.labels[pod-security.kubernetes.io/enforce-version]: Invalid value: "1.30": must be "latest" or "v1.x"`,
		},
		{
			name:    "leading zero version is invalid",
			labels:  map[string]string{AuditVersionLabel: "v1.01"},
			want:    DefaultPolicy(),
			wantErr: `metadata.labels[pod-security.kubernetes.io/audit-version]: Invalid value: "v1.01": must be "latest" or "v1.x"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := PolicyFromLabels(tt.labels)
			if got != tt.want {
				t.Errorf("policy = %+v, want %+v", got, tt.want)
			}
			gotErr := ""
			if len(errs) > 0 {
				gotErr = errs.ToAggregate().Error()
			}
			if gotErr != tt.wantErr {
				t.Errorf("errors = %q, want %q", gotErr, tt.wantErr)
			}
		})
	}
}

func TestLevelVersionString(t *testing.T) {
	tests := []struct {
		lv   LevelVersion
		want string
	}{
		{LevelVersion{Level: Restricted, Version: "latest"}, "restricted:latest"},
		{LevelVersion{Level: Baseline, Version: "v1.30"}, "baseline:v1.30"},
		{LevelVersion{Level: Baseline}, "baseline:latest"},
	}
	for _, tt := range tests {
		if got := tt.lv.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

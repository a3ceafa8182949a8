package podsecurity

import (
	"fmt"
	"regexp"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Level is a Pod Security Standards profile.
type Level string

const (
	Privileged Level = "privileged"
	Baseline   Level = "baseline"
	Restricted Level = "restricted"
)

// Namespace labels that select the policy, as upstream.
const (
	EnforceLevelLabel   = "pod-security.kubernetes.io/enforce"
	EnforceVersionLabel = "pod-security.kubernetes.io/enforce-version"
	AuditLevelLabel     = "pod-security.kubernetes.io/audit"
	AuditVersionLabel   = "pod-security.kubernetes.io/audit-version"
	WarnLevelLabel      = "pod-security.kubernetes.io/warn"
	WarnVersionLabel    = "pod-security.kubernetes.io/warn-version"
)

// LatestVersion is the only policy version evaluated; any valid "v1.x"
// label is accepted and shown in messages but evaluated as latest.
const LatestVersion = "latest"

// strictness orders levels; unknown levels sort with privileged.
func (l Level) strictness() int {
	switch l {
	case Baseline:
		return 1
	case Restricted:
		return 2
	}
	return 0
}

func (l Level) valid() bool {
	return l == Privileged || l == Baseline || l == Restricted
}

// LevelVersion is a level at a policy version ("restricted:latest").
type LevelVersion struct {
	Level   Level
	Version string
}

func (lv LevelVersion) String() string {
	v := lv.Version
	if v == "" {
		v = LatestVersion
	}
	return fmt.Sprintf("%s:%s", lv.Level, v)
}

// Policy is a namespace's effective Pod Security policy: the level that
// refuses pods (Enforce), the one that only annotates the audit record
// (Audit), and the one that returns warnings to the client (Warn).
type Policy struct {
	Enforce LevelVersion
	Audit   LevelVersion
	Warn    LevelVersion
}

// DefaultPolicy is what an unlabelled namespace gets: privileged
// everywhere, as upstream's default configuration.
func DefaultPolicy() Policy {
	lv := LevelVersion{Level: Privileged, Version: LatestVersion}
	return Policy{Enforce: lv, Audit: lv, Warn: lv}
}

var versionPattern = regexp.MustCompile(`^v1\.(0|[1-9][0-9]*)$`)

var labelsPath = field.NewPath("metadata", "labels")

// PolicyFromLabels resolves a namespace's labels to its policy. It always
// returns a usable policy: an invalid enforce level fails closed
// (restricted), invalid audit and warn levels fail open (privileged), and
// an invalid version is read as latest; each invalid label is also
// reported as a field error, as upstream.
func PolicyFromLabels(labels map[string]string) (Policy, field.ErrorList) {
	p := DefaultPolicy()
	var errs field.ErrorList
	level := func(label string, into *Level, onError Level) {
		v, ok := labels[label]
		if !ok {
			return
		}
		if l := Level(v); l.valid() {
			*into = l
			return
		}
		*into = onError
		errs = append(errs, field.Invalid(labelsPath.Key(label), v, "must be one of privileged, baseline, restricted"))
	}
	version := func(label string, into *string) {
		v, ok := labels[label]
		if !ok {
			return
		}
		if v == LatestVersion || versionPattern.MatchString(v) {
			*into = v
			return
		}
		*into = LatestVersion
		errs = append(errs, field.Invalid(labelsPath.Key(label), v, `must be "latest" or "v1.x"`))
	}
	level(EnforceLevelLabel, &p.Enforce.Level, Restricted)
	version(EnforceVersionLabel, &p.Enforce.Version)
	level(AuditLevelLabel, &p.Audit.Level, Privileged)
	version(AuditVersionLabel, &p.Audit.Version)
	level(WarnLevelLabel, &p.Warn.Level, Privileged)
	version(WarnVersionLabel, &p.Warn.Version)
	return p, errs
}

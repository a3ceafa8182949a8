// Package envvar builds a container's environment the way the kubelet does:
// envFrom (ConfigMaps and Secrets, with prefix), env values with $(VAR)
// expansion, and valueFrom (configMapKeyRef, secretKeyRef, fieldRef,
// resourceFieldRef). It also expands $(VAR) references in a container's
// command and args.
//
// Guarantees: later definitions of a name win and keep the position of the
// first definition, so the result is deterministic. Every error from Env is a
// *ConfigError, which the kubelet reports as CreateContainerConfigError; a
// missing object or key marked optional is skipped, not an error. Keys from
// envFrom that are not valid variable names are skipped and reported through
// Options.Warn, as upstream does with an event.
//
// ServiceEnv computes the Service (docker-link style) variables from a list
// of Services; Env adds them after the container's own, which win.
//
// It does not: fetch or cache objects itself (the caller's Source does, and
// the caller lists the Services), or support env files (fileKeyRef).
package envvar

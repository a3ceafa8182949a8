// Package admission holds what the api-server's admission plugins share:
// the attributes of a write (operation, resource, old and new object, who
// asks). Plugins live in their own packages (internal/admission/...,
// internal/nodeauth) and implement Mutator, Validator or both; the
// api-server runs every mutator, then validation of the object, then every
// validator, before the object is stored. A plugin refuses with an
// apimachinery StatusError (usually Forbidden) whose message names the
// plugin's reason as upstream does.
package admission

// Package version says which Kubernetes API k1s implements and which build
// this is. /version serves it; clients parse GitVersion as semver.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"

	apiversion "k8s.io/apimachinery/pkg/version"
)

// Kubernetes API version implemented.
const (
	Major = "1"
	Minor = "37"
)

// gitCommit is set at link time by the Makefile (-X); never written at run time.
var gitCommit string

// Info returns the version served at /version.
func Info() apiversion.Info {
	commit := "dev"
	if gitCommit != "" {
		commit = gitCommit
	} else if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 7 {
				commit = s.Value[:7]
			}
		}
	}
	return apiversion.Info{
		Major:        Major,
		Minor:        Minor,
		GitVersion:   fmt.Sprintf("v%s.%s.0+k1s.%s", Major, Minor, commit),
		GitCommit:    commit,
		GitTreeState: "clean",
		GoVersion:    runtime.Version(),
		Compiler:     runtime.Compiler,
		Platform:     runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// Package version says which build of vmrep is running, for the --version
// flag of vmrep and vmrepd. It imports nothing of the project, so the CLI
// may use it without linking anything below the API.
package version

import "runtime/debug"

// version overrides what the build info says, for release builds:
//
//	go build -ldflags "-X github.com/vmrep/vmrep/internal/version.version=v1.2.0" ./cmd/...
var version string

// String returns the -X override if set, else the module version, else the
// VCS revision the binary was built from ("+dirty" when the tree had
// changes), else "devel".
func String() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return "devel"
	}
	return "devel-" + rev[:min(len(rev), 12)] + dirty
}

// Package secretfile reads files that hold secrets (keys, tokens) and
// refuses one that users other than its owner may read. It imports
// nothing of the project, so the CLI and the daemon's main share it.
package secretfile

import (
	"fmt"
	"os"
)

// Read returns the content of path, refusing a file whose mode lets
// group or others read or write it; flag names the option the path came
// from, so errors say which.
func Read(flag, path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s %s: mode %v lets others read it; chmod 600 it", flag, path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return b, nil
}

package s3backend

import (
	"fmt"
	"strings"

	"github.com/vmrep/vmrep/engine/cas"
)

// keyOf maps a handle to its object key under prefix (empty or ending in
// "/"). cas validates names further; this only keeps keys well-formed.
func keyOf(prefix string, h cas.Handle) (string, error) {
	switch h.Kind {
	case cas.FilePack:
		if !isPackName(h.Name) {
			return "", fmt.Errorf("bad pack name %q", h.Name)
		}
		return prefix + "packs/" + h.Name[:2] + "/" + h.Name + ".pack", nil
	case cas.FileRecord:
		sub, name, ok := strings.Cut(h.Name, "/")
		if !ok || (sub != "vgs" && sub != "snapshots") || name == "" || strings.Contains(name, "/") {
			return "", fmt.Errorf("bad record file name %q", h.Name)
		}
		return prefix + "records/" + h.Name, nil
	case cas.FileConfig:
		if h.Name != "config" {
			return "", fmt.Errorf("bad config file name %q", h.Name)
		}
		return prefix + "config", nil
	}
	return "", fmt.Errorf("bad file kind %d", h.Kind)
}

// listRoot is the key prefix List walks for kind.
func listRoot(prefix string, kind cas.FileKind) (string, error) {
	switch kind {
	case cas.FilePack:
		return prefix + "packs/", nil
	case cas.FileRecord:
		return prefix + "records/", nil
	case cas.FileConfig:
		return prefix + "config", nil
	}
	return "", fmt.Errorf("bad file kind %d", kind)
}

// nameOf is the inverse of keyOf for a listed key; ok is false for keys
// that are not ours (List skips them, as the local backend skips strays).
func nameOf(prefix string, kind cas.FileKind, key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return "", false
	}
	switch kind {
	case cas.FilePack:
		rest, ok = strings.CutPrefix(rest, "packs/")
		if !ok || len(rest) < 3 || rest[2] != '/' {
			return "", false
		}
		name, ok := strings.CutSuffix(rest[3:], ".pack")
		if !ok || !isPackName(name) || name[:2] != rest[:2] {
			return "", false
		}
		return name, true
	case cas.FileRecord:
		rest, ok = strings.CutPrefix(rest, "records/")
		if !ok {
			return "", false
		}
		if _, err := keyOf("", cas.Handle{Kind: cas.FileRecord, Name: rest}); err != nil {
			return "", false
		}
		return rest, true
	case cas.FileConfig:
		return "config", rest == "config"
	}
	return "", false
}

func isPackName(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// normPrefix makes a configured prefix either empty or "a/b/".
func normPrefix(p string) string {
	p = strings.Trim(p, "/")
	if p == "" {
		return ""
	}
	return p + "/"
}

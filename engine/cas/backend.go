package cas

import (
	"context"
	"fmt"

	"github.com/vmrep/vmrep/internal/vfs"
)

// FileKind says which kind of stored file a Handle names.
type FileKind uint8

const (
	FilePack   FileKind = 1 // Name: 64 hex digits
	FileRecord FileKind = 2 // Name: "<kind dir>/<record name>", e.g. "vgs/vg-0123…"
	// FileConfig is the store config kept next to packs in shared storage,
	// so that a new store directory can join it. Name: "config".
	FileConfig FileKind = 3
)

func (k FileKind) String() string {
	switch k {
	case FilePack:
		return "pack"
	case FileRecord:
		return "record"
	case FileConfig:
		return "config"
	}
	return fmt.Sprintf("filekind(%d)", uint8(k))
}

// Handle names one stored file.
type Handle struct {
	Kind FileKind
	Name string
}

func (h Handle) String() string { return h.Kind.String() + " " + h.Name }

// Backend stores finished pack and record files. The local directory is one
// implementation; an object store can be another. Files are immutable once
// Put: a name is never rewritten with other content.
type Backend interface {
	// List calls fn for every stored file of kind, in no particular order.
	List(ctx context.Context, kind FileKind, fn func(name string, size int64) error) error
	// ReadAt fills p from offset off of h; a short read is an error, and a
	// missing file is an error matching blob.ErrNotFound.
	ReadAt(ctx context.Context, h Handle, p []byte, off int64) error
	// Put makes the complete temp file f durable under h. Put takes
	// ownership of f: it closes it and removes the temp name.
	Put(ctx context.Context, h Handle, f vfs.File) error
	// Delete removes h durably; deleting a missing file is not an error.
	Delete(ctx context.Context, h Handle) error
}

package export

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/restore"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/durable"
)

// Format is an image format Volume can write.
type Format string

const (
	FormatQcow2 Format = "qcow2"
	FormatRaw   Format = "raw"
)

// ErrFormat is returned for a format this package cannot write.
var ErrFormat = errors.New("unsupported image format")

// Options tune an export.
type Options struct {
	Workers     int                     // chunk readers; default GOMAXPROCS
	Progress    func(done, total int64) // volume bytes done, called from one goroutine
	ClusterBits int                     // QCOW2 cluster size as a power of two, 9..21; default 16 (64 KiB)
}

// Stats describe an export.
type Stats struct {
	Size         int64 // volume size
	Chunks       int64 // chunks read
	Holes        int64 // hole entries in the manifest
	DataBytes    int64 // bytes of chunks read
	DataClusters int64 // QCOW2 clusters holding data (0 for raw)
	FileSize     int64 // bytes of the image file
}

// Volume writes the volume of manifest m to path in format. The image is
// written under a temporary name in path's directory, synced, and renamed
// into place only when complete, so a failed export never leaves a partial
// file at path.
func Volume(ctx context.Context, r blob.Reader, m *volume.Manifest, format Format, path string, opts Options) (Stats, error) {
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil {
		return Stats{}, fmt.Errorf("export %s to %s: directory: %w", format, path, err)
	} else if !fi.IsDir() {
		return Stats{}, fmt.Errorf("export %s to %s: %s is not a directory", format, path, dir)
	}
	switch format {
	case FormatRaw:
		st, err := restore.ToPath(ctx, r, m, path, restore.Options{Workers: opts.Workers, Progress: opts.Progress})
		if err != nil {
			return Stats{}, fmt.Errorf("export raw to %s: %w", path, err)
		}
		return Stats{Size: st.Size, Chunks: st.Chunks, Holes: st.Holes, DataBytes: st.DataBytes, FileSize: st.Size}, nil
	case FormatQcow2:
		st, err := qcow2ToPath(ctx, r, m, path, opts)
		if err != nil {
			return Stats{}, fmt.Errorf("export qcow2 to %s: %w", path, err)
		}
		return st, nil
	}
	return Stats{}, fmt.Errorf("export to %s: %w: %q (want %q or %q)", path, ErrFormat, format, FormatQcow2, FormatRaw)
}

func qcow2ToPath(ctx context.Context, r blob.Reader, m *volume.Manifest, path string, opts Options) (Stats, error) {
	f, err := durable.Create(nil, path, durable.Options{Pattern: "." + filepath.Base(path) + ".vmrep-*"})
	if err != nil {
		return Stats{}, err
	}
	defer f.Close() // removes the temporary file unless committed
	st, err := WriteQcow2(ctx, r, m, f, opts)
	if err != nil {
		return Stats{}, err
	}
	if err := f.Commit(); err != nil {
		return Stats{}, err
	}
	return st, nil
}

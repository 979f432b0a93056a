package ingest

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
)

// quiet is how long before a read a file's modification time must lie for
// the read to vouch for it: a write within the same timestamp tick as the
// stat could otherwise leave the time unchanged.
const quiet = time.Second

func fileID(st source.FileState) string { return fmt.Sprintf("%d:%d", st.Dev, st.Ino) }

func matches(prev volume.VolumeSnapshot, st source.FileState) bool {
	return prev.SourceFile != "" && prev.SourceFile == fileID(st) &&
		prev.SourceSize == st.Size && prev.SourceMtime == st.Mtime
}

// findHint says what changed in src since prev was read from a file, when
// the source can tell: the file is the one prev read, untouched (nothing
// changed), or a qcow2 overlay whose backing file is that file (its top
// layer is the change). It returns nil, "" when it cannot tell.
func findHint(ctx context.Context, pages blob.Reader, src source.Reader, prev volume.VolumeSnapshot) (*Hint, string, error) {
	if prev.SourceFile == "" || prev.Size != src.Size() {
		return nil, "", nil
	}
	var changed []source.Range
	var why string
	if l, ok := src.(source.Layered); ok && l.Backing() != "" {
		fi, err := os.Stat(l.Backing())
		if err != nil {
			return nil, "", nil
		}
		if st, ok := source.StateOf(fi); !ok || !matches(prev, st) {
			return nil, "", nil
		}
		err = l.TopAllocated(ctx, func(r source.Range) error {
			changed = append(changed, r)
			return nil
		})
		if err != nil {
			return nil, "", fmt.Errorf("hint: top layer: %w", err)
		}
		why = "qcow2 top layer over the last snapshot's image"
	} else if s, ok := src.(source.Stater); ok {
		st, err := s.FileState()
		if err != nil || !matches(prev, st) {
			return nil, "", nil
		}
		why = "file unchanged since the last snapshot"
	} else {
		return nil, "", nil
	}
	base, err := volume.LoadManifest(ctx, pages, prev.Manifest)
	if err != nil {
		return nil, "", fmt.Errorf("hint: base manifest: %w", err)
	}
	return &Hint{Base: base, Pages: pages, Changed: changed}, why, nil
}

// fileStamp takes a source's file state before it is read; vouch records it
// in vs after the read when the file did not move meanwhile and was quiet
// before.
type fileStamp struct {
	st    source.FileState
	ok    bool
	start time.Time
}

func stampOf(src source.Reader) fileStamp {
	s, ok := src.(source.Stater)
	if !ok {
		return fileStamp{}
	}
	st, err := s.FileState()
	return fileStamp{st: st, ok: err == nil, start: time.Now()}
}

func (f fileStamp) vouch(src source.Reader, vs *volume.VolumeSnapshot) {
	if !f.ok || time.Unix(0, f.st.Mtime).After(f.start.Add(-quiet)) {
		return
	}
	after, err := src.(source.Stater).FileState()
	if err != nil || after != f.st {
		return
	}
	vs.SourceFile, vs.SourceSize, vs.SourceMtime = fileID(f.st), f.st.Size, f.st.Mtime
}

package delta

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vmrep/vmrep/internal/durable"
)

// IndexName is the index file of a split delta directory.
const IndexName = "index.vmdelta"

// DefaultPartSize caps a part when SplitSink is given no size.
const DefaultPartSize = 1 << 30

// SplitSink writes a delta as a directory: one or more part files per
// volume, none much over partSize (a frame is never split, so a part may
// pass the cap by one frame), and an index naming each with its BLAKE3.
// The index is written last: a directory without one is not a delta.
func SplitSink(dir string, partSize int64) Sink {
	if partSize <= 0 {
		partSize = DefaultPartSize
	}
	return &splitSink{dir: dir, partSize: partSize}
}

type splitSink struct {
	dir      string
	partSize int64
	h        *Header
	cur      *frameWriter
	curRef   PartRef
	total    int64
	made     bool // begin created dir
	indexed  bool // finish renamed the index into place
}

func (s *splitSink) Begin(h *Header) error {
	if _, err := os.Stat(s.dir); os.IsNotExist(err) {
		s.made = true
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("write split delta %s: %w", s.dir, err)
	}
	s.h = h
	return nil
}

func (s *splitSink) Put(vol int, frame []byte, recs int) error {
	if s.cur != nil && (s.curRef.Volume != vol || s.cur.n >= s.partSize) {
		if err := s.closePart(); err != nil {
			return err
		}
	}
	if s.cur == nil {
		name := fmt.Sprintf("part-%03d-%06d.vmdp", vol, len(s.h.Parts))
		hdr, _ := json.Marshal(struct {
			Target string `json:"target"`
			Volume int    `json:"volume"`
		}{s.h.Target.ID, vol})
		w, err := createFrame(filepath.Join(s.dir, name), kindPart, hdr)
		if err != nil {
			return err
		}
		s.cur, s.curRef = w, PartRef{File: name, Volume: vol}
	}
	s.curRef.Records += int64(recs)
	return s.cur.write(frame)
}

func (s *splitSink) closePart() error {
	n, sum, err := s.cur.close()
	s.cur = nil
	if err != nil {
		return err
	}
	s.curRef.Size, s.curRef.BLAKE3 = n, sum
	s.total += n
	s.h.Parts = append(s.h.Parts, s.curRef)
	return nil
}

func (s *splitSink) Finish() (int64, error) {
	if s.cur != nil {
		if err := s.closePart(); err != nil {
			return 0, err
		}
	}
	hdr, err := json.Marshal(s.h)
	if err != nil {
		return 0, err
	}
	// Parts are durable before the index that names them.
	if err := durable.SyncDir(s.dir); err != nil {
		return 0, err
	}
	w, err := createFrame(filepath.Join(s.dir, IndexName), kindIndex, hdr)
	if err != nil {
		return 0, err
	}
	n, _, err := w.close()
	if err == nil {
		s.indexed = true
		err = durable.SyncDir(s.dir)
	}
	return s.total + n, err
}

// Abort removes the part being written and the parts already finished,
// and dir when begin made it: a directory of parts without an index is no
// delta, takes the space a full disk needs back, and would make the same
// export, run again, find its output path taken.
func (s *splitSink) Abort() {
	if s.cur != nil {
		s.cur.abort()
	}
	if s.h == nil {
		return
	}
	if s.indexed {
		os.Remove(filepath.Join(s.dir, IndexName))
	}
	for _, p := range s.h.Parts {
		os.Remove(filepath.Join(s.dir, p.File))
	}
	if s.made {
		os.Remove(s.dir) // only when empty
	}
}

// DiskSize is a delta's size on disk: the file's, or the sum of the
// regular files of a split delta's directory.
func DiskSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	} else if !fi.IsDir() {
		return fi.Size(), nil
	}
	ents, err := os.ReadDir(path)
	var n int64
	for _, e := range ents {
		if i, err := e.Info(); err == nil && i.Mode().IsRegular() {
			n += i.Size()
		}
	}
	return n, err
}

package delta

import (
	"bufio"
	"encoding/json"
	"fmt"
	"hash"
	"path/filepath"

	"github.com/zeebo/blake3"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/internal/durable"
)

// Sink receives an exported delta. FileSink and SplitSink are the two
// kinds; each writes under temporary names and renames into place only
// when everything is on disk.
// An exporter calls Begin with the header, Put with each encoded frame
// (AppendFrame) and its record count, in order, then Finish, or Abort to
// remove everything written.
type Sink interface {
	Begin(h *Header) error
	Put(vol int, frame []byte, recs int) error
	Finish() (int64, error)
	Abort()
}

// frameWriter writes one framed file (single, index or part): prefix,
// records, end marker, trailer. It hashes what it writes for the trailer.
type frameWriter struct {
	path string
	f    *durable.File
	bw   *bufio.Writer
	sum  hash.Hash // everything before the trailer
	n    int64
}

func createFrame(path string, kind byte, hdr []byte) (*frameWriter, error) {
	f, err := durable.Create(nil, path, durable.Options{Writeback: true})
	if err != nil {
		return nil, fmt.Errorf("write delta %s: %w", path, err)
	}
	w := &frameWriter{path: path, f: f, sum: blake3.New(), bw: bufio.NewWriterSize(f, 1<<20)}
	if err := w.write(appendPrefix(nil, kind, hdr)); err != nil {
		w.abort()
		return nil, err
	}
	return w, nil
}

func (w *frameWriter) write(b []byte) error {
	w.sum.Write(b)
	w.n += int64(len(b))
	if _, err := w.bw.Write(b); err != nil {
		return fmt.Errorf("write delta %s: %w", w.path, err)
	}
	return nil
}

// close writes the end marker and trailer, syncs and renames (the caller
// syncs the directory); it returns the file's size and the BLAKE3 of the
// whole file.
func (w *frameWriter) close() (int64, blob.ID, error) {
	if err := w.write([]byte{endOfFrames}); err != nil {
		return 0, blob.ID{}, err
	}
	tr := append([]byte(trailMagic), w.sum.Sum(nil)...)
	if err := w.write(tr); err != nil {
		return 0, blob.ID{}, err
	}
	var whole blob.ID
	copy(whole[:], w.sum.Sum(nil))
	err := w.bw.Flush()
	if err == nil {
		err = w.f.CommitNoDirSync()
	}
	if err != nil {
		w.f.Close()
		return 0, blob.ID{}, fmt.Errorf("write delta %s: %w", w.path, err)
	}
	return w.n, whole, nil
}

func (w *frameWriter) abort() { w.f.Close() }

// FileSink writes a delta as one file at path.
func FileSink(path string) Sink { return &fileSink{path: path} }

type fileSink struct {
	path string
	w    *frameWriter
}

func (s *fileSink) Begin(h *Header) error {
	hdr, err := json.Marshal(h)
	if err != nil {
		return err
	}
	s.w, err = createFrame(s.path, kindSingle, hdr)
	return err
}

func (s *fileSink) Put(_ int, frame []byte, _ int) error { return s.w.write(frame) }

func (s *fileSink) Finish() (int64, error) {
	n, _, err := s.w.close()
	if err == nil {
		err = durable.SyncDir(filepath.Dir(s.path))
	}
	return n, err
}

func (s *fileSink) Abort() {
	if s.w != nil {
		s.w.abort()
	}
}

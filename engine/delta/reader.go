package delta

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/vmrep/vmrep/engine/blob"

	"github.com/zeebo/blake3"
)

// Reader is an opened, checksum-verified delta: one file or a split
// directory.
type Reader struct {
	Header Header
	// Digest is the BLAKE3 of the whole single file or index file (which
	// lists every part's BLAKE3), so it names this delta exactly; the
	// replica's apply journal records it.
	Digest blob.ID
	path   string
	files  []frameFile
	// version is the format version of the single or index file; every
	// part has the same. It picks the frame hash function.
	version byte
	// unchecked is the raw header of a single file OpenForApply opened,
	// until Check has verified the file; nil once checked.
	unchecked []byte
}

// OpenForApply opens a single delta file reading only its prefix and
// header, and leaves its checksums to Check, so that apply can verify the
// file alongside its pre-pass, which reads records but writes nothing,
// instead of reading the whole file once more before it. A split
// directory (or anything but a single file) is opened and checked as Open
// does. Digest is set by Check.
func OpenForApply(ctx context.Context, path string) (*Reader, error) {
	if fi, err := os.Stat(path); err != nil || fi.IsDir() {
		return Open(ctx, path)
	}
	ff := frameFile{path: path, volume: -1}
	f, pre, hdr, err := readHead(&ff)
	if err != nil {
		return nil, fmt.Errorf("open delta %s: %w", path, err)
	}
	f.Close()
	if pre[5] != kindSingle {
		return Open(ctx, path)
	}
	h, err := decodeHeader(hdr)
	if err == nil && len(h.Parts) != 0 {
		err = formatErr("header", "a single file lists parts")
	}
	if err != nil {
		return nil, fmt.Errorf("open delta %s: %w", path, err)
	}
	return &Reader{Header: *h, path: path, files: []frameFile{ff}, version: ff.version, unchecked: hdr}, nil
}

// Checked reports whether the delta's checksums are verified: always after
// Open, after Check for OpenForApply.
func (rd *Reader) Checked() bool { return rd.unchecked == nil }

// Check verifies the checksums of a delta OpenForApply opened, as Open
// does, and sets Digest; the file must be the one opened (same size and
// header). It does nothing when the delta is checked already. It must not
// run alongside another Check.
func (rd *Reader) Check(ctx context.Context) error {
	if rd.unchecked == nil {
		return nil
	}
	hdr, ff, _, whole, err := openFrameRaw(ctx, rd.path)
	if err != nil {
		return err
	}
	if old := rd.files[0]; ff.size != old.size || ff.hdrEnd != old.hdrEnd || ff.version != old.version || !bytes.Equal(hdr, rd.unchecked) {
		return fmt.Errorf("open delta %s: %w", rd.path, formatErr("file", "changed while it was read"))
	}
	rd.Digest, rd.unchecked = whole, nil
	return nil
}

// frameFile is one file whose records the reader walks.
type frameFile struct {
	path    string
	size    int64
	hdrEnd  int64 // offset of the first record
	volume  int   // the only volume a part may hold; -1 for a single file
	version byte  // the format version in its prefix
}

// Open opens a delta file or split directory and verifies every checksum
// (whole-file trailers, and each part's BLAKE3 against the index) before it
// returns, so a damaged delta is refused before anything reads its records.
// It reads every byte of the delta; cancelling ctx stops it.
func Open(ctx context.Context, path string) (*Reader, error) {
	if fi, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open delta: %w", err)
	} else if fi.IsDir() {
		path = filepath.Join(path, IndexName)
	}
	h, ff, kind, whole, err := openFrame(ctx, path)
	if err != nil {
		return nil, err
	}
	rd := &Reader{Header: *h, Digest: whole, path: path, version: ff.version}
	switch kind {
	case kindSingle:
		if len(h.Parts) != 0 {
			return nil, fmt.Errorf("open delta %s: %w", path, formatErr("header", "a single file lists parts"))
		}
		ff.volume = -1
		rd.files = []frameFile{ff}
	case kindIndex:
		for i, p := range h.Parts {
			pf, err := openPart(ctx, filepath.Join(filepath.Dir(path), p.File), p, h.Target.ID)
			if err != nil {
				return nil, fmt.Errorf("open delta %s part %d: %w", path, i, err)
			}
			if pf.version != rd.version {
				return nil, fmt.Errorf("open delta %s part %d: %w", path, i, formatErr(p.File, "format version %d differs from the index's %d", pf.version, rd.version))
			}
			rd.files = append(rd.files, pf)
		}
	default:
		return nil, fmt.Errorf("open delta %s: %w", path, formatErr("prefix", "a part file, not a delta"))
	}
	return rd, nil
}

// Version is the delta's format version.
func (rd *Reader) Version() byte { return rd.version }

func openPart(ctx context.Context, path string, p PartRef, target string) (frameFile, error) {
	h, ff, kind, whole, err := openFrameRaw(ctx, path)
	if err != nil {
		return ff, err
	}
	if kind != kindPart || ff.size != p.Size || whole != p.BLAKE3 {
		return ff, formatErr(p.File, "is not the part the index names (size or BLAKE3 differ)")
	}
	var ph struct {
		Target string `json:"target"`
		Volume int    `json:"volume"`
	}
	if err := json.Unmarshal(h, &ph); err != nil || ph.Target != target || ph.Volume != p.Volume {
		return ff, formatErr(p.File, "part header does not match the index")
	}
	ff.volume = p.Volume
	return ff, nil
}

func openFrame(ctx context.Context, path string) (*Header, frameFile, byte, blob.ID, error) {
	raw, ff, kind, whole, err := openFrameRaw(ctx, path)
	if err != nil {
		return nil, ff, 0, whole, err
	}
	if kind == kindPart {
		return &Header{}, ff, kind, whole, nil
	}
	h, err := decodeHeader(raw)
	if err != nil {
		return nil, ff, 0, whole, fmt.Errorf("open delta %s: %w", path, err)
	}
	return h, ff, kind, whole, nil
}

// readHead opens a framed file and checks its prefix; it returns the file,
// positioned after the header, the prefix and the raw header.
func readHead(ff *frameFile) (*os.File, [prefixLen]byte, []byte, error) {
	var pre [prefixLen]byte
	f, err := os.Open(ff.path)
	if err != nil {
		return nil, pre, nil, err
	}
	fail := func(err error) (*os.File, [prefixLen]byte, []byte, error) {
		f.Close()
		return nil, pre, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	ff.size = fi.Size()
	if ff.size < prefixLen+1+trailerLen {
		return fail(formatErr("file", "%d bytes is too short (truncated?)", ff.size))
	}
	if _, err := io.ReadFull(f, pre[:]); err != nil {
		return fail(err)
	}
	if string(pre[:4]) == magic && pre[4] == 1 {
		return fail(formatErr("prefix", "format version 1 is no longer read; export the delta again"))
	}
	if string(pre[:4]) != magic || pre[4] < versionBLAKE3Frames || pre[4] > version || pre[6] != 0 || pre[7] != 0 {
		return fail(formatErr("prefix", "bad magic or unknown version"))
	}
	hlen := int64(binary.LittleEndian.Uint32(pre[8:]))
	if hlen > maxHeader || prefixLen+hlen+1+trailerLen > ff.size {
		return fail(formatErr("prefix", "header length %d out of bounds (truncated?)", hlen))
	}
	ff.hdrEnd = prefixLen + hlen
	ff.version = pre[4]
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return fail(err)
	}
	return f, pre, hdr, nil
}

// openFrameRaw checks a framed file's prefix and trailer checksum, reading
// it once, and returns its raw header, kind and whole-file BLAKE3.
func openFrameRaw(ctx context.Context, path string) ([]byte, frameFile, byte, blob.ID, error) {
	ff := frameFile{path: path}
	var whole blob.ID
	fail := func(err error) ([]byte, frameFile, byte, blob.ID, error) {
		return nil, ff, 0, whole, fmt.Errorf("open delta %s: %w", path, err)
	}
	f, pre, hdr, err := readHead(&ff)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	// One pass hashes the body; a clone then gives the trailer's sum
	// while the original goes on over the trailer for the whole-file hash.
	all := blake3.New()
	all.Write(pre[:])
	all.Write(hdr)
	body := ff.size - ff.hdrEnd - trailerLen
	if err := hashBody(ctx, all, f, body); err != nil {
		return fail(err)
	}
	sum := all.Clone()
	var tr [trailerLen]byte
	if _, err := io.ReadFull(f, tr[:]); err != nil {
		return fail(err)
	}
	all.Write(tr[:])
	copy(whole[:], all.Sum(nil))
	if string(tr[:4]) != trailMagic || !bytes.Equal(tr[4:], sum.Sum(nil)) {
		return fail(formatErr("trailer", "checksum mismatch: the file is damaged or truncated"))
	}
	return hdr, ff, pre[5], whole, nil
}

// hashBody writes the next n bytes of f to h, checking ctx between reads
// of 1 MiB, so a cancelled Open stops within a read of a large delta.
func hashBody(ctx context.Context, h io.Writer, f io.Reader, n int64) error {
	buf := make([]byte, 1<<20)
	for n > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		k, err := io.ReadFull(f, buf[:min(n, int64(len(buf)))])
		h.Write(buf[:k])
		n -= int64(k)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil // short, as io.Copy would be: the trailer read fails
		} else if err != nil {
			return err
		}
	}
	return nil
}

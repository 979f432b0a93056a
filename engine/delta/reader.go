package delta

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
	"github.com/zeebo/blake3"

	"github.com/vmrep/vmrep/engine/cas"
)

// Reader is an opened, checksum-verified delta: one file or a split
// directory.
type Reader struct {
	Header Header
	// Digest is the BLAKE3 of the whole single file or index file (which
	// lists every part's BLAKE3), so it names this delta exactly; the
	// replica's apply journal records it.
	Digest cas.ID
	path   string
	files  []frameFile
}

// frameFile is one file whose records the reader walks.
type frameFile struct {
	path   string
	size   int64
	hdrEnd int64 // offset of the first record
	volume int   // the only volume a part may hold; -1 for a single file
}

// Open opens a delta file or split directory and verifies every checksum
// (whole-file trailers, and each part's BLAKE3 against the index) before it
// returns, so a damaged delta is refused before anything reads its records.
func Open(path string) (*Reader, error) {
	if fi, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open delta: %w", err)
	} else if fi.IsDir() {
		path = filepath.Join(path, IndexName)
	}
	h, ff, kind, whole, err := openFrame(path)
	if err != nil {
		return nil, err
	}
	rd := &Reader{Header: *h, Digest: whole, path: path}
	switch kind {
	case kindSingle:
		if len(h.Parts) != 0 {
			return nil, fmt.Errorf("open delta %s: %w", path, formatErr("header", "a single file lists parts"))
		}
		ff.volume = -1
		rd.files = []frameFile{ff}
	case kindIndex:
		for i, p := range h.Parts {
			pf, err := openPart(filepath.Join(filepath.Dir(path), p.File), p, h.Target.ID)
			if err != nil {
				return nil, fmt.Errorf("open delta %s part %d: %w", path, i, err)
			}
			rd.files = append(rd.files, pf)
		}
	default:
		return nil, fmt.Errorf("open delta %s: %w", path, formatErr("prefix", "a part file, not a delta"))
	}
	return rd, nil
}

func openPart(path string, p PartRef, target string) (frameFile, error) {
	h, ff, kind, whole, err := openFrameRaw(path)
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

func openFrame(path string) (*Header, frameFile, byte, cas.ID, error) {
	raw, ff, kind, whole, err := openFrameRaw(path)
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

// openFrameRaw checks a framed file's prefix and trailer checksum, reading
// it once, and returns its raw header, kind and whole-file BLAKE3.
func openFrameRaw(path string) ([]byte, frameFile, byte, cas.ID, error) {
	ff := frameFile{path: path}
	var whole cas.ID
	fail := func(err error) ([]byte, frameFile, byte, cas.ID, error) {
		return nil, ff, 0, whole, fmt.Errorf("open delta %s: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	ff.size = fi.Size()
	if ff.size < prefixLen+1+trailerLen {
		return fail(formatErr("file", "%d bytes is too short (truncated?)", ff.size))
	}
	var pre [prefixLen]byte
	if _, err := io.ReadFull(f, pre[:]); err != nil {
		return fail(err)
	}
	if string(pre[:4]) != magic || pre[4] != version || pre[6] != 0 || pre[7] != 0 {
		return fail(formatErr("prefix", "bad magic or unknown version"))
	}
	hlen := int64(binary.LittleEndian.Uint32(pre[8:]))
	if hlen > maxHeader || prefixLen+hlen+1+trailerLen > ff.size {
		return fail(formatErr("prefix", "header length %d out of bounds (truncated?)", hlen))
	}
	ff.hdrEnd = prefixLen + hlen
	sum := blake3.New()
	all := blake3.New()
	sum.Write(pre[:])
	all.Write(pre[:])
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return fail(err)
	}
	sum.Write(hdr)
	all.Write(hdr)
	body := ff.size - ff.hdrEnd - trailerLen
	if _, err := io.Copy(io.MultiWriter(sum, all), io.LimitReader(f, body)); err != nil {
		return fail(err)
	}
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

// Walk calls fn for every record in order. With data set, data records
// come with Data decompressed and checked against the target hash; fn must
// not keep Stored or Data past its return.
func (rd *Reader) Walk(ctx context.Context, data bool, fn func(r *Record) error) error {
	var dec *zstd.Decoder
	if data {
		var err error
		dec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecodeAllCapLimit(true),
			zstd.WithDecoderMaxMemory(maxStored))
		if err != nil {
			return err
		}
		defer dec.Close()
	}
	var buf, out []byte
	for _, ff := range rd.files {
		if err := rd.walkFile(ctx, ff, dec, &buf, &out, fn); err != nil {
			return err
		}
	}
	return nil
}

func (rd *Reader) walkFile(ctx context.Context, ff frameFile, dec *zstd.Decoder, buf, out *[]byte, fn func(*Record) error) error {
	f, err := os.Open(ff.path)
	if err != nil {
		return fmt.Errorf("read delta %s: %w", ff.path, err)
	}
	defer f.Close()
	end := ff.size - trailerLen
	br := bufio.NewReaderSize(io.NewSectionReader(f, ff.hdrEnd, end-ff.hdrEnd), int(min(1<<20, end-ff.hdrEnd+16)))
	pos := ff.hdrEnd
	fail := func(err error) error { return fmt.Errorf("read delta %s at offset %d: %w", ff.path, pos, err) }
	var head [recHeadLen]byte
	var r Record
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		k, err := br.ReadByte()
		if err != nil {
			return fail(formatErr("records", "no end marker"))
		}
		if k == endOfRecord {
			if pos+1 != end {
				return fail(formatErr("records", "bytes after the end marker"))
			}
			return nil
		}
		head[0] = k
		if _, err := io.ReadFull(br, head[1:]); err != nil {
			return fail(formatErr("record", "truncated"))
		}
		if err := decodeRecordHead(head[:], &r, len(rd.Header.Volumes)); err != nil {
			return fail(err)
		}
		if ff.volume >= 0 && r.Volume != ff.volume {
			return fail(formatErr("record", "volume %d in a part of volume %d", r.Volume, ff.volume))
		}
		if r.Off+r.Len > rd.Header.Volumes[r.Volume].TargetSize {
			return fail(formatErr("record", "range %d+%d past the volume's end", r.Off, r.Len))
		}
		pos += recHeadLen
		r.Stored, r.Data = nil, nil
		if r.Kind == KindData {
			var nb [4]byte
			if _, err := io.ReadFull(br, nb[:]); err != nil {
				return fail(formatErr("record", "truncated"))
			}
			n := int64(binary.LittleEndian.Uint32(nb[:]))
			if n == 0 || n > maxStored || pos+4+n > end {
				return fail(formatErr("record", "stored length %d out of bounds", n))
			}
			*buf = grow(*buf, n)
			if _, err := io.ReadFull(br, *buf); err != nil {
				return fail(formatErr("record", "truncated"))
			}
			r.Stored = *buf
			pos += 4 + n
			if dec != nil {
				*out = grow(*out, r.Len)
				d, err := dec.DecodeAll(r.Stored, (*out)[:0])
				if err != nil || int64(len(d)) != r.Len || cas.Sum(d) != r.TargetHash {
					return fail(formatErr("record", "data at volume offset %d does not decode to its target hash", r.Off))
				}
				r.Data = d
			}
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
}

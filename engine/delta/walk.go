package delta

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
)

// Walk calls fn for every record in order. With data set, data records
// come with Data decompressed; fn must not keep Stored or Data past its
// return. Frame hashes cover copy sources, which only a replica can
// supply, so Apply (not Walk) checks decoded bytes against them.
func (rd *Reader) Walk(ctx context.Context, data bool, fn func(r *Record) error) error {
	var dec *zstd.Decoder
	if data {
		var err error
		if dec, err = newDecoder(); err != nil {
			return err
		}
		defer dec.Close()
	}
	var out []byte
	return rd.WalkFrames(ctx, false, func(f *Frame) error {
		if dec != nil {
			var err error
			if out, err = f.decodeData(dec, out); err != nil {
				return err
			}
		}
		first := true
		for i := range f.Recs {
			r := &f.Recs[i]
			if r.Kind == KindData && first {
				r.Stored, first = f.Stored, false
			}
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	})
}

func newDecoder() (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecodeAllCapLimit(true),
		zstd.WithDecoderMaxMemory(maxStored))
}

// decodeData expands f's stored data into buf and points each data
// record's Data into it.
func (f *Frame) decodeData(dec *zstd.Decoder, buf []byte) ([]byte, error) {
	if f.DataLen == 0 {
		return buf, nil
	}
	d := f.Stored
	if f.Mode == StoredZstd {
		var err error
		d, err = dec.DecodeAll(f.Stored, grow(buf, f.DataLen)[:0])
		if err != nil || int64(len(d)) != f.DataLen {
			return buf, formatErr("frame", "data at volume offset %d does not decode to %d bytes", f.Recs[0].Off, f.DataLen)
		}
		buf = d
	}
	pos := int64(0)
	for i := range f.Recs {
		if r := &f.Recs[i]; r.Kind == KindData {
			r.Data = d[pos : pos+r.Len]
			pos += r.Len
		}
	}
	return buf, nil
}

// WalkFrames calls fn for every frame in order. Unless own is set, the
// frame and its Stored bytes are reused by the next call.
func (rd *Reader) WalkFrames(ctx context.Context, own bool, fn func(*Frame) error) error {
	for _, ff := range rd.files {
		if err := rd.walkFile(ctx, ff, own, fn); err != nil {
			return err
		}
	}
	return nil
}

// countReader tracks the file offset for bounds and error messages.
type countReader struct {
	br  *bufio.Reader
	pos int64
}

func (c *countReader) ReadByte() (byte, error) {
	b, err := c.br.ReadByte()
	if err == nil {
		c.pos++
	}
	return b, err
}

func (c *countReader) full(p []byte) error {
	n, err := io.ReadFull(c.br, p)
	c.pos += int64(n)
	return err
}

func (rd *Reader) walkFile(ctx context.Context, ff frameFile, own bool, fn func(*Frame) error) error {
	f, err := os.Open(ff.path)
	if err != nil {
		return fmt.Errorf("read delta %s: %w", ff.path, err)
	}
	defer f.Close()
	end := ff.size - trailerLen
	cr := &countReader{br: bufio.NewReaderSize(io.NewSectionReader(f, ff.hdrEnd, end-ff.hdrEnd), int(min(1<<20, end-ff.hdrEnd+16))),
		pos: ff.hdrEnd}
	var fr Frame
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		start := cr.pos
		k, err := cr.ReadByte()
		if err != nil {
			return fmt.Errorf("read delta %s at offset %d: %w", ff.path, start, formatErr("frames", "no end marker"))
		}
		if k == endOfFrames {
			if cr.pos != end {
				return fmt.Errorf("read delta %s at offset %d: %w", ff.path, start, formatErr("frames", "bytes after the end marker"))
			}
			return nil
		}
		if own {
			fr = Frame{}
		}
		if k != frameTag {
			err = formatErr("frame", "unknown tag %#x", k)
		} else {
			err = rd.readFrame(cr, &fr, ff.volume, end)
		}
		if err != nil {
			return fmt.Errorf("read delta %s at offset %d: %w", ff.path, start, err)
		}
		if err := fn(&fr); err != nil {
			return err
		}
	}
}

// readFrame parses one frame after its tag. Every count and length is
// checked against the format's bounds and the header's volume sizes
// before anything is allocated or trusted.
func (rd *Reader) readFrame(cr *countReader, f *Frame, only int, end int64) error {
	uv := func(what string) (uint64, error) {
		v, err := binary.ReadUvarint(cr)
		if err != nil {
			return 0, formatErr("frame", "truncated %s", what)
		}
		return v, nil
	}
	vol, err := uv("volume")
	if err != nil {
		return err
	}
	if vol >= uint64(len(rd.Header.Volumes)) || only >= 0 && int(vol) != only {
		return formatErr("frame", "volume index %d not allowed here", vol)
	}
	vh := &rd.Header.Volumes[vol]
	flags, err := cr.ReadByte()
	if err != nil || flags&^flagNoBase != 0 {
		return formatErr("frame", "bad or missing flags")
	}
	n, err := uv("record count")
	if err != nil {
		return err
	}
	if n == 0 || n > MaxFrameRecords {
		return formatErr("frame", "%d records out of bounds", n)
	}
	f.Volume, f.NoBase, f.DataLen, f.Span, f.TargetCopies = int(vol), flags&flagNoBase != 0, 0, 0, false
	hl := frameHashLen(rd.version)
	f.BaseHash, f.TargetHash = [32]byte{}, [32]byte{}
	if !f.NoBase {
		if err := cr.full(f.BaseHash[:hl]); err != nil {
			return formatErr("frame", "truncated")
		}
	}
	if err := cr.full(f.TargetHash[:hl]); err != nil {
		return formatErr("frame", "truncated")
	}
	f.Recs = f.Recs[:0]
	prev := int64(0)
	for range n {
		r, err := readRecord(cr, rd.version, vh, f, prev)
		if err != nil {
			return err
		}
		f.Recs = append(f.Recs, r)
		prev = r.Off + r.Len
	}
	f.Stored = f.Stored[:0]
	if f.DataLen == 0 {
		return nil
	}
	if f.Mode, err = cr.ReadByte(); err != nil || f.Mode > StoredZstd {
		return formatErr("frame", "bad or missing data mode")
	}
	sl, err := uv("stored length")
	if err != nil {
		return err
	}
	if sl == 0 || sl > maxStored || cr.pos+int64(sl) > end || f.Mode == StoredRaw && int64(sl) != f.DataLen {
		return formatErr("frame", "stored length %d out of bounds", sl)
	}
	f.Stored = grow(f.Stored, int64(sl))
	if err := cr.full(f.Stored); err != nil {
		return formatErr("frame", "truncated data")
	}
	return nil
}

// readRecord parses one record of f, whose previous record ended at prev.
func readRecord(cr *countReader, version byte, vh *VolumeHeader, f *Frame, prev int64) (Record, error) {
	r := Record{Volume: f.Volume, NoBase: f.NoBase, BaseHash: f.BaseHash, TargetHash: f.TargetHash}
	head, err := cr.ReadByte()
	if err != nil {
		return r, formatErr("record", "truncated")
	}
	r.Kind = Kind(head & recKindMask)
	allowed := byte(recKindMask | recBlocks)
	if version >= VersionTargetCopies {
		allowed |= recFromTarget
	}
	if head&^allowed != 0 || r.Kind == 0 || head&recFromTarget != 0 && r.Kind != KindCopy {
		return r, formatErr("record", "bad head %#x", head)
	}
	if head&recFromTarget != 0 {
		r.Kind = KindTargetCopy
	}
	gap, err1 := binary.ReadUvarint(cr)
	n, err2 := binary.ReadUvarint(cr)
	if err1 != nil || err2 != nil {
		return r, formatErr("record", "truncated")
	}
	if head&recBlocks != 0 {
		if gap > 1<<50 || n > 1<<50 {
			return r, formatErr("record", "range out of bounds")
		}
		gap, n = gap*blockSize, n*blockSize
	}
	if n == 0 || n > MaxRecordLen || gap > 1<<62 {
		return r, formatErr("record", "range +%d+%d out of bounds", gap, n)
	}
	r.Off, r.Len = prev+int64(gap), int64(n)
	if r.Off+r.Len > vh.TargetSize {
		return r, formatErr("record", "range %d+%d past the volume's end", r.Off, r.Len)
	}
	if f.NoBase && r.Off < vh.BaseSize || !f.NoBase && r.Off+r.Len > vh.BaseSize {
		return r, formatErr("record", "range %d+%d on the wrong side of the base's end", r.Off, r.Len)
	}
	if f.Span += r.Len; f.Span > MaxFrameLen {
		return r, formatErr("frame", "covers more than %d bytes", MaxFrameLen)
	}
	switch r.Kind {
	case KindData:
		f.DataLen += r.Len
	case KindCopy:
		d, err := binary.ReadVarint(cr)
		if err != nil || d > 1<<62 || d < -(1<<62) {
			return r, formatErr("record", "bad copy source")
		}
		r.Src = r.Off - d
		if r.Src < 0 || r.Src+r.Len > vh.BaseSize {
			return r, formatErr("record", "copy source %d+%d outside the base", r.Src, r.Len)
		}
	case KindTargetCopy:
		d, err := binary.ReadVarint(cr)
		if err != nil || d > 1<<62 || d < -(1<<62) {
			return r, formatErr("record", "bad copy source")
		}
		r.Src = r.Off - d
		if r.Src < 0 || r.Src+r.Len > vh.TargetSize || r.Src < r.Off+r.Len && r.Off < r.Src+r.Len {
			return r, formatErr("record", "target copy source %d+%d outside the target or over its own range", r.Src, r.Len)
		}
		f.TargetCopies = true
	}
	return r, nil
}

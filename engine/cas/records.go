package cas

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/vmrep/vmrep/engine/blob"

	"github.com/cockroachdb/pebble/v2"
	"github.com/zeebo/blake3"
)

// MaxRecordSize bounds a record's data.
const MaxRecordSize = 4 << 20

const recordHeaderSize = 44

var recordMagic = [4]byte{'V', 'M', 'R', 'R'}

func recordKindOfDir(d string) (blob.RecordKind, bool) {
	switch d {
	case "vgs":
		return blob.RecordVG, true
	case "snapshots":
		return blob.RecordSnapshot, true
	}
	return 0, false
}

// validRecordName keeps record names safe as file names.
func validRecordName(name string) error {
	if name == "" || len(name) > 200 || strings.Contains(name, "..") || name[0] == '.' {
		return fmt.Errorf("bad record name %q", name)
	}
	for _, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("bad record name %q", name)
		}
	}
	return nil
}

func encodeRecord(kind blob.RecordKind, data []byte) []byte {
	b := make([]byte, recordHeaderSize, recordHeaderSize+len(data))
	copy(b, recordMagic[:])
	b[4] = 1
	b[5] = byte(kind)
	binary.LittleEndian.PutUint32(b[8:], uint32(len(data)))
	h := blake3.Sum256(data)
	copy(b[12:44], h[:])
	return append(b, data...)
}

// decodeRecordHeader checks a record header and returns the data length.
func decodeRecordHeader(b []byte, kind blob.RecordKind) (int, blob.ID, error) {
	var h blob.ID
	if len(b) < recordHeaderSize {
		return 0, h, fmt.Errorf("short record header")
	}
	if !bytes.Equal(b[:4], recordMagic[:]) {
		return 0, h, fmt.Errorf("not a record file (bad magic %q)", b[:4])
	}
	if b[4] != 1 {
		return 0, h, fmt.Errorf("unknown record version %d", b[4])
	}
	if blob.RecordKind(b[5]) != kind {
		return 0, h, fmt.Errorf("record kind %d, want %d", b[5], kind)
	}
	if b[6] != 0 || b[7] != 0 {
		return 0, h, fmt.Errorf("record header: reserved bytes are %#x %#x, want zero", b[6], b[7])
	}
	n := binary.LittleEndian.Uint32(b[8:])
	if n > MaxRecordSize {
		return 0, h, fmt.Errorf("record length %d over the %d-byte limit", n, MaxRecordSize)
	}
	copy(h[:], b[12:44])
	return int(n), h, nil
}

// decodeRecord parses a whole record file and checks its hash.
func decodeRecord(b []byte, kind blob.RecordKind) ([]byte, error) {
	n, h, err := decodeRecordHeader(b, kind)
	if err != nil {
		return nil, err
	}
	if len(b) != recordHeaderSize+n {
		return nil, fmt.Errorf("record file of %d bytes, header says %d", len(b), recordHeaderSize+n)
	}
	data := b[recordHeaderSize:]
	if blob.Sum(data) != h {
		return nil, fmt.Errorf("record data %w", blob.ErrCorrupt)
	}
	return data, nil
}

func recordHandle(kind blob.RecordKind, name string) (Handle, error) {
	d, err := kind.Dir()
	if err == nil {
		err = validRecordName(name)
	}
	return Handle{Kind: FileRecord, Name: d + "/" + name}, err
}

// PutRecord stores data under kind/name durably: record file first, then
// the index.
func (s *Store) PutRecord(ctx context.Context, kind blob.RecordKind, name string, data []byte) error {
	h, err := recordHandle(kind, name)
	if err != nil {
		return fmt.Errorf("put record: %w", err)
	}
	if len(data) > MaxRecordSize {
		return fmt.Errorf("put record %s: %d bytes over the %d-byte limit", h.Name, len(data), MaxRecordSize)
	}
	if err := s.writable(); err != nil {
		return fmt.Errorf("put record %s: %w", h.Name, err)
	}
	s.recMu.Lock()
	defer s.recMu.Unlock()
	if err := s.writeRecordFile(ctx, kind, name, data); err != nil {
		return fmt.Errorf("put record %s: %w", h.Name, err)
	}
	s.clearDamagedLocked(h.Name)
	err = s.indexWrite(func() error { return s.db.Set(recordKey(kind, name), data, pebble.Sync) })
	if err != nil {
		return fmt.Errorf("put record %s: index: %w", h.Name, err)
	}
	return nil
}

// GetRecord returns the data of record kind/name, from the index.
func (s *Store) GetRecord(ctx context.Context, kind blob.RecordKind, name string) ([]byte, error) {
	h, err := recordHandle(kind, name)
	if err != nil {
		return nil, fmt.Errorf("get record: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v, closer, err := s.db.Get(recordKey(kind, name))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("record %s: %w", h.Name, blob.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get record %s: %w", h.Name, err)
	}
	defer closer.Close()
	return bytes.Clone(v), nil
}

// ListRecords calls fn for every record of kind whose name starts with
// prefix, in name order. data is only valid during the call.
func (s *Store) ListRecords(ctx context.Context, kind blob.RecordKind, prefix string, fn func(name string, data []byte) error) error {
	if _, err := kind.Dir(); err != nil {
		return fmt.Errorf("list records: %w", err)
	}
	err := scanPrefix(s.db, recordKey(kind, prefix), func(k, v []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(string(k[2:]), v)
	})
	if err != nil {
		return fmt.Errorf("list %s records: %w", kind, err)
	}
	return nil
}

// DeleteRecord removes record kind/name: file first, then the index.
func (s *Store) DeleteRecord(ctx context.Context, kind blob.RecordKind, name string) error {
	h, err := recordHandle(kind, name)
	if err != nil {
		return fmt.Errorf("delete record: %w", err)
	}
	if err := s.writable(); err != nil {
		return fmt.Errorf("delete record %s: %w", h.Name, err)
	}
	s.recMu.Lock()
	defer s.recMu.Unlock()
	if err := s.be.Delete(ctx, h); err != nil {
		return fmt.Errorf("delete record %s: %w", h.Name, err)
	}
	s.clearDamagedLocked(h.Name)
	err = s.indexWrite(func() error { return s.db.Delete(recordKey(kind, name), pebble.Sync) })
	if err != nil {
		return fmt.Errorf("delete record %s: index: %w", h.Name, err)
	}
	return nil
}

// writeRecordFile writes the record file of kind/name from data (a temp
// file, then the backend's durable put), without touching the index.
func (s *Store) writeRecordFile(ctx context.Context, kind blob.RecordKind, name string, data []byte) error {
	h, err := recordHandle(kind, name)
	if err != nil {
		return err
	}
	f, err := s.fs.CreateTemp(filepath.Join(s.dir, "tmp"), "record-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(encodeRecord(kind, data)); err != nil {
		f.Close()
		s.fs.Remove(f.Name())
		return err
	}
	return s.be.Put(ctx, h, f)
}

// readRecordFile reads and checks one record file through the backend.
func (s *Store) readRecordFile(ctx context.Context, fileName string, size int64) (blob.RecordKind, string, []byte, error) {
	kind, name, ok := parseRecordFileName(fileName)
	if !ok {
		return 0, "", nil, fmt.Errorf("record file %s: bad name", fileName)
	}
	if size < recordHeaderSize || size > recordHeaderSize+MaxRecordSize {
		return 0, "", nil, fmt.Errorf("record file %s: size %d out of range", fileName, size)
	}
	b := make([]byte, size)
	if err := s.be.ReadAt(ctx, Handle{Kind: FileRecord, Name: fileName}, b, 0); err != nil {
		return 0, "", nil, err
	}
	data, err := decodeRecord(b, kind)
	if err != nil {
		return 0, "", nil, fmt.Errorf("record file %s: %w", fileName, err)
	}
	return kind, name, data, nil
}

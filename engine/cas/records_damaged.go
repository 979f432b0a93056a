package cas

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/vmrep/vmrep/engine/blob"
)

// damagedRecords remembers record files that could not be read at open.
// Their index copy, when there is one, is kept (the file is the truth only
// while it reads back whole), and gc refuses to run while any is listed: a
// collection marks only what the catalog lists, so it would delete the
// data of every snapshot an unreadable record names.
type damagedRecords struct {
	files map[string]error // record file name ("vgs/vg-…") -> why
}

// DamagedRecords lists the record files that could not be read when the
// store was opened and were not repaired since, each with the reason.
func (s *Store) DamagedRecords() []string {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	var out []string
	for f, err := range s.damaged.files {
		out = append(out, fmt.Sprintf("records/%s: %v", f, err))
	}
	slices.Sort(out)
	return out
}

// markDamagedLocked records that fileName could not be read. recMu held.
func (s *Store) markDamagedLocked(fileName string, err error) {
	if s.damaged.files == nil {
		s.damaged.files = make(map[string]error)
	}
	s.damaged.files[fileName] = err
}

// clearDamagedLocked forgets fileName: it was written anew or deleted.
func (s *Store) clearDamagedLocked(fileName string) {
	delete(s.damaged.files, fileName)
}

// parseRecordFileName splits a record file name into kind and name.
func parseRecordFileName(fileName string) (blob.RecordKind, string, bool) {
	d, name, _ := strings.Cut(fileName, "/")
	kind, ok := recordKindOfDir(d)
	if !ok || validRecordName(name) != nil {
		return 0, "", false
	}
	return kind, name, true
}

// repairRecord handles a record file that does not read back whole. When
// the file's header is intact and the index holds data whose BLAKE3 is the
// one the header names, the index copy is the record as written and the
// file is rewritten from it; otherwise the index copy, if any, is kept and
// the file is listed as damaged. It reports whether the file was repaired.
func (s *Store) repairRecord(ctx context.Context, fileName string, size int64, indexed []byte, hasIndex bool, readErr error) bool {
	kind, name, ok := parseRecordFileName(fileName)
	if ok && hasIndex && size >= recordHeaderSize {
		hdr := make([]byte, recordHeaderSize)
		if err := s.be.ReadAt(ctx, Handle{Kind: FileRecord, Name: fileName}, hdr, 0); err == nil {
			if n, sum, err := decodeRecordHeader(hdr, kind); err == nil && n == len(indexed) && blob.Sum(indexed) == sum {
				err := s.writeRecordFile(ctx, kind, name, indexed)
				if err == nil {
					s.log.Warn("repaired a damaged record file from the index's copy", "record", fileName, "was", readErr)
					return true
				}
				s.log.Error("repairing a damaged record file", "record", fileName, "err", err)
			}
		}
	}
	s.recMu.Lock()
	s.markDamagedLocked(fileName, readErr)
	s.recMu.Unlock()
	s.log.Error("record file is damaged; gc refuses to run until it is repaired or removed (vmrep verify names it)",
		"record", fileName, "err", readErr, "index_copy_kept", hasIndex)
	return false
}

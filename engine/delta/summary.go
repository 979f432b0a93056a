package delta

// Summary describes an exported, opened or applied delta.
type Summary struct {
	Volumes   int   `json:"volumes"`
	Records   int64 `json:"records"`
	DataBytes int64 `json:"data_bytes"` // volume bytes in data records
	ZeroBytes int64 `json:"zero_bytes"` // volume bytes in zero records
	CopyBytes int64 `json:"copy_bytes"` // volume bytes in copy records
	// TargetCopyBytes: volume bytes in target copy records.
	TargetCopyBytes int64 `json:"target_copy_bytes,omitempty"`
	StoredBytes     int64 `json:"stored_bytes"` // compressed data bytes
	FileBytes       int64 `json:"file_bytes"`   // the delta's size on disk
	Written         int64 `json:"written"`      // apply: records written
	Skipped         int64 `json:"skipped"`      // apply: records already at the target
	Verified        int   `json:"verified"`     // apply: volumes checked after (or, at the target, instead of) writing
	Repaired        int64 `json:"repaired"`     // apply: of Written, ranges torn by an interrupted apply
	// ChangedBytes is, for an apply, the volume bytes of the frames it
	// wrote: what a replica's files changed by, the rest left alone.
	ChangedBytes int64 `json:"changed_bytes"`
}

// Add counts one record.
func (s *Summary) Add(r *Record) {
	s.Records++
	switch r.Kind {
	case KindData:
		s.DataBytes += r.Len
		s.StoredBytes += int64(len(r.Stored))
	case KindZero:
		s.ZeroBytes += r.Len
	case KindCopy:
		s.CopyBytes += r.Len
	case KindTargetCopy:
		s.TargetCopyBytes += r.Len
	}
}

// Merge adds o's record counts and bytes to s.
func (s *Summary) Merge(o *Summary) {
	s.Records += o.Records
	s.DataBytes += o.DataBytes
	s.ZeroBytes += o.ZeroBytes
	s.CopyBytes += o.CopyBytes
	s.TargetCopyBytes += o.TargetCopyBytes
	s.StoredBytes += o.StoredBytes
}

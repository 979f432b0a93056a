package cas

// RecordKind says which kind of small record a record file holds.
type RecordKind uint8

const (
	RecordVG       RecordKind = 1 // a volume group
	RecordSnapshot RecordKind = 2 // a snapshot of a volume group
)

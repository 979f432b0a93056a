package blob

import (
	"context"
	"fmt"
)

// RecordKind says which kind of small record a record file holds.
type RecordKind uint8

const (
	RecordVG       RecordKind = 1 // a volume group
	RecordSnapshot RecordKind = 2 // a snapshot of a volume group
)

// Dir is the store directory that holds records of kind k.
func (k RecordKind) Dir() (string, error) {
	switch k {
	case RecordVG:
		return "vgs", nil
	case RecordSnapshot:
		return "snapshots", nil
	}
	return "", fmt.Errorf("unknown record kind %d", k)
}

func (k RecordKind) String() string {
	if d, err := k.Dir(); err == nil {
		return d
	}
	return fmt.Sprintf("recordkind(%d)", uint8(k))
}

// RecordStore keeps small named records by kind; the store's record API
// satisfies it. GetRecord fails with an error matching ErrNotFound when the
// record is absent; ListRecords visits records in name order.
type RecordStore interface {
	PutRecord(ctx context.Context, kind RecordKind, name string, data []byte) error
	GetRecord(ctx context.Context, kind RecordKind, name string) ([]byte, error)
	ListRecords(ctx context.Context, kind RecordKind, prefix string, fn func(name string, data []byte) error) error
	DeleteRecord(ctx context.Context, kind RecordKind, name string) error
}

// ChunkerParams are the content-defined chunking bounds a store fixes at
// init; the chunker reads them, the store only keeps them.
type ChunkerParams struct {
	Min int `json:"min"`
	Avg int `json:"avg"`
	Max int `json:"max"`
}

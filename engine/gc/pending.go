package gc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"time"

	"github.com/vmrep/vmrep/engine/blob"
)

// PendingObject is the name of the control object that holds the blobs a
// gc of shared storage found dead and holds back for the grace period.
const PendingObject = "pending"

// ControlObjects keeps the pending list (cas.ControlObjects).
type ControlObjects interface {
	ReadControl(ctx context.Context, name string) ([]byte, error)
	WriteControl(ctx context.Context, name string, data []byte) error
}

// pending maps a dead blob to when a gc first found it dead (Unix ns).
type pending map[blob.ID]int64

// Pending list format: magic, version, count, then count entries of a
// blob ID and a time, then a CRC-32C of all before it.
const (
	pendingMagic   = "vmrepgcp"
	pendingVersion = 1
	pendingHeader  = len(pendingMagic) + 1 + 4
	pendingEntry   = 32 + 8
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func (p pending) encode() []byte {
	ids := make([]blob.ID, 0, len(p))
	for id := range p {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b blob.ID) int { return slices.Compare(a[:], b[:]) })
	out := make([]byte, 0, pendingHeader+len(p)*pendingEntry+4)
	out = append(out, pendingMagic...)
	out = append(out, pendingVersion)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(p)))
	for _, id := range ids {
		out = append(out, id[:]...)
		out = binary.LittleEndian.AppendUint64(out, uint64(p[id]))
	}
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, crcTable))
}

func decodePending(b []byte) (pending, error) {
	if len(b) < pendingHeader+4 || string(b[:len(pendingMagic)]) != pendingMagic {
		return nil, errors.New("gc pending list: not a pending list")
	}
	if v := b[len(pendingMagic)]; v != pendingVersion {
		return nil, fmt.Errorf("gc pending list: version %d, want %d", v, pendingVersion)
	}
	n := binary.LittleEndian.Uint32(b[len(pendingMagic)+1:])
	if uint64(len(b)) != uint64(pendingHeader)+uint64(n)*pendingEntry+4 {
		return nil, fmt.Errorf("gc pending list: %d bytes for %d entries", len(b), n)
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, errors.New("gc pending list: checksum mismatch")
	}
	p := make(pending, n)
	for e := body[pendingHeader:]; len(e) > 0; e = e[pendingEntry:] {
		p[blob.ID(e[:32])] = int64(binary.LittleEndian.Uint64(e[32:]))
	}
	if len(p) != int(n) {
		return nil, errors.New("gc pending list: a blob is listed twice")
	}
	return p, nil
}

func loadPending(ctx context.Context, c ControlObjects) (pending, error) {
	b, err := c.ReadControl(ctx, PendingObject)
	if errors.Is(err, blob.ErrNotFound) {
		return pending{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	p, err := decodePending(b)
	if err != nil {
		// Starting over only delays deletions by one grace period.
		return pending{}, nil
	}
	return p, nil
}

// twoPhase is the live test of a gc of shared storage: a blob no snapshot
// names is deleted only when an earlier gc found it dead at least grace
// ago; else it is held and (re)listed as pending.
type twoPhase struct {
	old   pending
	next  pending
	now   time.Time
	grace time.Duration
}

func (tp *twoPhase) live(marked func(blob.ID) bool) func(blob.ID) bool {
	return func(id blob.ID) bool {
		if marked(id) {
			return true
		}
		first, ok := tp.old[id]
		if ok && tp.now.Sub(time.Unix(0, first)) >= tp.grace {
			return false // deleted now: it leaves the list
		}
		if !ok {
			first = tp.now.UnixNano()
		}
		tp.next[id] = first
		return true
	}
}

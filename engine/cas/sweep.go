package cas

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"

	"github.com/vmrep/vmrep/engine/blob"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/sys/unix"
)

// SweepOptions tune Sweep.
type SweepOptions struct {
	// DryRun counts and plans, and changes nothing: no flush, no copy, no
	// delete.
	DryRun bool
}

// SweepStats says what Sweep found and reclaimed. Blob counts are of
// distinct blobs in the index; bytes are stored (compressed) bytes, pack
// sizes whole files.
type SweepStats struct {
	LiveBlobs, DeadBlobs int64
	LiveBytes, DeadBytes int64
	// ReclaimableBytes is what deleting the packs below frees: their size,
	// less the live bytes copied out of those rewritten. Dead bytes in
	// packs at least half live stay until more of them dies.
	ReclaimableBytes int64
	DeadKeptBytes    int64 // dead bytes in packs kept, which a later sweep may take
	PacksDeleted     int   // packs removed (or, dry, to remove), rewritten ones included
	PacksRewritten   int   // packs whose live blobs were (or would be) copied out first
	BlobsDeleted     int64 // dead blobs dropped (or, dry, to drop)
	// StoreBytesBefore and After are the packs' total size around the
	// sweep, and BytesFreed their difference: what the disk got back.
	StoreBytesBefore, StoreBytesAfter int64
	BytesFreed                        int64

	PacksSkippedNoSpace int // partly dead packs left as they are: too little free space to rewrite them
}

// packUsage tallies one pack's blobs during a sweep.
type packUsage struct {
	size                   int64
	live, dead             []PackEntry
	liveStored, deadStored int64
}

// Sweep reclaims the space of blobs for which live returns false: packs
// with no live blob are deleted first (that needs no space, and on a nearly
// full disk it makes the room a rewrite needs); then packs less than half
// live have their live blobs copied into new packs, made durable and
// indexed, before the old pack is deleted, but only while the file system
// has room to spare for the copy (PacksSkippedNoSpace counts those left).
// The caller must keep Put from running meanwhile, or a Put could
// deduplicate against a blob being deleted. With opts.DryRun it only counts
// and plans.
func (s *Store) Sweep(ctx context.Context, live func(blob.ID) bool, opts SweepOptions) (SweepStats, error) {
	var st SweepStats
	if !opts.DryRun {
		if err := s.writable(); err != nil {
			return st, fmt.Errorf("sweep: %w", err)
		}
		if err := s.Flush(ctx); err != nil {
			return st, fmt.Errorf("sweep: %w", err)
		}
	}
	usage, err := s.packUsage(ctx, live, &st)
	if err != nil {
		return st, err
	}
	st.StoreBytesAfter = st.StoreBytesBefore
	var dead, partly []string
	for pack, u := range usage {
		switch {
		case len(u.dead) == 0:
		case len(u.live) == 0:
			dead = append(dead, pack)
			st.ReclaimableBytes += u.size
		case u.liveStored < u.deadStored:
			partly = append(partly, pack)
			st.ReclaimableBytes += u.size - u.liveStored
		default:
			st.DeadKeptBytes += u.deadStored
		}
	}
	sort.Strings(dead)
	sort.Strings(partly)
	if opts.DryRun {
		for _, pack := range append(dead, partly...) {
			st.BlobsDeleted += int64(len(usage[pack].dead))
		}
		st.PacksDeleted, st.PacksRewritten = len(dead)+len(partly), len(partly)
		return st, nil
	}
	if err := s.dropPacks(ctx, dead, usage, &st); err != nil {
		return st, err
	}
	var rewritten []string
	for _, pack := range partly {
		u := usage[pack]
		if !s.roomFor(u.liveStored) {
			st.PacksSkippedNoSpace++
			st.ReclaimableBytes -= u.size - u.liveStored
			st.DeadKeptBytes += u.deadStored
			continue
		}
		if err := s.copyLive(ctx, pack, u.live); err != nil {
			return st, err
		}
		st.PacksRewritten++
		rewritten = append(rewritten, pack)
	}
	if st.PacksSkippedNoSpace > 0 {
		s.log.Warn("sweep: left partly dead packs as they are: too little free space to rewrite them; free space and run gc again",
			"store", s.dir, "packs", st.PacksSkippedNoSpace)
	}
	if err := s.Flush(ctx); err != nil {
		return st, fmt.Errorf("sweep: %w", err)
	}
	if err := s.dropPacks(ctx, rewritten, usage, &st); err != nil {
		return st, err
	}
	if st.StoreBytesAfter, err = s.packBytes(ctx); err != nil {
		return st, err
	}
	st.BytesFreed = st.StoreBytesBefore - st.StoreBytesAfter
	return st, nil
}

// dropPacks drops packs and counts them in st.
func (s *Store) dropPacks(ctx context.Context, packs []string, usage map[string]*packUsage, st *SweepStats) error {
	for _, pack := range packs {
		if _, err := s.dropPack(ctx, pack, usage[pack]); err != nil {
			return err
		}
		st.PacksDeleted++
		st.BlobsDeleted += int64(len(usage[pack].dead))
	}
	return nil
}

// packUsage sorts every committed blob into live and dead per pack, and
// counts them and the packs' size into st.
func (s *Store) packUsage(ctx context.Context, live func(blob.ID) bool, st *SweepStats) (map[string]*packUsage, error) {
	usage := make(map[string]*packUsage)
	err := s.ForEachBlob(ctx, func(id blob.ID, loc Location) error {
		u := usage[loc.Pack]
		if u == nil {
			u = &packUsage{}
			usage[loc.Pack] = u
		}
		e := PackEntry{ID: id, Type: loc.Type, Flags: loc.flags(), Offset: uint64(loc.Offset), Stored: loc.Stored, Raw: loc.Raw}
		if live(id) {
			u.live = append(u.live, e)
			u.liveStored += int64(loc.Stored)
			st.LiveBlobs++
			st.LiveBytes += int64(loc.Stored)
		} else {
			u.dead = append(u.dead, e)
			u.deadStored += int64(loc.Stored)
			st.DeadBlobs++
			st.DeadBytes += int64(loc.Stored)
		}
		return nil
	})
	if err == nil {
		err = scanPrefix(s.db, []byte{prefixPack}, func(k, v []byte) error {
			size, _, err := decodePackValue(v)
			if err != nil {
				return fmt.Errorf("index entry of pack %x: %w", k[1:], err)
			}
			st.StoreBytesBefore += size
			if u := usage[hex.EncodeToString(k[1:])]; u != nil {
				u.size = size
			}
			return ctx.Err()
		})
	}
	if err != nil {
		return nil, fmt.Errorf("sweep store %s: %w", s.dir, err)
	}
	return usage, nil
}

// packBytes is the total size of the committed packs.
func (s *Store) packBytes(ctx context.Context) (int64, error) {
	var total int64
	err := scanPrefix(s.db, []byte{prefixPack}, func(_, v []byte) error {
		size, _, err := decodePackValue(v)
		total += size
		if err != nil {
			return err
		}
		return ctx.Err()
	})
	if err != nil {
		return 0, fmt.Errorf("size of store %s: %w", s.dir, err)
	}
	return total, nil
}

// sweepRewriteMargin is the free space a rewrite must leave: the index's
// own headroom and a pack being written besides the copy.
const sweepRewriteMargin = indexOpenHeadroom

// roomFor reports whether the store's file system has room to write n
// more bytes with the margin to spare. Only the local directory is
// checked; another backend is assumed to have room.
func (s *Store) roomFor(n int64) bool {
	if !isLocalBackend(s.be) {
		return true
	}
	var st unix.Statfs_t
	if err := unix.Statfs(s.dir, &st); err != nil {
		return true // the write itself will say what is wrong
	}
	return freeBytes(&st) > n+sweepRewriteMargin+s.cfg.PackSize
}

// copyLive appends a pack's live blobs, checked, to the current temp pack.
func (s *Store) copyLive(ctx context.Context, pack string, live []PackEntry) error {
	var raw []byte
	for _, e := range live {
		loc := entryLocation(pack, e)
		stored := make([]byte, e.Stored)
		if err := s.be.ReadAt(ctx, Handle{Kind: FilePack, Name: pack}, stored, loc.Offset); err != nil {
			return fmt.Errorf("sweep: copy %s %s out of pack %s: %w", e.Type, e.ID, pack, err)
		}
		var err error
		if raw, err = s.decodeBlob(e.ID, loc, stored, raw); err != nil {
			return fmt.Errorf("sweep: copy out of pack %s: %w", pack, err) // never spread damage
		}
		rec := make([]byte, blobHeaderSize, blobHeaderSize+len(stored))
		putBlobHeader(rec, e.Type, e.Flags, e.Raw, e.Stored, e.ID)
		if _, err := s.appendBlob(ctx, s.def, append(rec, stored...), e, 0, false); err != nil {
			return fmt.Errorf("sweep: copy out of pack %s: %w", pack, err)
		}
	}
	return nil
}

// dropPack removes a pack's index entries, then the pack itself. Entries
// already moved to another pack by copyLive are left alone.
func (s *Store) dropPack(ctx context.Context, pack string, u *packUsage) (int64, error) {
	pn, err := parsePackName(pack)
	if err != nil {
		return 0, err
	}
	var size int64
	v, closer, err := s.db.Get(packKey(pn))
	if err == nil {
		size, _, _ = decodePackValue(v)
		closer.Close()
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return 0, fmt.Errorf("sweep pack %s: %w", pack, err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	for _, group := range [][]PackEntry{u.live, u.dead} {
		for _, e := range group {
			v, closer, err := s.db.Get(blobKey(e.ID))
			if errors.Is(err, pebble.ErrNotFound) {
				continue
			}
			if err != nil {
				return 0, fmt.Errorf("sweep pack %s: %w", pack, err)
			}
			stillHere := len(v) >= 32 && bytes.Equal(v[:32], pn[:])
			closer.Close()
			if stillHere {
				b.Delete(blobKey(e.ID), nil)
			}
		}
	}
	b.Delete(packKey(pn), nil)
	if err := s.indexWrite(func() error { return b.Commit(pebble.Sync) }); err != nil {
		return 0, fmt.Errorf("sweep pack %s: index: %w", pack, err)
	}
	if err := s.be.Delete(ctx, Handle{Kind: FilePack, Name: pack}); err != nil {
		return 0, fmt.Errorf("sweep pack %s: %w", pack, err)
	}
	return size, nil
}

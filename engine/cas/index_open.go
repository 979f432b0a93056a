package cas

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/vmrep/vmrep/internal/durable"
	"github.com/vmrep/vmrep/internal/vfs"
)

// indexDamagedMarker, in the store directory, says that Pebble reported
// corruption while the store was open; the next Open moves the index aside
// and rebuilds it instead of reading it again.
const indexDamagedMarker = "index-damaged"

// pebbleFatal is what Pebble's fatal log calls panic with, so that Open can
// tell them from other panics and recover.
type pebbleFatal string

// openIndex opens the Pebble index and brings it up to date with the packs
// and records. The index is a cache of them: when it is damaged (Pebble
// reports corruption, a fatal error while opening or reading it, or the
// marker a running store left), it is moved aside and rebuilt, in one log
// line, rather than stopping the store from opening.
func (s *Store) openIndex(ctx context.Context, opts Options) error {
	marker := filepath.Join(s.dir, indexDamagedMarker)
	if why, err := s.fs.ReadFile(marker); err == nil {
		if err := s.moveIndexAside(string(why)); err != nil {
			return err
		}
	}
	err := s.tryOpenIndex(ctx, opts)
	if err == nil || !indexDamaged(err) {
		return err
	}
	if s.db != nil {
		s.db.Close()
		s.db = nil
	}
	if err := s.moveIndexAside(err.Error()); err != nil {
		return err
	}
	return s.tryOpenIndex(ctx, opts)
}

// tryOpenIndex opens the index and runs recovery, turning a fatal Pebble
// error into an error.
func (s *Store) tryOpenIndex(ctx context.Context, opts Options) (err error) {
	defer func() {
		if r := recover(); r != nil {
			pf, ok := r.(pebbleFatal)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("open store index %s: %w: %s", s.dir, pebble.ErrCorruption, string(pf))
		}
	}()
	popts := &pebble.Options{FS: opts.PebbleFS, Logger: pebbleLogger{s.log}, EventListener: &pebble.EventListener{
		DataCorruption: s.indexCorruption,
	}}
	if opts.PebbleCacheSize > 0 {
		c := pebble.NewCache(opts.PebbleCacheSize)
		defer c.Unref()
		popts.Cache = c
	}
	s.db, err = pebble.Open(filepath.Join(s.dir, "index"), popts)
	if err != nil {
		return fmt.Errorf("open store index %s: %w", filepath.Join(s.dir, "index"), err)
	}
	if err := s.recoverPacks(ctx); err != nil {
		return err
	}
	if err := s.recoverRecords(ctx); err != nil {
		return err
	}
	if err := s.fs.Remove(filepath.Join(s.dir, indexDamagedMarker)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("open store %s: %w", s.dir, err)
	}
	return nil
}

// indexDamaged tells a damaged index from other failures to open it: a
// corruption Pebble names, or any error that is not the system's (a full
// or read-only disk must not cost the index).
func indexDamaged(err error) bool {
	if pebble.IsCorruptionError(err) {
		return true
	}
	var errno syscall.Errno
	return !errors.As(err, &errno) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// moveIndexAside renames the index directory so that a fresh one is built.
func (s *Store) moveIndexAside(why string) error {
	idx := filepath.Join(s.dir, "index")
	aside := fmt.Sprintf("%s.damaged-%s", idx, time.Now().UTC().Format("20060102T150405"))
	if err := os.Rename(idx, aside); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("open store %s: moving the damaged index aside: %w", s.dir, err)
	}
	if err := durable.SyncDir(s.dir); err != nil {
		return fmt.Errorf("open store %s: %w", s.dir, err)
	}
	s.log.Warn("store index was damaged: moved it aside and rebuilding it from the packs and records",
		"store", s.dir, "moved_to", filepath.Base(aside), "why", why)
	return nil
}

// indexCorruption is Pebble's DataCorruption callback. Reads of the damaged
// block fail with an error (the job that hit it fails); the store marks the
// index for a rebuild at the next open instead of stopping the process.
func (s *Store) indexCorruption(info pebble.DataCorruptionInfo) {
	if err := vfs.WriteFile(s.fs, filepath.Join(s.dir, indexDamagedMarker), []byte(info.Details.Error()), 0o600); err != nil {
		s.log.Error("marking the damaged index for a rebuild", "err", err)
	}
	if s.indexCorrupt.CompareAndSwap(false, true) {
		s.log.Error("store index is damaged; reads that need the damaged part fail, and vmrepd rebuilds the index from the packs and records at its next start",
			"store", s.dir, "err", info.Details)
	}
}

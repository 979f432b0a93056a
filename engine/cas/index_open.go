package cas

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	pvfs "github.com/cockroachdb/pebble/v2/vfs"

	"github.com/vmrep/vmrep/internal/durable"
	"golang.org/x/sys/unix"
)

// indexDamagedMarker, in the store directory, says that Pebble reported
// corruption while the store was open; the next Open moves the index aside
// and rebuilds it instead of reading it again.
const indexDamagedMarker = "index-damaged"

// openIndex opens the Pebble index and brings it up to date with the packs
// and records. The index is a cache of them: when it is damaged (Pebble
// reports corruption, a fatal error while opening or reading it, or the
// marker a running store left), it is moved aside and rebuilt, in one log
// line, rather than stopping the store from opening.
func (s *Store) openIndex(ctx context.Context, opts Options) error {
	if ro := s.mustOpenReadOnly(); ro != nil {
		return s.openIndexReadOnly(ctx, opts, ro)
	}
	marker := filepath.Join(s.dir, indexDamagedMarker)
	if why, err := s.fs.ReadFile(marker); err == nil {
		if err := s.moveIndexAside(string(why)); err != nil {
			return err
		}
	}
	err := s.tryOpenIndex(ctx, opts, false)
	if err != nil && diskFull(err) {
		// A write of the open or of the recovery failed: serve what can be
		// read, so that the operator can see the store and free space.
		s.dropIndex()
		return s.openIndexReadOnly(ctx, opts, readOnlyError(err))
	}
	if err == nil || !indexDamaged(err) {
		return err
	}
	s.dropIndex()
	if err := s.moveIndexAside(err.Error()); err != nil {
		return err
	}
	return s.tryOpenIndex(ctx, opts, false)
}

// dropIndex closes a half-opened index before another try.
func (s *Store) dropIndex() {
	if s.db != nil {
		s.closeIndex()
		s.db = nil
	}
}

// tryOpenIndex opens the index and runs recovery, turning a fatal Pebble
// error into an error.
func (s *Store) tryOpenIndex(ctx context.Context, opts Options, readOnly bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			pf, ok := r.(pebbleFatal)
			if !ok {
				panic(r)
			}
			if diskFull(pf) {
				err = fmt.Errorf("open store index %s: %w", s.dir, pf)
				return
			}
			err = fmt.Errorf("open store index %s: %w: %s", s.dir, pebble.ErrCorruption, pf.msg)
		}
	}()
	popts := &pebble.Options{FS: opts.PebbleFS, Logger: pebbleLogger{s.log, &s.pebbleQuiet}, EventListener: &pebble.EventListener{
		DataCorruption:  s.indexCorruption,
		BackgroundError: s.indexBackgroundError,
	}, MemTableSize: indexMemTableSize, ReadOnly: readOnly}
	if readOnly {
		base := opts.PebbleFS
		if base == nil {
			base = pvfs.Default
		}
		popts.FS = noLockFS{base}
	}
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
	if readOnly {
		return nil
	}
	if err := s.fs.Remove(filepath.Join(s.dir, indexDamagedMarker)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("open store %s: %w", s.dir, err)
	}
	return nil
}

// openIndexReadOnly opens the index for reads only: the store's file
// system is read-only or too full for the index to open for writes. The
// store then refuses every write with why.
func (s *Store) openIndexReadOnly(ctx context.Context, opts Options, why *ReadOnlyError) error {
	s.writeErr.CompareAndSwap(nil, why)
	s.log.Warn("store is read-only: its index cannot be written; reads are served, writes refused",
		"store", s.dir, "why", s.writeErr.Load().Why, "fix", s.writeErr.Load().Fix)
	return s.tryOpenIndex(ctx, opts, true)
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
	if err := durable.WriteFileFS(s.fs, filepath.Join(s.dir, indexDamagedMarker), []byte(info.Details.Error()), 0o600); err != nil {
		s.log.Error("marking the damaged index for a rebuild", "err", err)
	}
	if s.indexCorrupt.CompareAndSwap(false, true) {
		s.log.Error("store index is damaged; reads that need the damaged part fail, and vmrepd rebuilds the index from the packs and records at its next start",
			"store", s.dir, "err", info.Details)
	}
}

// indexMemTableSize is Pebble's memtable size, set so that the space an
// open for writes needs is known: Pebble's default, 4 MiB.
const indexMemTableSize = 4 << 20

// indexOpenHeadroom is the free space, beyond the WAL files it replays,
// that opening the index for writes needs: a new WAL preallocated to 110%
// of a memtable, one more as the recovered memtable is flushed to a table,
// a manifest and an options file. On less, Pebble's open retries its
// failing flush for ever instead of returning.
const indexOpenHeadroom = 2*indexMemTableSize*11/10 + 1<<20

// mustOpenReadOnly returns why the index must be opened read-only, nil
// when it may be opened for writes.
func (s *Store) mustOpenReadOnly() *ReadOnlyError {
	var st unix.Statfs_t
	if err := unix.Statfs(s.dir, &st); err != nil {
		return nil // the open reports the file system's trouble
	}
	if st.Flags&unix.ST_RDONLY != 0 {
		return readOnlyError(syscall.EROFS)
	}
	var wal int64
	ents, _ := os.ReadDir(filepath.Join(s.dir, "index"))
	for _, e := range ents {
		if filepath.Ext(e.Name()) != ".log" {
			continue
		}
		if fi, err := e.Info(); err == nil {
			wal += fi.Size()
		}
	}
	need := wal + indexOpenHeadroom
	if free := freeBytes(&st); free < need {
		return &ReadOnlyError{
			Why: fmt.Sprintf("%s free on its file system, opening it for writes needs %s", humanBytes(free), humanBytes(need)),
			Fix: "free space and restart vmrepd",
		}
	}
	return nil
}

// freeBytes is the space this process may still write, root's reserve
// included when it runs as root.
func freeBytes(st *unix.Statfs_t) int64 {
	if os.Geteuid() == 0 {
		return int64(st.Bfree) * st.Bsize
	}
	return int64(st.Bavail) * st.Bsize
}

// humanBytes writes n in binary units, to one decimal.
func humanBytes(n int64) string {
	const unit = 1 << 10
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// noLockFS skips Pebble's lock file, which a read-only file system cannot
// create. The store's own flock already keeps other processes out.
type noLockFS struct{ pvfs.FS }

func (noLockFS) Lock(string) (io.Closer, error) { return nopCloser{}, nil }

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

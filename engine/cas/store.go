package cas

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	pebblevfs "github.com/cockroachdb/pebble/v2/vfs"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/internal/vfs"
)

// pebbleLogInterval is the least time between two of Pebble's error
// messages in the log.
const pebbleLogInterval = 30 * time.Second

// maxSealing bounds the packs being sealed at once; Put waits beyond it.
const maxSealing = 2

// Options tune Open.
type Options struct {
	Backend Backend // nil: the local directory
	// FS holds the store directory's files (nil: the OS); tests crash it.
	// The index stays on PebbleFS (nil: the OS).
	FS              vfs.FS
	PebbleFS        pebblevfs.FS
	Logger          *slog.Logger
	PebbleCacheSize int64 // 0: Pebble's default
	// KEK is the key-encryption key of an encrypted store (nil: none). An
	// encrypted store does not open without it, nor a plain one with it.
	KEK []byte
}

// LockedError says another process has the store open.
type LockedError struct {
	Dir string
	PID int // 0 when the lock file does not say
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("store %s is in use by process %d", e.Dir, e.PID)
}

// Store is an open content-addressed store. It implements blob.Store.
type Store struct {
	dir     string
	cfg     Config
	storeID [16]byte
	be      Backend
	fs      vfs.FS
	db      *pebble.DB
	lock    *os.File
	log     *slog.Logger
	enc     *zstd.Encoder
	dec     *zstd.Decoder
	sealSem chan struct{}

	def *Writer // serves Store.Put

	// recMu orders record writes: two writes of one record racing between
	// the file and the index would leave the two disagreeing.
	recMu   sync.Mutex
	damaged damagedRecords // recMu

	indexCorrupt atomic.Bool // Pebble reported corruption; logged once

	// writeErr, once set, is returned by every write: the index failed a
	// write or was opened read-only. Sticky until the process restarts.
	writeErr    atomic.Pointer[ReadOnlyError]
	pebbleQuiet quietLog // Pebble's error messages

	mu struct {
		sync.Mutex
		writers  map[*Writer]struct{}
		pending  map[blob.ID]pendingBlob
		inflight map[*packWriter]struct{}
		gen      uint64 // bumped whenever pending blobs move to the index
		err      error  // sticky: a pack failed to seal
		closed   bool
	}
}

var _ blob.Store = (*Store)(nil)

// Open opens the store in dir, locks it against other processes and brings
// the index up to date with the packs and records on disk. With
// opts.Backend set, dir is only the local part of a store kept in the
// backend: an empty dir joins it by copying the backend's config.
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	var remote *Config
	if opts.Backend != nil {
		r, err := joinBackend(ctx, dir, opts.Backend)
		if err != nil {
			return nil, err
		}
		remote = &r
	}
	fsys := vfs.Or(opts.FS)
	cfg, err := readConfigFS(fsys, dir)
	if err != nil {
		return nil, err
	}
	keyCfg := cfg
	if remote != nil {
		keyCfg = *remote // the backend's wrapped key counts (see RotateKey)
	}
	keys, err := storeKeys(keyCfg, opts.KEK)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	sid, _ := cfg.storeID()
	var lock *os.File
	if _, ok := fsys.(vfs.OS); ok { // a test's in-memory store has no other process to fear
		if lock, err = lockStore(dir); err != nil {
			return nil, err
		}
	}
	s := &Store{dir: dir, cfg: cfg, storeID: sid, be: opts.Backend, fs: fsys, lock: lock, log: opts.Logger,
		sealSem: make(chan struct{}, maxSealing)}
	s.pebbleQuiet.interval = pebbleLogInterval
	if s.be == nil {
		s.be = newLocalBackendFS(fsys, dir)
	}
	if keys != nil {
		s.be = newSealedBackend(s.be, keys, fsys)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.mu.pending = make(map[blob.ID]pendingBlob)
	s.mu.writers = make(map[*Writer]struct{})
	s.def = s.NewWriter()
	s.mu.inflight = make(map[*packWriter]struct{})
	if err := s.open(ctx, opts); err != nil {
		s.closeAll()
		return nil, err
	}
	return s, nil
}

func (s *Store) open(ctx context.Context, opts Options) error {
	var err error
	n := runtime.GOMAXPROCS(0)
	s.enc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(n), zstd.WithEncoderCRC(false))
	if err != nil {
		return fmt.Errorf("open store %s: %w", s.dir, err)
	}
	s.dec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(n),
		zstd.WithDecoderMaxMemory(blob.MaxSize+1), zstd.IgnoreChecksum(true))
	if err != nil {
		return fmt.Errorf("open store %s: %w", s.dir, err)
	}
	if err := s.cleanTmp(); err != nil {
		return err
	}
	return s.openIndex(ctx, opts)
}

// lockStore takes the store's flock and writes our pid into the lock file.
func lockStore(dir string) (*os.File, error) {
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	readOnly := errors.Is(err, unix.EROFS)
	if readOnly {
		// A read-only store still gets locked; the pid cannot be written.
		f, err = os.Open(path)
	}
	if err != nil {
		return nil, fmt.Errorf("lock store %s: %w", dir, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			b, _ := io.ReadAll(io.LimitReader(f, 32))
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			return nil, &LockedError{Dir: dir, PID: pid}
		}
		return nil, fmt.Errorf("lock store %s: %w", dir, err)
	}
	if readOnly {
		return f, nil
	}
	if err := writePID(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock store %s: writing pid: %w", dir, err)
	}
	return f, nil
}

// writePID replaces the lock file's content with our pid, which a second
// process names when it is refused.
func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// cleanTmp removes what a previous process left half-written.
func (s *Store) cleanTmp() error {
	tmp := filepath.Join(s.dir, "tmp")
	ents, err := s.fs.ReadDir(tmp)
	if errors.Is(err, os.ErrNotExist) {
		if err := s.fs.MkdirAll(tmp, 0o750); err != nil && !errors.Is(err, unix.EROFS) {
			return fmt.Errorf("open store %s: %w", s.dir, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("open store %s: %w", s.dir, err)
	}
	for _, e := range ents {
		err := s.fs.RemoveAll(filepath.Join(tmp, e.Name()))
		if errors.Is(err, unix.EROFS) {
			s.log.Warn("leftovers in tmp/ stay: the file system is read-only", "store", s.dir)
			return nil
		}
		if err != nil {
			return fmt.Errorf("open store %s: removing leftover: %w", s.dir, err)
		}
	}
	return nil
}

// Config returns the store's config.
func (s *Store) Config() Config { return s.cfg }

// Dir returns the store directory.
func (s *Store) Dir() string { return s.dir }

// Close closes the store without flushing: blobs Put since the last Flush
// are discarded. Packs already sealing are finished first.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.closed = true
	var curs []*packWriter
	for w := range s.mu.writers {
		if w.cur != nil {
			curs = append(curs, w.cur)
			w.cur = nil
		}
	}
	var waits []*packWriter
	for pw := range s.mu.inflight {
		waits = append(waits, pw)
	}
	s.mu.Unlock()
	for _, pw := range waits {
		<-pw.done
	}
	for _, cur := range curs {
		cur.discard()
	}
	return s.closeAll()
}

func (s *Store) closeAll() error {
	var errs []error
	if s.db != nil {
		errs = append(errs, s.closeIndex())
	}
	if c, ok := s.be.(io.Closer); ok {
		errs = append(errs, c.Close())
	}
	if s.enc != nil {
		errs = append(errs, s.enc.Close())
	}
	if s.dec != nil {
		s.dec.Close()
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close()) // closing releases the flock
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close store %s: %w", s.dir, err)
	}
	return nil
}

// closeIndex closes the index. An index that failed a write may report
// that again through Pebble's fatal log while closing.
func (s *Store) closeIndex() (err error) {
	defer func() {
		if r := recover(); r != nil {
			pf, ok := r.(pebbleFatal)
			if !ok {
				panic(r)
			}
			err = pf
		}
	}()
	return s.db.Close()
}

// pebbleLogger routes Pebble's messages to the store's logger. Errors go
// through q, so that a failure Pebble retries at once is not logged
// thousands of times a second.
type pebbleLogger struct {
	l *slog.Logger
	q *quietLog
}

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}
func (p pebbleLogger) Errorf(format string, args ...any) {
	if ok, held := p.q.allow(time.Now()); ok {
		p.l.Error(fmt.Sprintf(format, args...), "component", "pebble", "similar_errors_not_logged", held)
	}
}
func (p pebbleLogger) Fatalf(format string, args ...any) {
	pf := pebbleFatal{msg: fmt.Sprintf("pebble: "+format, args...)}
	for _, a := range args {
		if err, ok := a.(error); ok {
			pf.err = err
			break
		}
	}
	panic(pf)
}

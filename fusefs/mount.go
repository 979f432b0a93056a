package fusefs

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/vmrep/vmrep/engine/blob"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Defaults for Options.
const (
	DefaultCacheSize = 256 << 20
	DefaultReadAhead = 64
	// maxRead is the largest read the kernel sends: 1 MiB, the most FUSE
	// allows, so sequential reads cost few round trips.
	maxRead = 1 << 20
	// pageCacheSize is how many decoded manifest pages are kept (a page
	// of 4096 entries decodes to about 200 KiB).
	pageCacheSize = 64
)

// Options tune a mount.
type Options struct {
	// CacheSize bounds the decompressed chunks kept in memory, in bytes;
	// default 256 MiB.
	CacheSize int64
	// ReadAhead is how many chunks past a sequential read are fetched in
	// parallel; default 64 (about 4 MiB: four of the kernel's 1 MiB
	// requests, so the workers hash ahead of the reader), negative disables
	// read-ahead.
	ReadAhead int
	// KernelReadAhead is the kernel's read-ahead for the mount in KiB;
	// default DefaultKernelReadAhead, negative leaves the kernel's own.
	KernelReadAhead int
	// AllowOther lets users other than the mounting one read the tree.
	AllowOther bool
	// Logger receives one line per failed operation; default slog.Default().
	Logger *slog.Logger
	// OnRead, when set, is called after each read of a volume file with
	// the bytes it returned or its error: the daemon counts them for its
	// metrics. It must not block.
	OnRead func(n int, err error)
}

func (o Options) withDefaults() Options {
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.ReadAhead == 0 {
		o.ReadAhead = DefaultReadAhead
	}
	if o.ReadAhead < 0 {
		o.ReadAhead = 0
	}
	if o.KernelReadAhead == 0 {
		o.KernelReadAhead = DefaultKernelReadAhead
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// NewRoot returns the root of the tree. Served by the caller's own
// fs.Mount it reads without parallel read-ahead, since read-ahead workers
// need an owner that stops them: Mount is that owner.
func NewRoot(cat Catalog, r blob.Reader, opts Options) fs.InodeEmbedder {
	return newRoot(cat, r, opts)
}

func newRoot(cat Catalog, r blob.Reader, opts Options) *rootDir {
	opts = opts.withDefaults()
	chunks := newChunkCache(opts.CacheSize)
	return &rootDir{v: &view{
		cat:             cat,
		r:               r,
		chunks:          chunks,
		pages:           newPageCache(pageCacheSize),
		prefetch:        newPrefetcher(r, chunks),
		readAhead:       opts.ReadAhead,
		kernelReadAhead: opts.KernelReadAhead,
		log:             opts.Logger,
		onRead:          opts.OnRead,
	}}
}

// MountOptions returns the FUSE mount options vmrep mounts with. The FUSE
// ceiling benchmark uses the same ones.
func MountOptions(allowOther bool) fuse.MountOptions {
	return fuse.MountOptions{
		DirectMount:   true,
		FsName:        "vmrep",
		Name:          "vmrep",
		Options:       []string{"ro", "nosuid", "nodev"},
		AllowOther:    allowOther,
		MaxWrite:      maxRead,
		MaxReadAhead:  maxRead,
		MaxBackground: 64,
		// go-fuse would otherwise try splice for every read reply, which
		// only serves file-descriptor results: for in-memory data it costs
		// pipe system calls, and for 1 MiB replies it fails (the pipe is
		// too small) and logs a line per read.
		DisableSplice: true,
	}
}

// Mounted is a live mount. Unmount it, or Wait for someone else to.
type Mounted struct {
	dir    string
	server *fuse.Server
	root   *rootDir
	once   sync.Once
}

// Mount serves the tree at dir until Unmount. ctx is used while mounting
// only; the mount outlives it.
func Mount(ctx context.Context, dir string, cat Catalog, r blob.Reader, opts Options) (*Mounted, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	root := newRoot(cat, r, opts)
	server, err := fs.Mount(dir, root, &fs.Options{MountOptions: MountOptions(opts.AllowOther)})
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	root.v.prefetch.start(ctx)
	if ra := root.v.kernelReadAhead; ra > 0 {
		if err := setKernelReadAhead(dir, ra); err != nil {
			// Slower, not wrong: the kernel's default stays.
			root.v.log.Warn("fusefs: kernel read-ahead left at default", "err", err)
		}
	}
	return &Mounted{dir: dir, server: server, root: root}, nil
}

// Dir returns the mount point.
func (m *Mounted) Dir() string { return m.dir }

// Unmount unmounts and waits for the server and the read-ahead workers to
// stop. It fails (and leaves the mount alone) while a file is open or a
// process has its working directory inside.
func (m *Mounted) Unmount() error {
	if err := m.server.Unmount(); err != nil {
		return fmt.Errorf("unmount %s: %w", m.dir, err)
	}
	m.Wait()
	return nil
}

// Wait blocks until the file system is unmounted, then stops the
// read-ahead workers and releases the chunk cache's memory.
func (m *Mounted) Wait() {
	m.server.Wait()
	m.once.Do(func() {
		// The server has answered its last request and the workers are
		// gone, so no read holds a chunk any more.
		m.root.v.prefetch.close()
		m.root.v.chunks.close()
	})
}

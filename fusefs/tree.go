package fusefs

import (
	"context"
	"hash/fnv"
	"log/slog"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/volume"
)

// Catalog is what the tree needs to list VGs and snapshots
// (volume.Catalog satisfies it).
type Catalog interface {
	ListVGs(ctx context.Context) ([]volume.VG, error)
	ListSnapshots(ctx context.Context, vgID string) ([]volume.Snapshot, error)
}

// Directories change as snapshots are taken and deleted; what a snapshot
// directory holds never changes.
const (
	dirTimeout  = time.Second
	fileTimeout = time.Hour
	latestName  = "latest"
	jsonName    = "snapshot.json"
	imgSuffix   = ".img"
)

// view is what every node of one tree shares.
type view struct {
	cat       Catalog
	r         blob.Reader
	chunks    *chunkCache
	pages     *pageCache
	prefetch  *prefetcher
	readAhead int
	// kernelReadAhead is the mount's kernel read-ahead in KiB, set by
	// Mount; 0 leaves the kernel's default.
	kernelReadAhead int
	log             *slog.Logger
	onRead          func(n int, err error) // Options.OnRead; nil: nobody counts
}

// inoOf gives a node a stable inode number derived from what it shows, so
// that go-fuse finds the existing inode on a repeated lookup and keeps its
// loaded manifest.
func inoOf(kind string, parts ...string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(kind))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	ino := h.Sum64()
	if ino <= fuse.FUSE_ROOT_ID || ino == ^uint64(0) {
		ino += 2
	}
	return ino
}

func setTimes(a *fuse.Attr, t time.Time) {
	a.SetTimes(&t, &t, &t)
}

// rootDir lists the volume groups.
type rootDir struct {
	fs.Inode
	v *view
}

var (
	_ = (fs.NodeLookuper)((*rootDir)(nil))
	_ = (fs.NodeReaddirer)((*rootDir)(nil))
	_ = (fs.NodeGetattrer)((*rootDir)(nil))
)

func (d *rootDir) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = fuse.S_IFDIR | 0o555
	out.SetTimeout(dirTimeout)
	return 0
}

func (d *rootDir) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	vgs, err := d.v.cat.ListVGs(ctx)
	if err != nil {
		return nil, toErrno(d.v.log, "list volume groups", err)
	}
	ents := make([]fuse.DirEntry, 0, len(vgs))
	for _, vg := range vgs {
		ents = append(ents, fuse.DirEntry{Name: vg.Name, Mode: fuse.S_IFDIR, Ino: inoOf("vg", vg.ID)})
	}
	return fs.NewListDirStream(ents), 0
}

func (d *rootDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	vgs, err := d.v.cat.ListVGs(ctx)
	if err != nil {
		return nil, toErrno(d.v.log, "list volume groups", err)
	}
	i := slices.IndexFunc(vgs, func(vg volume.VG) bool { return vg.Name == name })
	if i < 0 {
		return nil, syscall.ENOENT
	}
	n := &vgDir{v: d.v, vgID: vgs[i].ID, created: vgs[i].Created}
	n.fill(&out.Attr)
	out.SetEntryTimeout(dirTimeout)
	out.SetAttrTimeout(dirTimeout)
	return d.NewInode(ctx, n, fs.StableAttr{Mode: fuse.S_IFDIR, Ino: inoOf("vg", n.vgID)}), 0
}

// vgDir lists the snapshots of one VG and its latest link.
type vgDir struct {
	fs.Inode
	v       *view
	vgID    string
	created time.Time
}

var (
	_ = (fs.NodeLookuper)((*vgDir)(nil))
	_ = (fs.NodeReaddirer)((*vgDir)(nil))
	_ = (fs.NodeGetattrer)((*vgDir)(nil))
)

func (d *vgDir) fill(a *fuse.Attr) {
	a.Mode = fuse.S_IFDIR | 0o555
	setTimes(a, d.created)
}

func (d *vgDir) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	d.fill(&out.Attr)
	out.SetTimeout(dirTimeout)
	return 0
}

func (d *vgDir) snapshots(ctx context.Context) ([]volume.Snapshot, syscall.Errno) {
	snaps, err := d.v.cat.ListSnapshots(ctx, d.vgID)
	if err != nil {
		return nil, toErrno(d.v.log, "list snapshots of "+d.vgID, err)
	}
	return withoutSealed(snaps), 0
}

// withoutSealed drops the snapshots whose source sealed their chunks
// (replicate --encrypt-for): this store holds no key for them, and their
// manifests name sealed chunks, whose bytes are not the volume's. They are
// not shown at all, rather than shown and failing on read.
func withoutSealed(snaps []volume.Snapshot) []volume.Snapshot {
	return slices.DeleteFunc(snaps, func(s volume.Snapshot) bool { return s.Sealed() != "" })
}

func (d *vgDir) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	snaps, errno := d.snapshots(ctx)
	if errno != 0 {
		return nil, errno
	}
	ents := make([]fuse.DirEntry, 0, len(snaps)+1)
	if len(snaps) > 0 {
		ents = append(ents, fuse.DirEntry{Name: latestName, Mode: fuse.S_IFLNK, Ino: inoOf("latest", d.vgID)})
	}
	for _, s := range snaps {
		ents = append(ents, fuse.DirEntry{Name: strconv.FormatUint(s.Seq, 10), Mode: fuse.S_IFDIR, Ino: inoOf("snap", s.ID)})
	}
	return fs.NewListDirStream(ents), 0
}

func (d *vgDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	var seq uint64
	if name != latestName {
		var err error
		// Only the canonical spelling names a snapshot: "01" is not "1".
		if seq, err = strconv.ParseUint(name, 10, 64); err != nil || strconv.FormatUint(seq, 10) != name {
			return nil, syscall.ENOENT
		}
	}
	snaps, errno := d.snapshots(ctx)
	if errno != 0 {
		return nil, errno
	}
	if len(snaps) == 0 {
		return nil, syscall.ENOENT
	}
	if name == latestName {
		l := &latestLink{v: d.v, vgID: d.vgID}
		l.fill(&out.Attr, newest(snaps))
		out.SetEntryTimeout(dirTimeout)
		out.SetAttrTimeout(dirTimeout)
		return d.NewInode(ctx, l, fs.StableAttr{Mode: fuse.S_IFLNK, Ino: inoOf("latest", d.vgID)}), 0
	}
	i := slices.IndexFunc(snaps, func(s volume.Snapshot) bool { return s.Seq == seq })
	if i < 0 {
		return nil, syscall.ENOENT
	}
	n := &snapDir{v: d.v, snap: snaps[i]}
	n.fill(&out.Attr)
	out.SetEntryTimeout(dirTimeout)
	out.SetAttrTimeout(dirTimeout)
	return d.NewInode(ctx, n, fs.StableAttr{Mode: fuse.S_IFDIR, Ino: inoOf("snap", n.snap.ID)}), 0
}

func newest(snaps []volume.Snapshot) volume.Snapshot {
	best := snaps[0]
	for _, s := range snaps[1:] {
		if s.Seq > best.Seq {
			best = s
		}
	}
	return best
}

// latestLink points at the newest snapshot's directory. Its target is
// computed on every readlink, so it moves as snapshots are taken.
type latestLink struct {
	fs.Inode
	v    *view
	vgID string
}

var (
	_ = (fs.NodeReadlinker)((*latestLink)(nil))
	_ = (fs.NodeGetattrer)((*latestLink)(nil))
)

func (l *latestLink) fill(a *fuse.Attr, s volume.Snapshot) {
	a.Mode = fuse.S_IFLNK | 0o777
	a.Size = uint64(len(strconv.FormatUint(s.Seq, 10)))
	setTimes(a, s.Created)
}

func (l *latestLink) target(ctx context.Context) (volume.Snapshot, syscall.Errno) {
	snaps, err := l.v.cat.ListSnapshots(ctx, l.vgID)
	if err != nil {
		return volume.Snapshot{}, toErrno(l.v.log, "list snapshots of "+l.vgID, err)
	}
	if snaps = withoutSealed(snaps); len(snaps) == 0 {
		return volume.Snapshot{}, syscall.ENOENT
	}
	return newest(snaps), 0
}

func (l *latestLink) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	s, errno := l.target(ctx)
	if errno != 0 {
		return nil, errno
	}
	return []byte(strconv.FormatUint(s.Seq, 10)), 0
}

func (l *latestLink) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	s, errno := l.target(ctx)
	if errno != 0 {
		return errno
	}
	l.fill(&out.Attr, s)
	out.SetTimeout(dirTimeout)
	return 0
}

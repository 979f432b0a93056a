package fusefs

import (
	"context"
	"encoding/json"
	"strings"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/volume"
)

// snapDir holds one snapshot's volume images and its snapshot.json. A
// snapshot never changes, so its listing needs no catalog access.
type snapDir struct {
	fs.Inode
	v    *view
	snap volume.Snapshot
}

var (
	_ = (fs.NodeLookuper)((*snapDir)(nil))
	_ = (fs.NodeReaddirer)((*snapDir)(nil))
	_ = (fs.NodeGetattrer)((*snapDir)(nil))
)

func (d *snapDir) fill(a *fuse.Attr) {
	a.Mode = fuse.S_IFDIR | 0o555
	setTimes(a, d.snap.Created)
}

func (d *snapDir) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	d.fill(&out.Attr)
	out.SetTimeout(dirTimeout)
	return 0
}

func (d *snapDir) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	ents := []fuse.DirEntry{{Name: jsonName, Mode: fuse.S_IFREG, Ino: inoOf("json", d.snap.ID)}}
	for _, vs := range d.snap.Volumes {
		ents = append(ents, fuse.DirEntry{Name: vs.Name + imgSuffix, Mode: fuse.S_IFREG, Ino: inoOf("img", d.snap.ID, vs.VolumeID)})
	}
	return fs.NewListDirStream(ents), 0
}

func (d *snapDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	out.SetEntryTimeout(fileTimeout)
	out.SetAttrTimeout(fileTimeout)
	if name == jsonName {
		b, err := snapshotJSON(d.snap)
		if err != nil {
			return nil, toErrno(d.v.log, "encode "+jsonName+" of "+d.snap.ID, err)
		}
		n := &snapJSON{data: b, created: d.snap.Created}
		n.fill(&out.Attr)
		return d.NewInode(ctx, n, fs.StableAttr{Mode: fuse.S_IFREG, Ino: inoOf("json", d.snap.ID)}), 0
	}
	volName, ok := strings.CutSuffix(name, imgSuffix)
	if !ok {
		return nil, syscall.ENOENT
	}
	for _, vs := range d.snap.Volumes {
		if vs.Name != volName {
			continue
		}
		n := &volFile{v: d.v, vs: vs, created: d.snap.Created}
		n.fill(&out.Attr)
		return d.NewInode(ctx, n, fs.StableAttr{Mode: fuse.S_IFREG, Ino: inoOf("img", d.snap.ID, vs.VolumeID)}), 0
	}
	return nil, syscall.ENOENT
}

// snapshotInfo is the content of snapshot.json: what a user needs to name
// and check the snapshot without the catalog.
type snapshotInfo struct {
	ID      string       `json:"id"`
	VGID    string       `json:"vg_id"`
	VGName  string       `json:"vg_name"`
	Seq     uint64       `json:"seq"`
	Parent  string       `json:"parent,omitempty"`
	Created time.Time    `json:"created"`
	Volumes []volumeInfo `json:"volumes"`
}

type volumeInfo struct {
	Name      string      `json:"name"`
	VolumeID  string      `json:"volume_id"`
	Role      volume.Role `json:"role"`
	Size      int64       `json:"size"`
	Manifest  blob.ID     `json:"manifest"`
	DataBytes int64       `json:"data_bytes"`
	Chunks    int64       `json:"chunks"`
	Holes     int64       `json:"holes"`
}

func snapshotJSON(s volume.Snapshot) ([]byte, error) {
	info := snapshotInfo{ID: s.ID, VGID: s.VGID, VGName: s.VGName, Seq: s.Seq, Parent: s.Parent, Created: s.Created}
	for _, v := range s.Volumes {
		info.Volumes = append(info.Volumes, volumeInfo{Name: v.Name, VolumeID: v.VolumeID, Role: v.Role,
			Size: v.Size, Manifest: v.Manifest, DataBytes: v.DataBytes, Chunks: v.Chunks, Holes: v.Holes})
	}
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// snapJSON is a snapshot's snapshot.json, built once when looked up.
type snapJSON struct {
	fs.Inode
	data    []byte
	created time.Time
}

var (
	_ = (fs.NodeOpener)((*snapJSON)(nil))
	_ = (fs.NodeReader)((*snapJSON)(nil))
	_ = (fs.NodeGetattrer)((*snapJSON)(nil))
)

func (f *snapJSON) fill(a *fuse.Attr) {
	a.Mode = fuse.S_IFREG | 0o444
	a.Size = uint64(len(f.data))
	setTimes(a, f.created)
}

func (f *snapJSON) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	f.fill(&out.Attr)
	out.SetTimeout(fileTimeout)
	return 0
}

func (f *snapJSON) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		return nil, 0, syscall.EROFS
	}
	return nil, fuse.FOPEN_KEEP_CACHE, 0
}

func (f *snapJSON) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off >= int64(len(f.data)) {
		return fuse.ReadResultData(nil), 0
	}
	n := copy(dest, f.data[off:])
	return fuse.ReadResultData(dest[:n]), 0
}

package fuseceiling

import (
	"context"
	"fmt"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// FileName is the one file in the ceiling mount.
const FileName = "data.img"

type root struct {
	fs.Inode
	data []byte
}

var _ = (fs.NodeOnAdder)((*root)(nil))

func (r *root) OnAdd(ctx context.Context) {
	f := &memFile{data: r.data}
	r.AddChild(FileName, r.NewPersistentInode(ctx, f, fs.StableAttr{Mode: fuse.S_IFREG}), false)
}

type memFile struct {
	fs.Inode
	data []byte
}

var (
	_ = (fs.NodeOpener)((*memFile)(nil))
	_ = (fs.NodeReader)((*memFile)(nil))
	_ = (fs.NodeGetattrer)((*memFile)(nil))
)

func (f *memFile) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = fuse.S_IFREG | 0o444
	out.Size = uint64(len(f.data))
	out.Blksize = 1 << 20
	return 0
}

func (f *memFile) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return nil, fuse.FOPEN_KEEP_CACHE, 0
}

// Read hands go-fuse a slice of the data itself: no copy in the server.
func (f *memFile) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off >= int64(len(f.data)) {
		return fuse.ReadResultData(nil), 0
	}
	end := min(off+int64(len(dest)), int64(len(f.data)))
	return fuse.ReadResultData(f.data[off:end]), 0
}

// Server is a mounted ceiling file system.
type Server struct {
	srv *fuse.Server
}

// Mount serves data as dir/FileName with the given mount options.
func Mount(dir string, data []byte, opts fuse.MountOptions) (*Server, error) {
	srv, err := fs.Mount(dir, &root{data: data}, &fs.Options{MountOptions: opts})
	if err != nil {
		return nil, fmt.Errorf("mount fuse ceiling at %s: %w", dir, err)
	}
	return &Server{srv: srv}, nil
}

// Unmount unmounts and waits for the server to stop.
func (s *Server) Unmount() error {
	if err := s.srv.Unmount(); err != nil {
		return err
	}
	s.srv.Wait()
	return nil
}

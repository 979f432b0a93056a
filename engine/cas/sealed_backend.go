package cas

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"

	"github.com/vmrep/vmrep/engine/seal"
	"github.com/vmrep/vmrep/internal/vfs"
)

// sealedRecordDir holds every sealed record, whatever its real directory,
// so that a reader of the backend cannot count VGs and snapshots apart.
const sealedRecordDir = "vgs"

// maxCachedHeaders bounds the pack headers a sealedBackend remembers.
const maxCachedHeaders = 1 << 16

// sealedBackend seals every pack and record it stores in another backend
// (see engine/seal): contents in authenticated segments, names through
// keyed permutations. The config passes through in the clear: it holds
// the wrapped data key and no content. Every read of a store goes through
// its backend, so wrapping the backend seals the whole store.
type sealedBackend struct {
	inner Backend
	keys  *seal.Keys
	fs    vfs.FS

	mu      sync.Mutex
	headers map[string]seal.Header // of packs, which never change; by real name
}

// newSealedBackend returns be with every pack and record sealed under
// keys; fsys holds the temp files Put seals from (nil: the OS).
func newSealedBackend(be Backend, keys *seal.Keys, fsys vfs.FS) *sealedBackend {
	return &sealedBackend{inner: be, keys: keys, fs: vfs.Or(fsys), headers: make(map[string]seal.Header)}
}

// NewSealedBackend returns be with every pack and record sealed under
// dataKey, as an encrypted store keeps them; Open does this itself for a
// store opened with Options.KEK, so this serves tools and tests.
func NewSealedBackend(be Backend, dataKey []byte) (Backend, error) {
	keys, err := seal.NewKeys(dataKey)
	if err != nil {
		return nil, err
	}
	return newSealedBackend(be, keys, nil), nil
}

// Unwrap returns the backend the sealed files are stored in.
func (b *sealedBackend) Unwrap() Backend { return b.inner }

// identity is a file's identity in its segments' additional data.
func identity(h Handle) []byte { return append([]byte{byte(h.Kind)}, h.Name...) }

// sealedHandle is the handle h is stored under in the inner backend.
func (b *sealedBackend) sealedHandle(h Handle) (Handle, error) {
	switch h.Kind {
	case FilePack:
		raw, err := hex.DecodeString(h.Name)
		if err != nil || len(raw) != 32 {
			return h, fmt.Errorf("bad pack name %q", h.Name)
		}
		s := b.keys.PackName([32]byte(raw))
		return Handle{Kind: FilePack, Name: hex.EncodeToString(s[:])}, nil
	case FileRecord:
		sub, name, ok := strings.Cut(h.Name, "/")
		if !ok || (sub != "vgs" && sub != "snapshots") || validRecordName(name) != nil {
			return h, fmt.Errorf("bad record file name %q", h.Name)
		}
		s, err := b.keys.RecordName(h.Name)
		if err != nil {
			return h, err
		}
		return Handle{Kind: FileRecord, Name: sealedRecordDir + "/" + s}, nil
	}
	return h, nil
}

// realName inverts sealedHandle for a listed name; ok is false for a name
// this key did not seal (a stray, or another store's).
func (b *sealedBackend) realName(kind FileKind, name string) (string, bool) {
	switch kind {
	case FilePack:
		raw, err := hex.DecodeString(name)
		if err != nil || len(raw) != 32 {
			return "", false
		}
		r := b.keys.RealPackName([32]byte(raw))
		return hex.EncodeToString(r[:]), true
	case FileRecord:
		s, ok := strings.CutPrefix(name, sealedRecordDir+"/")
		if !ok {
			return "", false
		}
		r, err := b.keys.RealRecordName(s)
		return r, err == nil
	}
	return name, true
}

func (b *sealedBackend) List(ctx context.Context, kind FileKind, fn func(string, int64) error) error {
	if kind == FileConfig {
		return b.inner.List(ctx, kind, fn)
	}
	return b.inner.List(ctx, kind, func(name string, size int64) error {
		real, ok := b.realName(kind, name)
		if !ok {
			return nil // not ours; Verify does not judge stray files
		}
		// A truncated file lists with its best-guess size; reading its
		// end then fails authentication, which Verify reports.
		n, _ := seal.PlainSize(size)
		return fn(real, n)
	})
}

func (b *sealedBackend) ReadAt(ctx context.Context, h Handle, p []byte, off int64) error {
	if h.Kind == FileConfig {
		return b.inner.ReadAt(ctx, h, p, off)
	}
	sh, err := b.sealedHandle(h)
	if err != nil {
		return err
	}
	hdr, err := b.header(ctx, h, sh)
	if err != nil {
		return err
	}
	read := func(buf []byte, at int64) error { return b.inner.ReadAt(ctx, sh, buf, at) }
	if err := b.keys.ReadAt(read, hdr, identity(h), p, off); err != nil {
		if errors.Is(err, seal.ErrAuth) {
			b.forget(h)
		}
		return fmt.Errorf("read sealed %s at %d: %w", h, off, err)
	}
	return nil
}

// header returns h's header: from the cache for a pack, read otherwise
// (records are rewritten under one name, so theirs may change).
func (b *sealedBackend) header(ctx context.Context, h, sh Handle) (seal.Header, error) {
	if h.Kind == FilePack {
		b.mu.Lock()
		hdr, ok := b.headers[h.Name]
		b.mu.Unlock()
		if ok {
			return hdr, nil
		}
	}
	var raw [seal.HeaderSize]byte
	if err := b.inner.ReadAt(ctx, sh, raw[:], 0); err != nil {
		return seal.Header{}, fmt.Errorf("read sealed %s: %w", h, err)
	}
	hdr, err := seal.ParseHeader(raw[:])
	if err != nil {
		return hdr, fmt.Errorf("read sealed %s: %w", h, err)
	}
	if h.Kind == FilePack {
		b.mu.Lock()
		if len(b.headers) >= maxCachedHeaders {
			clear(b.headers)
		}
		b.headers[h.Name] = hdr
		b.mu.Unlock()
	}
	return hdr, nil
}

func (b *sealedBackend) forget(h Handle) {
	b.mu.Lock()
	delete(b.headers, h.Name)
	b.mu.Unlock()
}

// Put seals the plaintext temp file f into a sibling temp file and puts
// that. The plaintext stays in the store's tmp/ (on the server's disk, not
// in the backend) until sealed, then is removed.
func (b *sealedBackend) Put(ctx context.Context, h Handle, f vfs.File) error {
	if h.Kind == FileConfig {
		return b.inner.Put(ctx, h, f)
	}
	plainName := f.Name()
	defer b.fs.Remove(plainName)
	sh, err := b.sealedHandle(h)
	if err != nil {
		f.Close()
		return fmt.Errorf("put %s: %w", h, err)
	}
	out, err := b.sealTemp(h, f)
	f.Close()
	if err != nil {
		return fmt.Errorf("put %s: %w", h, err)
	}
	b.forget(h)
	return b.inner.Put(ctx, sh, out)
}

func (b *sealedBackend) sealTemp(h Handle, f vfs.File) (vfs.File, error) {
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	out, err := b.fs.CreateTemp(filepath.Dir(f.Name()), "sealed-*")
	if err != nil {
		return nil, err
	}
	if err := b.keys.Seal(out, io.NewSectionReader(f, 0, info.Size()), info.Size(), identity(h)); err != nil {
		out.Close()
		b.fs.Remove(out.Name())
		return nil, fmt.Errorf("sealing: %w", err)
	}
	return out, nil
}

func (b *sealedBackend) Delete(ctx context.Context, h Handle) error {
	sh, err := b.sealedHandle(h)
	if err != nil {
		return err
	}
	b.forget(h)
	return b.inner.Delete(ctx, sh)
}

// SyncNames passes through to the inner backend (see localBackend).
func (b *sealedBackend) SyncNames(ctx context.Context, kind FileKind) error {
	if ns, ok := b.inner.(interface {
		SyncNames(context.Context, FileKind) error
	}); ok {
		return ns.SyncNames(ctx, kind)
	}
	return nil
}

// Close closes the inner backend where it has a Close.
func (b *sealedBackend) Close() error {
	if c, ok := b.inner.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// isLocalBackend reports whether be keeps its files in the store
// directory, sealed or not.
func isLocalBackend(be Backend) bool {
	_, ok := innerAs[*localBackend](be)
	return ok
}

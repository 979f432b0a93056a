package volume

import (
	"context"
	"fmt"
	"math"

	"github.com/vmrep/vmrep/engine/blob"
)

// ManifestInfo sums up a written manifest.
type ManifestInfo struct {
	ID        blob.ID // the top page's ID
	Size      int64   // volume size: the sum of all entry lengths
	Chunks    int64
	Holes     int64
	DataBytes int64 // bytes in chunks
	Pages     int
}

// ManifestWriter turns a stream of entries into manifest pages. It holds at
// most one page of entries and the page references for the top page, so its
// memory does not grow with the volume beyond that. Not safe for concurrent
// use.
type ManifestWriter struct {
	w       blob.Writer
	pending Entry // last entry, held back so a following hole can merge into it
	has     bool  // pending is set
	page    []Entry
	pageLen int64
	refs    []PageRef
	buf     []byte
	info    ManifestInfo
	err     error // sticky: a writer that failed stays failed
}

// NewManifestWriter returns a writer that stores pages through w.
func NewManifestWriter(w blob.Writer) *ManifestWriter {
	return &ManifestWriter{w: w}
}

// Add appends an extent. Zero-length entries are dropped and adjacent holes
// merge, so the manifest is a function of the volume's bytes alone.
func (w *ManifestWriter) Add(ctx context.Context, e Entry) error {
	if w.err != nil {
		return w.err
	}
	if e.Length == 0 {
		return nil
	}
	if e.Length < 0 || !e.Hole && e.Length > MaxChunkLength {
		return fmt.Errorf("manifest: add entry at offset %d: bad length %d", w.info.Size, e.Length)
	}
	if w.info.Size > math.MaxInt64-e.Length {
		return fmt.Errorf("manifest: add entry at offset %d: volume size overflows", w.info.Size)
	}
	w.info.Size += e.Length
	if e.Hole {
		e.ID = blob.ID{}
		w.info.Holes++
		if w.has && w.pending.Hole {
			w.pending.Length += e.Length
			w.info.Holes-- // merged: still one hole
			return nil
		}
	} else {
		w.info.Chunks++
		w.info.DataBytes += e.Length
	}
	if w.has {
		if err := w.push(ctx, w.pending); err != nil {
			w.err = err
			return err
		}
	}
	w.pending, w.has = e, true
	return nil
}

// push adds a settled entry to the current page and cuts the page where
// the format says.
func (w *ManifestWriter) push(ctx context.Context, e Entry) error {
	if w.page == nil {
		// Full capacity once: appending never reallocates afterwards.
		w.page = make([]Entry, 0, MaxPageEntries)
	}
	w.page = append(w.page, e)
	w.pageLen += e.Length
	if !e.Hole && endsPage(e.ID) || len(w.page) == MaxPageEntries {
		return w.cut(ctx)
	}
	return nil
}

// cut stores the current page and records its reference.
func (w *ManifestWriter) cut(ctx context.Context) error {
	if len(w.page) == 0 {
		return nil
	}
	w.buf = EncodePage(w.buf[:0], w.page)
	id := blob.Sum(w.buf)
	off := int64(0)
	if n := len(w.refs); n > 0 {
		off = w.refs[n-1].Offset + w.refs[n-1].Length
	}
	// The BlobWriter compresses or copies in Put, so buf is free again when
	// Put returns.
	if _, err := w.w.Put(ctx, blob.Page, id, w.buf); err != nil {
		return fmt.Errorf("manifest: store page %d (%s) at offset %d: %w", len(w.refs), id.Short(), off, err)
	}
	w.refs = append(w.refs, PageRef{Offset: off, Length: w.pageLen, Entries: len(w.page), ID: id})
	w.page = w.page[:0]
	w.pageLen = 0
	return nil
}

// Finish stores the last page and the top page and returns the manifest's
// summary. A volume with no entries gives a valid empty manifest. The pages
// are durable only after the BlobWriter's Flush.
func (w *ManifestWriter) Finish(ctx context.Context) (ManifestInfo, error) {
	if w.err != nil {
		return ManifestInfo{}, w.err
	}
	if w.has {
		if err := w.push(ctx, w.pending); err != nil {
			w.err = err
			return ManifestInfo{}, err
		}
		w.has = false
	}
	if err := w.cut(ctx); err != nil {
		w.err = err
		return ManifestInfo{}, err
	}
	w.buf = EncodeTop(w.buf[:0], w.info.Size, w.refs)
	if len(w.buf) > blob.MaxSize {
		w.err = fmt.Errorf("manifest: top page of %d pages is %d bytes, over the blob limit", len(w.refs), len(w.buf))
		return ManifestInfo{}, w.err
	}
	id := blob.Sum(w.buf)
	if _, err := w.w.Put(ctx, blob.Page, id, w.buf); err != nil {
		w.err = fmt.Errorf("manifest: store top page %s: %w", id.Short(), err)
		return ManifestInfo{}, w.err
	}
	w.info.ID = id
	w.info.Pages = len(w.refs)
	// Finishing twice would store the top page again; refuse instead.
	w.err = fmt.Errorf("manifest: writer already finished")
	return w.info, nil
}

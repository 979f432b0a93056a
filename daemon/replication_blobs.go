package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
)

// maxBlobStreamBytes bounds one blob stream; a sender splits larger sends.
const maxBlobStreamBytes = 8 << 30

// streamFlushEvery is how often a blob stream's blobs are made durable
// while it runs (full packs are sealed sooner): a server killed mid-stream
// loses at most that much of it, which the resumed send repeats.
const streamFlushEvery = 5 * time.Second

// blobFrame is one received blob on its way to a worker: its raw bytes,
// or its stored form when codec is not api.CodecNone.
type blobFrame struct {
	typ   blob.Type
	codec uint8
	raw   uint32
	id    blob.ID
	data  *[]byte
}

// storedWriter is what a blob stream is stored through: a cas Writer.
type storedWriter interface {
	blob.Writer
	PutStored(ctx context.Context, id blob.ID, st cas.Stored) (bool, error)
}

var frameBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256<<10); return &b }}

// blobs receives a blob stream: each blob is decoded when compressed,
// checked against its ID and stored through a Writer of this request; at
// the end byte everything is flushed and the counts answered. Blobs that
// passed their check are kept even when the stream fails later, the
// connection drops or the sender dies: they are flushed all the same (full
// packs are sealed as they fill), the next attempt skips them, and gc
// reclaims them if no snapshot ever names them.
func (rs *ReplicationServer) blobs(w http.ResponseWriter, r *http.Request, t *tenant) error {
	release, err := rs.s.jobs.holdBucket(r.Context(), "a blob upload")
	if err != nil {
		return err
	}
	defer release()
	ctx := r.Context()
	bw := t.store.NewWriter()
	defer bw.Close()
	var sw storedWriter = bw
	if t.quota != nil {
		if err := t.quota.begin(ctx, t.store); err != nil {
			return err
		}
		defer t.quota.end()
		sw = quotaWriter{storedWriter: bw, has: t.store.Has, q: t.quota}
	}
	stop := flushEvery(context.WithoutCancel(ctx), bw, streamFlushEvery, func(err error) {
		rs.s.log.Error("flushing a blob stream", "remote", r.RemoteAddr, "err", err)
	})
	res, err := receiveBlobs(ctx, sw, http.MaxBytesReader(w, r.Body, maxBlobStreamBytes))
	stop()
	// A dropped connection cancels ctx; what arrived is flushed regardless.
	if ferr := bw.Flush(context.WithoutCancel(ctx)); err == nil && ferr != nil {
		err = fmt.Errorf("flushing received blobs: %w", ferr)
	}
	if err != nil {
		var mbe *http.MaxBytesError
		var eq *errQuota
		switch {
		case errors.As(err, &eq):
			err = api.Errorf(api.CodeTooLarge, "%v", eq)
		case errors.As(err, &mbe):
			err = api.Errorf(api.CodeTooLarge, "blob stream over %d bytes; split it", mbe.Limit)
		case errors.Is(err, api.ErrBlobStream):
			err = api.Errorf(api.CodeInvalid, "%v", err)
		case errors.Is(err, blob.ErrCorrupt):
			// The sender's bytes are wrong, not this store: a client error.
			err = api.Errorf(api.CodeInvalid, "refused: %v", err)
		}
		return err
	}
	rs.s.log.Debug("blob stream stored", "remote", r.RemoteAddr, "blobs", res.Blobs, "bytes", res.Bytes, "new", res.Stored)
	writeJSON(w, http.StatusOK, res)
	return nil
}

// flushEvery flushes w every d until the returned stop is called; stop
// waits for a flush under way. A failed flush is passed to fail (the
// store keeps the error, so the final Flush reports it too).
func flushEvery(ctx context.Context, w interface{ Flush(context.Context) error }, d time.Duration, fail func(error)) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(d)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				if err := w.Flush(ctx); err != nil {
					fail(err)
				}
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// receiveBlobs reads frames in one goroutine and verifies and stores them
// in several, since hashing and compressing cost more than reading.
func receiveBlobs(ctx context.Context, bw storedWriter, body io.Reader) (api.ReplBlobsResult, error) {
	var blobs, bytes, stored atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	frames := make(chan blobFrame, 16)
	g.Go(func() error {
		defer close(frames)
		sr := api.NewBlobStreamReader(body, blob.MaxSize)
		for n := 0; ; n++ {
			bp := frameBufs.Get().(*[]byte)
			f, err := sr.NextFrame((*bp)[:0])
			*bp = f.Data
			typ, id := f.Type, f.ID
			if errors.Is(err, io.EOF) {
				frameBufs.Put(bp)
				return nil
			}
			if err != nil {
				frameBufs.Put(bp)
				return err
			}
			if n >= api.MaxMissingBatch {
				frameBufs.Put(bp)
				return fmt.Errorf("%w: more than %d blobs in one stream", api.ErrBlobStream, api.MaxMissingBatch)
			}
			if t := blob.Type(typ); t != blob.Chunk && t != blob.Page {
				frameBufs.Put(bp)
				return fmt.Errorf("%w: blob %x has unknown type %d", api.ErrBlobStream, id, typ)
			}
			select {
			case frames <- blobFrame{typ: blob.Type(typ), codec: f.Codec, raw: f.Raw, id: id, data: bp}:
			case <-gctx.Done():
				frameBufs.Put(bp)
				return gctx.Err()
			}
		}
	})
	// Workers store every frame that arrived whole, even once the stream
	// broke or the sender went away (both cancel contexts): those blobs are
	// checked and a resumed send need not repeat them.
	sctx := context.WithoutCancel(ctx)
	for range max(1, runtime.GOMAXPROCS(0)) {
		g.Go(func() error {
			for f := range frames {
				err := storeFrame(sctx, bw, f, &stored)
				blobs.Add(1)
				bytes.Add(int64(f.raw))
				frameBufs.Put(f.data)
				if err != nil {
					return err // cancels gctx, which stops the reader
				}
			}
			return nil
		})
	}
	err := g.Wait()
	return api.ReplBlobsResult{Blobs: blobs.Load(), Bytes: bytes.Load(), Stored: stored.Load()}, err
}

// storeFrame checks a blob's digest, after decoding a compressed one, and
// stores it.
func storeFrame(ctx context.Context, bw storedWriter, f blobFrame, stored *atomic.Int64) error {
	data := *f.data
	var isNew bool
	var err error
	if f.codec != api.CodecNone {
		// PutStored decodes and checks the ID before it stores anything.
		isNew, err = bw.PutStored(ctx, f.id, cas.Stored{Type: f.typ, Codec: cas.Codec(f.codec), Raw: f.raw, Data: data})
		if errors.Is(err, blob.ErrCorrupt) {
			return err
		}
	} else {
		if blob.Sum(data) != f.id {
			return &blob.Error{ID: f.id, Type: f.typ, Err: fmt.Errorf("received %d bytes: %w", len(data), blob.ErrCorrupt)}
		}
		isNew, err = bw.Put(ctx, f.typ, f.id, data)
	}
	if err != nil {
		return fmt.Errorf("storing received %s %s: %w", f.typ, f.id, err)
	}
	if isNew {
		stored.Add(1)
	}
	return nil
}

package replica

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/zeebo/blake3"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/internal/durable"
)

// IncomingName is where Receive spools a delta stream, in the replica's
// directory: on the replica's file system, so the apply that follows
// reads it at disk speed, and kept there when the stream is cut, so a
// resumed stream only sends the rest.
const IncomingName = "incoming.vmdelta"

// InterruptedError is returned when a stream ends before its trailer
// (or the reader fails, or ctx is cancelled) after its header arrived:
// the bytes are kept, and Token says where a resumed export starts.
type InterruptedError struct {
	Token  delta.ResumeToken
	Header *delta.Header // the stream's header: names the snapshots
	Err    error
}

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("delta stream interrupted at byte %d: %v; the replica is unchanged", e.Token.Offset, e.Err)
}

func (e *InterruptedError) Unwrap() error { return e.Err }

// ReceiveOptions tune Receive.
type ReceiveOptions struct {
	Apply ApplyOptions
	// Progress, when set, is called with the bytes spooled so far.
	Progress func(n int64)
}

// Receive reads a delta stream (a single-file delta, or a resumed one: the
// resume preamble, then the rest) from r into dir/IncomingName, checks the
// whole spooled delta (every checksum, as Open does for a file), and only
// then applies it with Apply. A stream that turns out damaged is removed
// and the replica is left as it was; one that is cut keeps its bytes and
// returns an *InterruptedError with the token to resume from. The replica
// directory's lock is held throughout.
func Receive(ctx context.Context, r io.Reader, dir string, opts ReceiveOptions) (delta.Summary, error) {
	if opts.Apply.FS != nil {
		return delta.Summary{}, errors.New("receive a delta stream: a test file system is not supported")
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return delta.Summary{}, fmt.Errorf("receive a delta stream into %s: not a replica directory", dir)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return delta.Summary{}, err
	}
	defer unlock()
	path := filepath.Join(dir, IncomingName)
	if err := spool(ctx, r, path, opts.Progress); err != nil {
		return delta.Summary{}, err
	}
	rd, err := delta.Open(ctx, path)
	if err != nil {
		os.Remove(path)
		return delta.Summary{}, fmt.Errorf("delta stream is damaged, nothing applied, the replica is unchanged; run the export again: %w", err)
	}
	ao := opts.Apply
	ao.lockHeld = true
	sum, err := Apply(ctx, rd, dir, ao)
	// The spool goes either way: a refused apply (not at the base, a
	// damaged frame, a full disk) is not helped by keeping it, and the same
	// stream sent again carries the same digest, so an apply interrupted
	// after its journal went down still finishes with it.
	os.Remove(path)
	return sum, err
}

// spool writes the stream to path and returns nil once a whole delta has
// arrived (and is on disk); the trailer's checksum is Open's to check.
func spool(ctx context.Context, r io.Reader, path string, progress func(int64)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(len(delta.ResumeMagic))
	if len(head) == 0 && err != nil {
		return fmt.Errorf("receive a delta stream: nothing arrived (%v); the replica is unchanged", err)
	}
	w := &spoolWriter{sum: blake3.New(), progress: progress}
	var src io.Reader = br
	if string(head) == delta.ResumeMagic {
		br.Discard(len(head))
		tok, err := delta.ReadResumePreamble(br)
		if err != nil {
			return fmt.Errorf("receive a resumed delta stream: %w", err)
		}
		part, err := openPartial(path, tok)
		if err != nil {
			return err
		}
		defer part.Close()
		if w.f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0); err != nil {
			return err
		}
		w.skip = tok.Offset
		src = io.MultiReader(part, br)
	} else {
		// A fresh stream: whatever an earlier one left is dropped.
		if w.f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return fmt.Errorf("receive a delta stream: %w", err)
		}
	}
	defer w.f.Close()
	_, scanErr := delta.ScanStream(ctx, io.TeeReader(src, w))
	if w.err != nil {
		return fmt.Errorf("receive a delta stream: spool to %s: %w", path, w.err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("receive a delta stream: spool to %s: %w", path, err)
	}
	if scanErr == nil {
		return durable.SyncDir(filepath.Dir(path))
	}
	if errors.Is(scanErr, delta.ErrFormat) {
		os.Remove(path)
		return fmt.Errorf("delta stream is damaged, nothing applied, the replica is unchanged; run the export again: %w", scanErr)
	}
	h, err := peekHeader(path)
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("delta stream ended after %d bytes, before its header; nothing kept, the replica is unchanged; run the export again: %w", w.n, scanErr)
	}
	var tok delta.ResumeToken
	tok.VGID, tok.Base, tok.Target, tok.Offset = h.VGID, h.Base.ID, h.Target.ID, w.n
	w.sum.Sum(tok.Prefix[:0])
	return &InterruptedError{Token: tok, Header: h, Err: scanErr}
}

// openPartial opens the spooled bytes a resumed stream continues, after
// checking that they are what the token names.
func openPartial(path string, tok delta.ResumeToken) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("receive a resumed delta stream: no interrupted stream to resume here (%v); run the export without --resume", err)
	}
	h := blake3.New()
	n, err := io.Copy(h, f)
	var got blob.ID
	h.Sum(got[:0])
	hd, herr := peekHeader(path)
	switch {
	case err != nil:
	case n != tok.Offset || got != tok.Prefix:
		err = fmt.Errorf("the interrupted stream here holds %d bytes, not the %d the resume token names (an older token?); run the export without --resume", n, tok.Offset)
	case herr != nil || hd.VGID != tok.VGID || hd.Base.ID != tok.Base || hd.Target.ID != tok.Target:
		err = errors.New("the interrupted stream here is of another delta than the resume token's; run the export without --resume")
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("receive a resumed delta stream: %w", err)
	}
	return f, nil
}

func peekHeader(path string) (*delta.Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return delta.ReadStreamHeader(bufio.NewReader(f))
}

// spoolWriter appends what the scanner reads to the spool, past the skip
// bytes a resumed stream re-reads from it, and hashes all of it.
type spoolWriter struct {
	f        *os.File
	skip     int64
	n        int64
	sum      *blake3.Hasher
	err      error
	progress func(int64)
}

func (w *spoolWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	w.sum.Write(p)
	q := p
	if w.skip > w.n {
		q = p[min(int64(len(p)), w.skip-w.n):]
	}
	if len(q) > 0 {
		if _, err := w.f.Write(q); err != nil {
			w.err = err
			return 0, err
		}
	}
	w.n += int64(len(p))
	if w.progress != nil {
		w.progress(w.n)
	}
	return len(p), nil
}

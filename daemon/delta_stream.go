package daemon

import (
	"fmt"
	"net/http"

	"github.com/zeebo/blake3"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/engine/delta/build"
)

// streamDelta answers with the delta between two snapshots as it is
// built, for `vmrep delta export -o -`: nothing is written on the daemon's
// host. With a resume token the delta is built again from its start, its
// first Offset bytes are hashed and compared with the token's, and only
// the rest is sent, after the resume preamble.
func (s *Server) streamDelta(w http.ResponseWriter, r *http.Request) error {
	var req api.DeltaStreamRequest
	if e := decodeBody(w, r, &req); e != nil {
		return e
	}
	base, target, err := s.resolvePair(r, req.Base, req.Target)
	if err != nil {
		return err
	}
	sw := &deltaStreamWriter{w: w}
	if req.Resume != "" {
		tok, err := delta.ParseResumeToken(req.Resume)
		if err != nil {
			return api.Errorf(api.CodeInvalid, "--resume: %v", err)
		}
		if tok.VGID != target.VGID || tok.Base != base.ID || tok.Target != target.ID {
			return api.Errorf(api.CodeInvalid, "--resume: the token is for another delta than %s..%s; export the snapshots it was printed for",
				base.Name(), target.Name())
		}
		sw.tok, sw.prefix = &tok, blake3.New()
	}
	_, err = build.Export(r.Context(), s.store, base, target, delta.WriterSink(sw), build.ExportOptions{})
	if err == nil && !sw.started {
		err = sw.begin() // a token at the very end: only the preamble is left
	}
	if !sw.started {
		if err == nil {
			err = api.Errorf(api.CodeInvalid, "--resume: offset %d is past the delta's end (%d bytes)", sw.tok.Offset, sw.n)
		}
		return err
	}
	if err != nil {
		// The status is sent: the receiver sees a stream without its
		// trailer, and the CLI prints this.
		s.log.Warn("delta stream stopped", "base", base.Name(), "target", target.Name(), "err", err)
		w.Header().Set(http.TrailerPrefix+api.DeltaStreamErrorTrailer, err.Error())
	}
	return nil
}

// deltaStreamWriter sends what the sink writes, past a resume token's
// offset, once the bytes before it hash as the token says.
type deltaStreamWriter struct {
	w       http.ResponseWriter
	tok     *delta.ResumeToken
	prefix  *blake3.Hasher
	n       int64
	started bool
}

func (d *deltaStreamWriter) Write(p []byte) (int, error) {
	total := len(p)
	if !d.started && d.tok != nil {
		k := min(int64(len(p)), d.tok.Offset-d.n)
		d.prefix.Write(p[:k])
		d.n += k
		p = p[k:]
		if d.n < d.tok.Offset {
			return total, nil
		}
	}
	if !d.started {
		if err := d.begin(); err != nil {
			return 0, err
		}
	}
	d.n += int64(len(p))
	if _, err := d.w.Write(p); err != nil {
		return 0, err
	}
	return total, nil
}

// begin checks a resumed stream's prefix and sends the status, the
// trailer's declaration and the preamble.
func (d *deltaStreamWriter) begin() error {
	if d.tok != nil {
		if d.n != d.tok.Offset {
			return nil // not there yet; the caller reports the short delta
		}
		var got blob.ID
		d.prefix.Sum(got[:0])
		if got != d.tok.Prefix {
			return api.Errorf(api.CodeConflict, "--resume: the delta built now differs from the %d bytes the receiver holds; run the export again without --resume",
				d.tok.Offset)
		}
	}
	d.started = true
	h := d.w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Trailer", api.DeltaStreamErrorTrailer)
	d.w.WriteHeader(http.StatusOK)
	if d.tok != nil {
		if _, err := d.w.Write(delta.AppendResumePreamble(nil, *d.tok)); err != nil {
			return fmt.Errorf("send the resume preamble: %w", err)
		}
	}
	return nil
}

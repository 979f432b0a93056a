package daemon

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/client"
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/volume"
)

// maxStreamSend cuts a send into several blob streams, well under the
// server's bound, so a broken connection costs at most one stream.
const maxStreamSend = 1 << 30

// sendBlob is one page or chunk the snapshot names; size is known for
// chunks (the manifest says) and learnt for pages when read.
type sendBlob struct {
	id   blob.ID
	typ  blob.Type
	size int64
}

// replicate starts a job that pushes a snapshot to a replication server:
// this daemon plays the replication plugin of the source environment.
func (s *Server) replicate(w http.ResponseWriter, r *http.Request) error {
	var req api.ReplicateRequest
	if e := decodeBody(w, r, &req); e != nil {
		return e
	}
	vg, sn, err := s.resolveRef(r, "snapshot", req.Snapshot)
	if err != nil {
		return err
	}
	rm, e := newRemote(req)
	if e != nil {
		return e
	}
	return s.startJob(w, r, api.JobReplicate, sn.Name()+" to "+req.To, func(ctx context.Context, j *job) (any, error) {
		return s.runReplicate(ctx, j, rm, vg, sn, req.Materialize)
	}, rm.Close)
}

func (s *Server) runReplicate(ctx context.Context, j *job, rm *client.Client, vg volume.VG, sn volume.Snapshot, materialize string) (any, error) {
	res := api.ReplicateResult{Snapshot: sn.Name(), To: rm.Addr(), VGID: sn.VGID, SnapshotID: sn.ID, Seq: sn.Seq}
	j.progress("vg", 0, 0, "sending volume group "+vg.Name)
	rv := api.ReplVG{ID: vg.ID, Name: vg.Name, Created: vg.Created, NextSeq: vg.NextSeq, Volumes: make([]api.Volume, len(vg.Volumes))}
	for i, v := range vg.Volumes {
		rv.Volumes[i] = api.Volume{ID: v.ID, Name: v.Name, Role: string(v.Role), Size: v.Size, Format: v.Format}
	}
	if err := rm.PutReplVG(ctx, rv); err != nil {
		return nil, err
	}
	blobs, err := s.snapshotBlobs(ctx, j, sn)
	if err != nil {
		return nil, err
	}
	res.Blobs = int64(len(blobs))
	for start := 0; start < len(blobs); start += api.MaxMissingBatch {
		batch := blobs[start:min(start+api.MaxMissingBatch, len(blobs))]
		if err := s.sendBatch(ctx, j, rm, batch, &res); err != nil {
			return nil, err
		}
	}
	j.progress("commit", res.SentBytes, res.SentBytes, fmt.Sprintf("committing %s", sn.Name()))
	sr, err := rm.PutReplSnapshot(ctx, toAPISnapshot(sn))
	if err != nil {
		return nil, err
	}
	res.Committed = sr.Committed
	s.known.pushed(rm.Addr(), sn)
	if materialize != "" {
		j.progress("materialize", 0, 0, "writing the replica on the server")
		rep, err := rm.ReplMaterialize(ctx, api.ReplReplicaRequest{VGID: sn.VGID, Seq: sn.Seq, Dir: materialize})
		if err != nil {
			return nil, err
		}
		res.Replica = &rep
	}
	j.progress("done", res.SentBytes, res.SentBytes, fmt.Sprintf("%d blobs sent, %d skipped", res.SentBlobs, res.SkippedBlobs))
	return res, nil
}

// snapshotBlobs lists every distinct chunk and page of sn's manifests,
// leaves before the pages that name them and top pages last.
func (s *Server) snapshotBlobs(ctx context.Context, j *job, sn volume.Snapshot) ([]sendBlob, error) {
	seen := make(map[blob.ID]bool)
	var out []sendBlob
	add := func(b sendBlob) {
		if !seen[b.id] {
			seen[b.id] = true
			out = append(out, b)
		}
	}
	var p volume.Page
	var buf []byte
	for vi, v := range sn.Volumes {
		m, err := volume.LoadManifest(ctx, s.store, v.Manifest)
		if err != nil {
			return nil, fmt.Errorf("replicate %s volume %q: %w", sn.Name(), v.Name, err)
		}
		for i, ref := range m.Pages {
			if seen[ref.ID] {
				continue
			}
			if buf, err = m.LoadPageInto(ctx, s.store, i, &p, buf); err != nil {
				return nil, fmt.Errorf("replicate %s volume %q: %w", sn.Name(), v.Name, err)
			}
			for _, e := range p.Entries {
				if !e.Hole {
					add(sendBlob{id: e.ID, typ: blob.Chunk, size: e.Length})
				}
			}
			add(sendBlob{id: ref.ID, typ: blob.Page})
			j.progress("scan", int64(vi), int64(len(sn.Volumes)), fmt.Sprintf("volume %s: %d blobs", v.Name, len(out)))
		}
		add(sendBlob{id: m.ID, typ: blob.Page})
	}
	return out, nil
}

// sendBatch asks the server which blobs of batch it lacks and streams
// those, read (and verified) from the local store.
func (s *Server) sendBatch(ctx context.Context, j *job, rm *client.Client, batch []sendBlob, res *api.ReplicateResult) error {
	ids := make([]byte, 0, len(batch)*32)
	for _, b := range batch {
		ids = append(ids, b.id[:]...)
	}
	mr, err := rm.ReplMissing(ctx, ids)
	if err != nil {
		return err
	}
	var want []sendBlob
	var total int64
	for _, i := range mr.Missing {
		if i < 0 || i >= len(batch) {
			return fmt.Errorf("replication server %s: missing index %d outside the batch of %d", rm.Addr(), i, len(batch))
		}
		want = append(want, batch[i])
		total += batch[i].size
	}
	res.SkippedBlobs += int64(len(batch) - len(want))
	total += res.SentBytes
	for len(want) > 0 {
		n, err := s.sendStream(ctx, j, rm, want, total, res)
		if err != nil {
			return err
		}
		want = want[n:]
	}
	return nil
}

// sendStream streams blobs from the head of want until the stream reaches
// maxStreamSend bytes, and returns how many it sent.
func (s *Server) sendStream(ctx context.Context, j *job, rm *client.Client, want []sendBlob, total int64, res *api.ReplicateResult) (int, error) {
	pr, pw := io.Pipe()
	sent := 0
	var sentBytes, wire int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		frame := api.AppendBlobStreamPrefix(nil)
		var buf []byte
		var err error
		for _, b := range want {
			if wire >= maxStreamSend {
				break
			}
			if buf, err = s.store.Get(ctx, b.id, buf[:0]); err != nil {
				pw.CloseWithError(fmt.Errorf("reading %s %s to send: %w", b.typ, b.id, err))
				return
			}
			frame = api.AppendBlobFrame(frame, uint8(b.typ), b.id, buf)
			if _, err = pw.Write(frame); err != nil {
				pw.CloseWithError(err)
				return
			}
			wire += int64(len(frame))
			frame = frame[:0]
			sent++
			sentBytes += int64(len(buf))
			n := res.SentBytes + sentBytes
			j.progress("send", n, max(total, n), fmt.Sprintf("%d blobs sent, %d skipped", res.SentBlobs+int64(sent), res.SkippedBlobs))
		}
		_, err = pw.Write(api.AppendBlobStreamEnd(frame))
		wire += int64(len(frame)) + 1
		pw.CloseWithError(err)
	}()
	br, err := rm.ReplBlobs(ctx, pr)
	pr.CloseWithError(io.ErrClosedPipe) // ends the writer if the request failed early
	<-done
	if err != nil {
		return 0, err
	}
	if br.Blobs != int64(sent) {
		return 0, fmt.Errorf("replication server %s stored %d blobs of the %d sent", rm.Addr(), br.Blobs, sent)
	}
	res.SentBlobs += int64(sent)
	res.SentBytes += sentBytes
	res.WireBytes += wire
	return sent, nil
}

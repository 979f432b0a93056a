package daemon

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/client"
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/bandwidth"
)

// maxStreamSend cuts a send into several blob streams, well under the
// server's bound. The server flushes what a stream brought when it ends,
// cut or not, and seals full packs as they fill, so a broken connection or
// a killed server costs at most the tail of one stream.
const maxStreamSend = 256 << 20

// sendBlob is one page or chunk the snapshot names; size is known for
// chunks (the manifest says) and learnt for pages when read.
type sendBlob struct {
	id   blob.ID
	typ  blob.Type
	size int64
	// plain, in a sealed send, is the chunk whose sealed form id is; data
	// is a sealed send's page, which lies in no store.
	plain blob.ID
	data  []byte
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
	opts, e := replicateOptions(req)
	if e != nil {
		return e
	}
	rm, e := newRemote(req)
	if e != nil {
		return e
	}
	return s.startJob(w, r, api.JobReplicate, sn.Name()+" to "+req.To, func(ctx context.Context, j *job) (any, error) {
		res, err := s.runReplicate(ctx, j, rm, vg, sn, opts)
		if err != nil {
			return nil, err
		}
		return res, nil
	}, rm.Close)
}

// runReplicate sends snapshot sn of vg to the server rm, as job j: the VG
// record, the blobs the server lacks (in their stored form, through the
// options' limiter), then the snapshot record. A run cut at any moment
// can simply be run again: the server keeps the blobs it checked, answers
// only the missing ones, and commits the record only once all are durable.
func (s *Server) runReplicate(ctx context.Context, j *job, rm *client.Client, vg volume.VG, sn volume.Snapshot, opts ReplicateOptions) (api.ReplicateResult, error) {
	res := api.ReplicateResult{Snapshot: sn.Name(), To: rm.Addr(), VGID: sn.VGID, SnapshotID: sn.ID, Seq: sn.Seq}
	tx := &transfer{lim: opts.limiter(), streamBytes: opts.StreamBytes}
	if tx.streamBytes <= 0 {
		tx.streamBytes = maxStreamSend
	}
	if tx.lim != nil {
		res.Limit = tx.lim.Rate().String()
	}
	materialize := opts.Materialize
	rm.SetSource(s.store.Config().ID)
	j.progress("vg", 0, 0, "sending volume group "+vg.Name)
	rv := api.ReplVG{ID: vg.ID, Name: vg.Name, Created: vg.Created, NextSeq: vg.NextSeq, Volumes: make([]api.Volume, len(vg.Volumes))}
	if opts.Seal != nil {
		rv.Sealed, rv.Seq = opts.Seal.Fingerprint(), sn.Seq
	}
	for i, v := range vg.Volumes {
		rv.Volumes[i] = api.Volume{ID: v.ID, Name: v.Name, Role: string(v.Role), Size: v.Size, Format: v.Format}
	}
	// The server refuses here, before any chunk leaves, a send that does
	// not match how it holds the VG (checkSealedSend).
	if _, err := rm.PutReplVG(ctx, rv); err != nil {
		return res, err
	}
	sent := sn
	if opts.Seal != nil {
		var err error
		if sent, err = s.sendSealed(ctx, j, rm, tx, sn, opts.Seal, &res); err != nil {
			return res, err
		}
	} else if err := s.sendPlain(ctx, j, rm, tx, sn, &res); err != nil {
		return res, err
	}
	j.progress("commit", res.SentBytes, res.SentBytes, fmt.Sprintf("committing %s", sn.Name()))
	sr, err := rm.PutReplSnapshot(ctx, toAPISnapshot(sent))
	if err != nil {
		return res, err
	}
	res.Committed = sr.Committed
	s.known.pushed(rm.Addr(), sn, s.clock.Now())
	s.sched.checkRPOVG(sn.VGID)
	s.lagHistory().poke() // the lag chart shows the drop at once
	if materialize != "" {
		j.progress("materialize", 0, 0, "writing the replica on the server")
		req := api.ReplReplicaRequest{VGID: sn.VGID, Seq: sn.Seq, Dir: materialize, Devices: opts.Devices}
		if opts.Seal != nil {
			req.SourceKey, req.SealedFor = opts.sourceKey, opts.EncryptFor
		}
		rep, err := rm.ReplMaterialize(ctx, req)
		if err != nil {
			return res, err
		}
		res.Replica = &rep
	}
	j.progress("done", res.SentBytes, res.SentBytes, sendMessage(&res, res.SentBlobs, res.SentBytes, res.WireBytes))
	return res, nil
}

// sendPlain sends every blob of sn's manifests the server lacks, as the
// store holds them.
func (s *Server) sendPlain(ctx context.Context, j *job, rm *client.Client, tx *transfer, sn volume.Snapshot, res *api.ReplicateResult) error {
	blobs, err := s.snapshotBlobs(ctx, j, sn)
	if err != nil {
		return err
	}
	res.Blobs = int64(len(blobs))
	for start := 0; start < len(blobs); start += api.MaxMissingBatch {
		batch := blobs[start:min(start+api.MaxMissingBatch, len(blobs))]
		if err := s.sendBatch(ctx, j, rm, tx, batch, res); err != nil {
			return err
		}
	}
	return nil
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

// transfer is what the blob streams of one run share.
type transfer struct {
	lim         *bandwidth.Limiter
	streamBytes int64
	// read gives a blob's stored form; nil reads the store as it is.
	read func(ctx context.Context, b sendBlob, buf []byte) (cas.Stored, error)
}

// sendMessage is the progress line of a send: blobs and logical bytes so
// far beside the bytes they took on the wire.
func sendMessage(res *api.ReplicateResult, blobs, logical, wire int64) string {
	return fmt.Sprintf("%d blobs sent (%d bytes, %d on the wire), %d skipped", blobs, logical, wire, res.SkippedBlobs)
}

// sendBatch asks the server which blobs of batch it lacks and streams
// those, read (and verified) from the local store.
func (s *Server) sendBatch(ctx context.Context, j *job, rm *client.Client, tx *transfer, batch []sendBlob, res *api.ReplicateResult) error {
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
		n, err := s.sendStream(ctx, j, rm, tx, want, total, res)
		if err != nil {
			return err
		}
		want = want[n:]
	}
	return nil
}

// sendStream streams blobs from the head of want, each in its stored
// (compressed) form, until the stream reaches the transfer's stream bound,
// and returns how many it sent. The limiter paces the stream's bytes as
// the HTTP request reads them.
func (s *Server) sendStream(ctx context.Context, j *job, rm *client.Client, tx *transfer, want []sendBlob, total int64, res *api.ReplicateResult) (int, error) {
	pr, pw := io.Pipe()
	sent := 0
	var sentBytes, wire int64
	done := make(chan struct{})
	wireC, logicalC := s.metrics.replWire.WithLabelValues(rm.Addr()), s.metrics.replLogical.WithLabelValues(rm.Addr())
	go func() {
		defer close(done)
		frame := api.AppendStoredStreamPrefix(nil)
		var buf []byte
		for _, b := range want {
			if wire >= tx.streamBytes {
				break
			}
			var st cas.Stored
			var err error
			if tx.read != nil {
				st, err = tx.read(ctx, b, buf[:0])
			} else {
				st, err = s.store.GetStored(ctx, b.id, buf[:0])
			}
			if err != nil {
				pw.CloseWithError(fmt.Errorf("reading %s %s to send: %w", b.typ, b.id, err))
				return
			}
			buf = st.Data
			frame = api.AppendStoredFrame(frame, api.BlobFrame{Type: uint8(b.typ), Codec: uint8(st.Codec), ID: b.id, Raw: st.Raw, Data: st.Data})
			if _, err = pw.Write(frame); err != nil {
				pw.CloseWithError(err)
				return
			}
			wire += int64(len(frame))
			wireC.Add(float64(len(frame)))
			logicalC.Add(float64(st.Raw))
			frame = frame[:0]
			sent++
			sentBytes += int64(st.Raw)
			n := res.SentBytes + sentBytes
			j.progress("send", n, max(total, n), sendMessage(res, res.SentBlobs+int64(sent), n, res.WireBytes+wire))
		}
		_, err := pw.Write(api.AppendBlobStreamEnd(frame))
		wire += int64(len(frame)) + 1
		wireC.Add(float64(len(frame)) + 1)
		pw.CloseWithError(err)
	}()
	br, err := rm.ReplBlobs(ctx, tx.lim.Reader(ctx, pr))
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

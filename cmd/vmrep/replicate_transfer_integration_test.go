package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/internal/cutproxy"
	"github.com/vmrep/vmrep/internal/reliability"

	"github.com/klauspost/compress/zstd"
)

// compressibleImage writes size bytes of text-like data: words drawn at
// random, which zstd shrinks several times over.
func compressibleImage(t *testing.T, path string, size int64, seed uint64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(compressibleBytes(rand.New(rand.NewPCG(seed, 7)), int(size))); err != nil {
		t.Fatal(err)
	}
}

func compressibleBytes(r *rand.Rand, n int) []byte {
	words := []string{"volume ", "group ", "snapshot ", "replica ", "chunk ", "page ", "server ", "delta ", "\n"}
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		fmt.Fprintf(&b, "%d ", r.IntN(1000))
	}
	return b.Bytes()[:n]
}

// TestReplicateCompressed: blobs travel compressed, the second replication
// of a changed VG sends only the changed chunks, and bytes on the wire are
// reported beside the logical bytes, below them for compressible data.
func TestReplicateCompressed(t *testing.T) {
	src := newDaemon(t)
	pki := newReplPKI(t, t.TempDir())
	srv, addr := newReplServer(t, pki)
	boot, data := filepath.Join(src.dir, "boot.img"), filepath.Join(src.dir, "data.img")
	compressibleImage(t, boot, 4<<20, 1)
	compressibleImage(t, data, 16<<20, 2)
	src.ok("vg", "create", "web", "--boot", boot, "--data", "db="+data)
	src.ok("snapshot", "create", "web")
	base := []string{"replicate", "web@1", "--to", addr, "--token-file", pki.tokenFile, "--ca", pki.caFile}

	t.Run("bad --limit", func(t *testing.T) {
		for _, bad := range []string{"10Mb", "0", "fast", "-5Mbit", "200 parsecs"} {
			r := src.vmrep(append(base, "--limit", bad)...)
			if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "--limit") {
				t.Errorf("--limit %q: exit %d, stderr %q", bad, r.code, r.stderr)
			}
		}
		if snaps, err := srv.client(t).ListSnapshots(t.Context(), "web"); err == nil && len(snaps) != 0 {
			t.Fatalf("a refused --limit sent something: %+v", snaps)
		}
	})

	t.Run("compressed blob not matching its id", func(t *testing.T) {
		raw := newReplRaw(t, pki, addr)
		good, bad := compressibleBytes(rand.New(rand.NewPCG(1, 1)), 64<<10), compressibleBytes(rand.New(rand.NewPCG(2, 2)), 64<<10)
		enc, err := zstd.NewWriter(nil)
		if err != nil {
			t.Fatal(err)
		}
		for name, f := range map[string]api.BlobFrame{
			"other bytes": {Type: uint8(blob.Chunk), Codec: api.CodecZstd, ID: blob.Sum(good), Raw: uint32(len(bad)), Data: enc.EncodeAll(bad, nil)},
			"not zstd":    {Type: uint8(blob.Chunk), Codec: api.CodecZstd, ID: blob.Sum(good), Raw: uint32(len(good)), Data: good[:1000]},
			"wrong raw":   {Type: uint8(blob.Chunk), Codec: api.CodecZstd, ID: blob.Sum(good), Raw: uint32(len(good) - 1), Data: enc.EncodeAll(good, nil)},
		} {
			stream := api.AppendBlobStreamEnd(api.AppendStoredFrame(api.AppendStoredStreamPrefix(nil), f))
			if code, e := raw.post(api.ReplBlobsPath, stream); code != http.StatusBadRequest || e.Code != api.CodeInvalid {
				t.Errorf("%s: %d %+v", name, code, e)
			}
		}
		if m := raw.missing(blob.Sum(good), blob.Sum(bad)); len(m) != 2 {
			t.Fatalf("a refused blob was stored: missing %v", m)
		}
		// The same blob, well formed, is taken.
		f := api.BlobFrame{Type: uint8(blob.Chunk), Codec: api.CodecZstd, ID: blob.Sum(good), Raw: uint32(len(good)), Data: enc.EncodeAll(good, nil)}
		if code, e := raw.post(api.ReplBlobsPath, api.AppendBlobStreamEnd(api.AppendStoredFrame(api.AppendStoredStreamPrefix(nil), f))); code != http.StatusOK {
			t.Fatalf("good compressed frame: %d %+v", code, e)
		}
		if m := raw.missing(blob.Sum(good)); len(m) != 0 {
			t.Fatalf("good compressed frame not stored")
		}
	})

	var r1 api.ReplicateResult
	src.okJSONResult(&r1, append(base, "--limit", "2Gbit")...)
	if !r1.Committed || r1.SentBytes < 20<<20 || r1.WireBytes <= 0 || r1.WireBytes*2 > r1.SentBytes || r1.Limit != "2Gbit/s" {
		t.Fatalf("first replication: %+v", r1)
	}

	rng := rand.New(rand.NewPCG(5, 5))
	patchFile(t, data, 6<<20, compressibleBytes(rng, 1<<20))
	src.ok("snapshot", "create", "web")
	out := src.ok("replicate", "web@2", "--to", addr, "--token-file", pki.tokenFile, "--ca", pki.caFile)
	if !strings.Contains(out, "on the wire") {
		t.Errorf("replicate does not report the bytes on the wire: %q", out)
	}
	var r2 api.ReplicateResult
	src.okJSONResult(&r2, "replicate", "web@2", "--to", addr, "--token-file", pki.tokenFile, "--ca", pki.caFile)
	if r2.Committed || r2.SentBlobs != 0 || r2.WireBytes != 0 {
		t.Fatalf("third run sent again: %+v", r2)
	}
	// Now the figures of a changed run, as JSON.
	patchFile(t, data, 11<<20, compressibleBytes(rng, 1<<20))
	src.ok("snapshot", "create", "web")
	var r3 api.ReplicateResult
	src.okJSONResult(&r3, "replicate", "web@3", "--to", addr, "--token-file", pki.tokenFile, "--ca", pki.caFile)
	// 1 MiB changed: the chunks around it and the pages that name them
	// travel, never the whole image; compressed, the wire carries less.
	if !r3.Committed || r3.SkippedBlobs == 0 || r3.SentBytes < 1<<20 || r3.SentBytes > 3<<20 ||
		r3.WireBytes >= r3.SentBytes || r3.WireBytes*2 > r3.SentBytes {
		t.Fatalf("changed replication: %+v", r3)
	}
	t.Logf("first: %d logical, %d on the wire; changed: %d logical, %d on the wire",
		r1.SentBytes, r1.WireBytes, r3.SentBytes, r3.WireBytes)
	for _, seq := range []string{"2", "3"} {
		restored := filepath.Join(srv.dir, "db"+seq+".img")
		srv.ok("restore", "web@"+seq, "--volume", "db", "-o", restored)
		if seq == "3" {
			sameFile(t, restored, data)
		}
	}
	restored := filepath.Join(srv.dir, "boot.img")
	srv.ok("restore", "web@3", "--volume", "boot", "-o", restored)
	sameFile(t, restored, boot)
	var vr api.VerifyResult
	srv.okJSONResult(&vr, "verify", "--read-data")
	if len(vr.Problems) != 0 {
		t.Fatalf("server store: %v", vr.Problems)
	}
}

// TestReplicateResumesAfterCuts cuts replications at random moments (the
// connection dropped after a random number of bytes, or the server killed
// there), checks after each cut that the server lists no snapshot whose
// blobs it lacks, then runs again: the rerun sends only what the server
// did not keep, and the server's copy is byte-identical to the source.
// `make reliability` makes 20 cuts, a plain run 4; one in four kills the
// server instead of dropping the connection.
func TestReliabilityReplicateCuts(t *testing.T) {
	cuts := reliability.Size(4, 20)
	rr := reliability.Start(t, "replication cuts", "cut a replication at a random byte (connection dropped, or the server "+
		"SIGKILLed there), check the server lists no snapshot whose blobs it lacks, rerun, compare the server's copy byte for byte")
	rr.Size = fmt.Sprintf("%d cuts", cuts)
	rr.Bad["snapshots listed without their blobs"] = 0
	rr.Bad["differing copies"] = 0
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 15))
	src := newDaemon(t)
	pki := newReplPKI(t, t.TempDir())
	srv, addr := newReplServer(t, pki)
	const size, change = 24 << 20, 4 << 20
	boot, data := filepath.Join(src.dir, "boot.img"), filepath.Join(src.dir, "data.img")
	writeImage(t, boot, 2<<20, 3)
	if err := os.WriteFile(data, randomBytes(rng, size), 0o644); err != nil {
		t.Fatal(err)
	}
	src.ok("vg", "create", "web", "--boot", boot, "--data", "db="+data)
	src.ok("snapshot", "create", "web")
	push := func(to, ref string) result {
		return src.vmrep("replicate", ref, "--to", to, "--token-file", pki.tokenFile, "--ca", pki.caFile, "--json")
	}
	var r api.ReplicateResult
	src.okJSONResult(&r, "replicate", "web@1", "--to", addr, "--token-file", pki.tokenFile, "--ca", pki.caFile)

	proxy := cutproxy.New(t, addr)
	var saved int64
	resumed := 0
	for i := range cuts {
		seq := fmt.Sprint(i + 2)
		off := rng.Int64N((size-change)/4096) * 4096
		patchFile(t, data, off, randomBytes(rng, change))
		src.ok("snapshot", "create", "web")
		want := filepath.Join(src.dir, "want.img")
		copyFile(t, data, want)

		// A change of 4 MiB sends at most 4 MiB, the chunks on either
		// edge (256 KiB at most each) and a few pages.
		budget := 1 + rng.Int64N(change+change/4)
		kill := i%4 == 2
		var onCut func()
		if kill {
			onCut = func() { srv.kill() }
		}
		proxy.Arm(budget, onCut)
		cutRun := push(proxy.Addr(), "web@"+seq)
		cut := proxy.Disarm(addr)
		if kill && cut {
			srv.start()
			addr = replAddr(t, srv)
			proxy.Disarm(addr)
		}
		// A cut may also come after the run, on a connection left open.
		failed := cutRun.code != 0
		if failed && (!cut || cutRun.code != 1) {
			t.Fatalf("run %d (cut=%v after %d bytes): exit %d, stderr %q", i, cut, budget, cutRun.code, cutRun.stderr)
		}
		// The server lists no snapshot whose pages and chunks it lacks.
		var vr api.VerifyResult
		srv.okJSONResult(&vr, "verify")
		if len(vr.Problems) != 0 {
			rr.Bad["snapshots listed without their blobs"]++
			t.Fatalf("after cut %d (%d bytes, kill=%v): %v", i, budget, kill, vr.Problems)
		}
		snaps, err := srv.client(t).ListSnapshots(t.Context(), "web")
		if err != nil {
			t.Fatal(err)
		}
		if n := len(snaps); n != i+2 && !(failed && n == i+1) {
			t.Fatalf("after cut %d the server lists %d snapshots", i, n)
		}

		var again api.ReplicateResult
		src.okJSONResult(&again, "replicate", "web@"+seq, "--to", proxy.Addr(), "--token-file", pki.tokenFile, "--ca", pki.caFile)
		// What reached the server before the connection was cut, less the
		// handshakes and requests before the stream (64 KiB), the blob cut
		// in half (256 KiB) and a TLS record, stays there: the rerun does
		// not send it. A killed server keeps what it made durable (full
		// packs, and a flush every few seconds), so its rerun sends at
		// most the change.
		bound := int64(change+1<<20) - (budget - 400<<10)
		if kill {
			bound = change + 1<<20
		}
		if failed && again.SentBytes > bound {
			t.Fatalf("cut %d after %d bytes (kill=%v): the rerun sent %d bytes, more than %d", i, budget, kill, again.SentBytes, bound)
		}
		if failed {
			resumed++
			saved += max(0, change-again.SentBytes)
		}
		t.Logf("round %d: failed=%v kill=%v after %d bytes; rerun sent %d bytes (%d blobs), skipped %d blobs",
			i, cut, kill, budget, again.SentBytes, again.SentBlobs, again.SkippedBlobs)
		got := filepath.Join(srv.dir, "got.img")
		srv.ok("restore", "web@"+seq, "--volume", "db", "-o", got)
		if err := sameBytes(got, want); err != nil {
			rr.Bad["differing copies"]++
			t.Fatalf("round %d: the server's web@%s: %v", i, seq, err)
		}
		os.Remove(got)
	}
	srv.ok("restore", "web@"+fmt.Sprint(cuts+1), "--volume", "boot", "-o", filepath.Join(srv.dir, "boot.img"))
	sameFile(t, filepath.Join(srv.dir, "boot.img"), boot)
	rr.Figures["failed runs resumed"] = fmt.Sprint(resumed)
	rr.Figures["bytes the reruns did not send again"] = fmt.Sprint(saved)
	t.Logf("%d runs resumed; reruns skipped about %d bytes that reached the server before a cut", resumed, saved)
}

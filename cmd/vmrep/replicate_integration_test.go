package main

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/client"
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas/castest"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/testdisk"
)

// replSetup is a source daemon with VG web at snapshot 1 (an ext4 boot
// image and a raw data image) and a replication server.
type replSetup struct {
	src, srv   *testDaemon
	addr       string
	pki        replPKI
	root       string // the server's replica root
	boot, data string
}

func newReplSetup(t *testing.T) *replSetup {
	t.Helper()
	testdisk.Need(t, "mkfs.ext4", "debugfs")
	s := &replSetup{src: newDaemon(t)}
	s.pki = newReplPKI(t, t.TempDir())
	s.root = filepath.Join(t.TempDir(), "replicas")
	s.srv, s.addr = newReplServer(t, s.pki, "--replica-root", s.root)
	tree := filepath.Join(s.src.dir, "tree")
	if _, err := testdisk.Tree(tree, testdisk.TreeSpec{Seed: 1, Files: 60, Bytes: 10 << 20}); err != nil {
		t.Fatal(err)
	}
	s.boot = filepath.Join(s.src.dir, "web-boot.img")
	s.data = filepath.Join(s.src.dir, "web-data.img")
	if err := testdisk.Ext4(context.Background(), s.boot, tree, 32); err != nil {
		t.Fatal(err)
	}
	writeImage(t, s.data, 12<<20+4096*3, 7) // not a multiple of 64 KiB
	s.src.ok("vg", "create", "web", "--boot", s.boot, "--data", "db="+s.data)
	s.src.ok("snapshot", "create", "web")
	return s
}

// replicate runs vmrep replicate with the right token and CA.
func (s *replSetup) replicate(ref string, extra ...string) api.ReplicateResult {
	var r api.ReplicateResult
	s.src.okJSONResult(&r, append([]string{"replicate", ref, "--to", s.addr, "--token-file", s.pki.tokenFile, "--ca", s.pki.caFile}, extra...)...)
	return r
}

func TestReplicate(t *testing.T) {
	s := newReplSetup(t)
	ctx := context.Background()
	boot1, data1 := filepath.Join(s.src.dir, "boot1.img"), filepath.Join(s.src.dir, "data1.img")
	copyFile(t, s.boot, boot1)
	copyFile(t, s.data, data1)

	r1 := s.replicate("web@1", "--materialize", "web")
	if !r1.Committed || r1.SentBlobs != r1.Blobs || r1.SkippedBlobs != 0 || r1.SentBytes == 0 {
		t.Fatalf("first replication: %+v", r1)
	}
	srcVG, err := s.src.client(t).GetVG(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	srvVG, err := s.srv.client(t).GetVG(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if srvVG.ID != srcVG.ID || len(srvVG.Volumes) != len(srcVG.Volumes) {
		t.Fatalf("server VG %+v, source VG %+v", srvVG, srcVG)
	}
	for i, v := range srcVG.Volumes {
		if w := srvVG.Volumes[i]; w.ID != v.ID || w.Name != v.Name || w.Role != v.Role || w.Size != v.Size || w.Source != "" {
			t.Errorf("volume %d: server has %+v, source %+v", i, w, v)
		}
	}
	sameSnapshot(t, s, "1")
	vol := map[string]string{}
	for _, v := range srcVG.Volumes {
		vol[v.Name] = v.ID
	}
	out := filepath.Join(s.srv.dir, "restored-boot.img")
	s.srv.ok("restore", "web@1", "--volume", "boot", "-o", out)
	sameFile(t, out, boot1)
	sameFile(t, filepath.Join(s.root, "web", vol["boot"]+".img"), boot1)
	sameFile(t, filepath.Join(s.root, "web", vol["db"]+".img"), data1)

	// Change one file inside the ext4 image and 256 KiB of the data image.
	newFile := filepath.Join(s.src.dir, "new.bin")
	rng := rand.New(rand.NewPCG(9, 9))
	if err := os.WriteFile(newFile, testdisk.Content(rng, 0, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := testdisk.Debugfs(ctx, s.boot, "write "+newFile+" added.bin"); err != nil {
		t.Fatal(err)
	}
	patch := testdisk.Content(rng, 0, 256<<10)
	f, err := os.OpenFile(s.data, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(patch, 2<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s.src.ok("snapshot", "create", "web")

	r2 := s.replicate("web@2", "--materialize", "web")
	// 1.25 MiB changed: chunk boundaries around the edits add a few chunks,
	// metadata blocks of the file system a few more, never the whole image.
	if !r2.Committed || r2.SkippedBlobs == 0 || r2.SentBytes < 1<<20 || r2.SentBytes > 4<<20 || r2.SentBytes*3 > r1.SentBytes {
		t.Fatalf("second replication sent %d bytes in %d blobs, skipped %d (first sent %d): %+v",
			r2.SentBytes, r2.SentBlobs, r2.SkippedBlobs, r1.SentBytes, r2)
	}
	t.Logf("first: %+v\nsecond: %+v", r1, r2)
	sameSnapshot(t, s, "2")
	sameFile(t, filepath.Join(s.root, "web", vol["boot"]+".img"), s.boot)
	sameFile(t, filepath.Join(s.root, "web", vol["db"]+".img"), s.data)
	s.srv.ok("restore", "web@2", "--volume", "db", "-o", out)
	sameFile(t, out, s.data)
	if !strings.Contains(s.srv.log.String(), `how=delta`) {
		t.Errorf("the second materialize did not apply a delta:\n%s", s.srv.log)
	}

	r3 := s.replicate("web@2")
	if r3.Committed || r3.SentBlobs != 0 || r3.SentBytes != 0 || r3.WireBytes != 0 || r3.SkippedBlobs != r3.Blobs {
		t.Fatalf("replicating again sent something: %+v", r3)
	}
	// The server's store is whole: verify with data.
	s.srv.ok("verify", "--read-data")
}

// sameSnapshot checks the server holds snapshot seq of web exactly as the
// source does: same ID, sequence, parent and manifests.
func sameSnapshot(t *testing.T, s *replSetup, seq string) {
	t.Helper()
	a, err := s.src.client(t).GetSnapshot(context.Background(), "web", seq)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.srv.client(t).GetSnapshot(context.Background(), "web", seq)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != b.ID || a.Seq != b.Seq || a.Parent != b.Parent || a.VGID != b.VGID || len(a.Volumes) != len(b.Volumes) {
		t.Fatalf("server snapshot %+v, source %+v", b, a)
	}
	for i := range a.Volumes {
		if a.Volumes[i].Manifest != b.Volumes[i].Manifest || a.Volumes[i].VolumeID != b.Volumes[i].VolumeID {
			t.Errorf("volume %d: server %+v, source %+v", i, b.Volumes[i], a.Volumes[i])
		}
	}
}

func TestReplicateRefusals(t *testing.T) {
	s := newReplSetup(t)
	ctx := context.Background()
	srvCl := s.srv.client(t)

	t.Run("wrong token", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad-token")
		os.WriteFile(bad, []byte("not-the-right-token-at-all\n"), 0o600)
		r := s.src.vmrep("replicate", "web@1", "--to", s.addr, "--token-file", bad, "--ca", s.pki.caFile)
		if r.code != 1 || !strings.Contains(r.stderr, "token") {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
		if !strings.Contains(s.srv.log.String(), "refused replication request: bad or missing bearer token") {
			t.Errorf("refusal not logged:\n%s", s.srv.log)
		}
		raw := newReplRaw(t, s.pki, s.addr)
		raw.token = ""
		if code, e := raw.postJSON(api.ReplVGsPath, api.ReplVG{}); code != http.StatusUnauthorized || e.Code != api.CodeUnauthorized {
			t.Errorf("no token: %d %+v", code, e)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		r := s.src.vmrep("replicate", "web@1", "--to", s.addr, "--token-file", s.pki.tokenFile)
		if r.code != 1 || !strings.Contains(r.stderr, "certificate") {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
	t.Run("plain http", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+api.ReplVGsPath, strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+s.pki.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("plain HTTP: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "HTTPS") {
			t.Fatalf("plain HTTP answered %s: %s", resp.Status, b)
		}
	})
	if vgs, err := srvCl.ListVGs(ctx); err != nil || len(vgs) != 0 {
		t.Fatalf("refused requests changed the server's catalog: %+v %v", vgs, err)
	}
	t.Run("admin API not on TCP", func(t *testing.T) {
		raw := newReplRaw(t, s.pki, s.addr)
		if code, _ := raw.post("/v1/vgs", nil); code != http.StatusNotFound {
			t.Errorf("POST /v1/vgs on the replication port: %d", code)
		}
	})

	s.replicate("web@1")
	raw := newReplRaw(t, s.pki, s.addr)
	raw.source = storeID(t, s.src) // the snapshot below is one of the source's VG
	t.Run("blob not matching its id", func(t *testing.T) {
		good, bad := []byte("what the id names"), []byte("what was sent instead")
		stream := api.AppendBlobStreamPrefix(nil)
		stream = api.AppendBlobFrame(stream, uint8(blob.Chunk), blob.Sum(good), bad)
		code, e := raw.post(api.ReplBlobsPath, api.AppendBlobStreamEnd(stream))
		if code != http.StatusBadRequest || !strings.Contains(e.Message, "does not match") {
			t.Fatalf("mismatched blob: %d %+v", code, e)
		}
		if m := raw.missing(blob.Sum(good), blob.Sum(bad)); len(m) != 2 {
			t.Fatalf("a refused blob was stored: missing %v", m)
		}
	})
	t.Run("snapshot naming a missing chunk", func(t *testing.T) { refuseSnapshotMissingChunk(t, srvCl, raw) })
	t.Run("materialize outside the root", func(t *testing.T) {
		code, e := raw.postJSON(api.ReplReplicasPath, api.ReplReplicaRequest{VGID: "x", Seq: 1, Dir: "../escape"})
		if code != http.StatusBadRequest {
			t.Fatalf("dir ../escape: %d %+v", code, e)
		}
	})
}

// refuseSnapshotMissingChunk sends the pages of a manifest, but not the
// chunk it names, then a snapshot of it: the server must refuse the
// snapshot, naming the chunk, and keep its catalog as it was.
func refuseSnapshotMissingChunk(t *testing.T, srvCl *client.Client, raw *replRaw) {
	ctx := context.Background()
	vg, err := srvCl.GetVG(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	chunk := testdisk.Content(rand.New(rand.NewPCG(3, 3)), 0, 64<<10)
	mem := castest.NewMemStore()
	mw := volume.NewManifestWriter(mem)
	if err := mw.Add(ctx, volume.Entry{ID: blob.Sum(chunk), Length: int64(len(chunk))}); err != nil {
		t.Fatal(err)
	}
	info, err := mw.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stream := api.AppendBlobStreamPrefix(nil)
	for id, b := range mem.All() { // the pages, not the chunk
		stream = api.AppendBlobFrame(stream, uint8(blob.Page), id, b)
	}
	if code, e := raw.post(api.ReplBlobsPath, api.AppendBlobStreamEnd(stream)); code != http.StatusOK {
		t.Fatalf("pages: %d %+v", code, e)
	}
	boot := vg.Volumes[0]
	for _, v := range vg.Volumes {
		if v.Role == api.RoleBoot {
			boot = v
		}
	}
	sn := api.Snapshot{ID: "snap-00000000000000aa", VGID: vg.ID, VGName: "web", Seq: 7, Created: time.Now().UTC(),
		Volumes: []api.VolumeSnapshot{{VolumeID: boot.ID, Name: boot.Name, Role: api.RoleBoot, Size: info.Size,
			Manifest: info.ID.String(), DataBytes: info.DataBytes, Chunks: info.Chunks}}}
	code, e := raw.postJSON(api.ReplSnapshotsPath, sn)
	if code != http.StatusConflict || !strings.Contains(e.Message, blob.Sum(chunk).String()) {
		t.Fatalf("snapshot naming a missing chunk: %d %+v", code, e)
	}
	snaps, err := srvCl.ListSnapshots(ctx, "web")
	if err != nil || len(snaps) != 1 {
		t.Fatalf("catalog changed: %+v %v", snaps, err)
	}
	if after, _ := srvCl.GetVG(ctx, "web"); after.Snapshots != 1 {
		t.Fatalf("VG after refusal: %+v", after)
	}
}

func TestVmrepdRefusesInsecureListen(t *testing.T) {
	dir := t.TempDir()
	pki := newReplPKI(t, dir)
	loose := filepath.Join(dir, "loose-token")
	os.WriteFile(loose, []byte(pki.token), 0o644)
	base := []string{"--store", filepath.Join(dir, "store"), "--socket", filepath.Join(dir, "s.sock"), "--listen", "127.0.0.1:0"}
	tests := []struct {
		name  string
		extra []string
		code  int
		say   string
	}{
		{"no TLS", []string{"--token-file", pki.tokenFile}, 2, "TLS"},
		{"no token", []string{"--tls-cert", pki.certFile, "--tls-key", pki.keyFile}, 2, "token"},
		{"token readable by others", []string{"--tls-cert", pki.certFile, "--tls-key", pki.keyFile, "--token-file", loose}, 1, "chmod 600"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, exec.Command(filepath.Join(binDir, "vmrepd"), append(base, tc.extra...)...))
			if r.code != tc.code || !strings.Contains(r.stderr, tc.say) {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
		})
	}
}

func TestServerStack(t *testing.T) {
	d := newDaemon(t)
	out := filepath.Join(t.TempDir(), "server-stack")
	d.ok("server", "stack", "--target", "oci", "--out", out, "--port", "7444")
	main, err := os.ReadFile(filepath.Join(out, "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, must := range []string{`resource "oci_core_instance" "server"`, `resource "oci_objectstorage_bucket" "packs"`, `port         = "7444"`} {
		if !strings.Contains(string(main), must) {
			t.Errorf("main.tf lacks %s:\n%s", must, main)
		}
	}
	ci, err := os.ReadFile(filepath.Join(out, "cloud-init.tftpl"))
	if err != nil || !strings.Contains(string(ci), "--backend ${backend}") {
		t.Errorf("cloud-init does not keep the server's store in the bucket (%v):\n%s", err, ci)
	}
	if r := d.vmrep("server", "stack", "--target", "local", "--out", out); r.code != 1 {
		t.Errorf("--target local: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestSnapshotDeletePushed: the last snapshot pushed to a replication
// server is what the next push builds on; deleting it needs --force, and
// an older one is free once a newer one was pushed.
func TestSnapshotDeletePushed(t *testing.T) {
	src := newDaemon(t)
	pki := newReplPKI(t, t.TempDir())
	_, addr := newReplServer(t, pki)
	src.makeVG("web", 4<<20, 61)
	push := func(ref string) {
		t.Helper()
		var r api.ReplicateResult
		src.okJSONResult(&r, "replicate", ref, "--to", addr, "--token-file", pki.tokenFile, "--ca", pki.caFile)
	}
	src.ok("snapshot", "create", "web")
	push("web@1")
	refused := func(ref string) {
		t.Helper()
		r := src.vmrep("snapshot", "delete", ref)
		if r.code != 1 || strings.Count(r.stderr, "\n") != 1 ||
			!strings.Contains(r.stderr, `it is the last snapshot of "web" pushed to `+addr) || !strings.Contains(r.stderr, "--force") {
			t.Fatalf("delete %s after pushing it: exit %d, stderr %q", ref, r.code, r.stderr)
		}
	}
	refused("web@1")
	src.ok("snapshot", "create", "web")
	push("web@2")
	src.ok("snapshot", "delete", "web@1")
	refused("web@2")
	src.ok("snapshot", "delete", "web@2", "--force")
}

package main

import (
	"bytes"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/api"
)

// scanDir reads every file under dir and returns the markers it finds.
func scanDir(t *testing.T, dir string) []string {
	t.Helper()
	found := map[string]bool{}
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range encMarkers {
			if bytes.Contains(b, []byte(m)) {
				found[m] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for m := range found {
		out = append(out, m)
	}
	return out
}

// scanFor lists the files under dir that contain s.
func scanFor(t *testing.T, dir, s string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte(s)) {
				out = append(out, path)
			}
		}
		return nil
	})
	return out
}

func writeKey(t *testing.T, path string, seed byte) {
	t.Helper()
	if err := os.WriteFile(path, []byte(hex.EncodeToString(bytes.Repeat([]byte{seed}, 32))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestReplicateEncryptFor is source-side encryption end to end: a source
// seals a disk holding marker strings for tenancy acme; the server's store
// holds none of them (a plain replication of the same disk to a second
// server shows them, so the scan is real), verifies clean, cannot restore
// or materialize the snapshot without the key, and writes a byte-identical
// replica when the key comes with the request. A later snapshot sends only
// its changed chunks; a plain send or one under another key after sealed
// ones is refused before any chunk leaves.
func TestReplicateEncryptFor(t *testing.T) {
	src := newDaemon(t)
	pki := newReplPKI(t, t.TempDir())
	root := filepath.Join(t.TempDir(), "replicas")
	srv, addr := newReplServer(t, pki, "--replica-root", root, "--compression", "none")
	boot, data := filepath.Join(src.dir, "boot.img"), filepath.Join(src.dir, "data.img")
	writeMarkerImage(t, boot, 6<<20)
	writeImage(t, data, 4<<20+4096, 3)
	src.ok("vg", "create", "mk", "--boot", boot, "--data", "db="+data)
	src.ok("snapshot", "create", "mk")
	key, other := filepath.Join(src.dir, "acme.key"), filepath.Join(src.dir, "other.key")
	writeKey(t, key, 0x5a)
	writeKey(t, other, 0x33)
	send := func(d *testDaemon, to, ref string, extra ...string) result {
		return d.vmrep(append([]string{"replicate", ref, "--to", to, "--token-file", pki.tokenFile, "--ca", pki.caFile, "--json"}, extra...)...)
	}
	var r1 api.ReplicateResult
	src.okJSONResult(&r1, "replicate", "mk@1", "--to", addr, "--token-file", pki.tokenFile, "--ca", pki.caFile, "--encrypt-for", "acme", "--key-file", key)
	if !r1.Committed || r1.SentBlobs != r1.Blobs || r1.SentBytes < 6<<20 {
		t.Fatalf("first sealed replication: %+v", r1)
	}
	if found := scanDir(t, srv.store); len(found) > 0 {
		t.Fatalf("the server's store shows %v after a sealed replication", found)
	}
	if out := srv.ok("verify", "--read-data"); !strings.Contains(out, "no problems") {
		t.Fatalf("verify on the server:\n%s", out)
	}
	var sn api.Snapshot
	srv.okJSON(&sn, "snapshot", "show", "mk@1")
	for _, v := range sn.Volumes {
		if !strings.HasPrefix(v.Sealed, "vmrep-seal-v1:") {
			t.Fatalf("server snapshot volume %s not marked sealed: %+v", v.Name, v)
		}
	}
	if r := srv.vmrep("restore", "mk@1", "--volume", "boot", "-o", filepath.Join(srv.dir, "x.img")); r.code == 0 || !strings.Contains(r.stderr, "sealed by its source") {
		t.Fatalf("restore of a sealed snapshot on the server: exit %d %s", r.code, r.stderr)
	}

	// Materialize: refused without the key and with another key; written
	// and identical with it (nothing sent again).
	if r := send(src, addr, "mk@1", "--materialize", "mk"); r.code == 0 || !strings.Contains(r.stderr, "sealed by its source") {
		t.Fatalf("plain send after a sealed one: exit %d %s", r.code, r.stderr)
	}
	if r := send(src, addr, "mk@1", "--encrypt-for", "acme", "--key-file", other, "--materialize", "mk"); r.code == 0 || !strings.Contains(r.stderr, "another key") {
		t.Fatalf("send under another key: exit %d %s", r.code, r.stderr)
	}
	if r := send(src, addr, "mk@1", "--encrypt-for", "globex", "--key-file", key, "--materialize", "mk"); r.code == 0 || !strings.Contains(r.stderr, "another key or for another tenancy") {
		t.Fatalf("send for another tenancy: exit %d %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(root, "mk")); !os.IsNotExist(err) {
		t.Fatalf("a refused materialize left the replica directory: %v", err)
	}
	var vg api.VG
	src.okJSON(&vg, "vg", "show", "mk")
	vol := map[string]string{}
	for _, v := range vg.Volumes {
		vol[v.Name] = v.ID
	}
	var r2 api.ReplicateResult
	src.okJSONResult(&r2, "replicate", "mk@1", "--to", addr, "--token-file", pki.tokenFile, "--ca", pki.caFile, "--encrypt-for", "acme", "--key-file", key, "--materialize", "mk")
	if r2.SentBlobs != 0 || r2.Replica == nil || r2.SealedChunks != 0 {
		t.Fatalf("sealed send again with materialize: %+v", r2)
	}
	sameFile(t, filepath.Join(root, "mk", vol["boot"]+".img"), boot)
	sameFile(t, filepath.Join(root, "mk", vol["db"]+".img"), data)
	if r := srv.vmrep("replica", "verify", filepath.Join(root, "mk")); r.code == 0 || !strings.Contains(r.stderr, "its source sealed") {
		t.Fatalf("replica verify of a sealed replica on the server: exit %d %s", r.code, r.stderr)
	}
	// The server's FUSE view does not show sealed snapshots.
	mnt := filepath.Join(srv.dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	srv.ok("mount", mnt)
	if ents, err := os.ReadDir(filepath.Join(mnt, "mk")); err != nil || len(ents) != 0 {
		t.Fatalf("the server's mount shows %v for a VG it holds sealed (%v)", ents, err)
	}
	srv.ok("unmount", mnt)

	// A second snapshot: 256 KiB changed; only its chunks travel.
	f, err := os.OpenFile(data, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte("changed!"), 32<<10), 1<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	src.ok("snapshot", "create", "mk")
	var r3 api.ReplicateResult
	src.okJSONResult(&r3, "replicate", "mk@2", "--to", addr, "--token-file", pki.tokenFile, "--ca", pki.caFile, "--encrypt-for", "acme", "--key-file", key, "--materialize", "mk")
	// The memo of sealed IDs spares sealing the unchanged chunks again.
	if !r3.Committed || r3.SkippedBlobs == 0 || r3.SentBytes*4 > r1.SentBytes || r3.SealedChunks == 0 || r3.SealedChunks*4 > r1.SealedChunks {
		t.Fatalf("second sealed replication sent %d bytes (first %d): %+v", r3.SentBytes, r1.SentBytes, r3)
	}
	t.Logf("sealed: first %d blobs, %d bytes (%d on the wire), %d chunks sealed; second %d of %d blobs, %d bytes, %d chunks sealed",
		r1.SentBlobs, r1.SentBytes, r1.WireBytes, r1.SealedChunks, r3.SentBlobs, r3.Blobs, r3.SentBytes, r3.SealedChunks)
	sameFile(t, filepath.Join(root, "mk", vol["db"]+".img"), data)
	sameFile(t, filepath.Join(root, "mk", vol["boot"]+".img"), boot)
	if found := scanDir(t, srv.store); len(found) > 0 {
		t.Fatalf("the server's store shows %v", found)
	}

	keyHex := hex.EncodeToString(bytes.Repeat([]byte{0x5a}, 32))
	for name, d := range map[string]*testDaemon{"source": src, "server": srv} {
		if strings.Contains(d.log.String(), keyHex) || len(scanFor(t, d.dir, keyHex)) > 0 && name == "server" {
			t.Fatalf("the %s's log or files hold the source key", name)
		}
	}

	// The scan is real: the same disk replicated plain shows its markers.
	srv2, addr2 := newReplServer(t, pki, "--compression", "none")
	if r := send(src, addr2, "mk@1"); r.code != 0 {
		t.Fatalf("plain replication: %s", r.stderr)
	}
	if found := scanDir(t, srv2.store); len(found) != len(encMarkers) {
		t.Fatalf("a plain replication's store shows only %v: the scan is not real", found)
	}
}

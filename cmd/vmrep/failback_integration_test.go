package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/internal/testdisk"
)

// failbackVG is VG "web" of an ext4 boot image and a data image, with three
// snapshots whose content differs: web@2 changes a file in the boot file
// system and a range of the data image and grows the data image, web@3
// changes both again and shrinks the data image below its size at web@1.
type failbackVG struct {
	d    *testDaemon
	vg   api.VG
	sums [4]map[string]string // seq -> volume ID -> sha256 of its image then
	size [4]int64             // seq -> the volumes' sizes, summed
}

func newFailbackVG(t *testing.T) *failbackVG {
	t.Helper()
	testdisk.NeedRoot(t)
	testdisk.Need(t, "mkfs.ext4", "debugfs", "fsck.ext4")
	d := newDaemon(t)
	ctx := context.Background()
	tree := filepath.Join(d.dir, "tree")
	if _, err := testdisk.Tree(tree, testdisk.TreeSpec{Seed: 16, Files: 30, Bytes: 6 << 20}); err != nil {
		t.Fatal(err)
	}
	boot, data := filepath.Join(d.dir, "boot.img"), filepath.Join(d.dir, "data.img")
	if err := testdisk.Ext4(ctx, boot, tree, 48); err != nil {
		t.Fatal(err)
	}
	writeImage(t, data, 16<<20, 17)
	d.ok("vg", "create", "web", "--boot", boot, "--data", "db="+data)
	f := &failbackVG{d: d}
	d.okJSON(&f.vg, "vg", "show", "web")
	rng := rand.New(rand.NewPCG(16, 3))
	motd := filepath.Join(d.dir, "motd")
	for seq := 1; seq <= 3; seq++ {
		switch seq {
		case 2:
			os.WriteFile(motd, randomBytes(rng, 200<<10), 0o644)
			if err := testdisk.Debugfs(ctx, boot, "write "+motd+" motd"); err != nil {
				t.Fatal(err)
			}
			patchFile(t, data, 1<<20, randomBytes(rng, 64<<10))
			resize(t, data, 20<<20)
			patchFile(t, data, 20<<20-8192, randomBytes(rng, 8192))
		case 3:
			os.WriteFile(motd, []byte("web@3 was here\n"), 0o644)
			if err := testdisk.Debugfs(ctx, boot, "rm motd", "write "+motd+" motd"); err != nil {
				t.Fatal(err)
			}
			patchFile(t, data, 3<<20, randomBytes(rng, 32<<10))
			resize(t, data, 12<<20)
		}
		d.ok("snapshot", "create", "web")
		f.sums[seq] = map[string]string{}
		for _, v := range f.vg.Volumes {
			img := map[string]string{"boot": boot, "db": data}[v.Name]
			f.sums[seq][v.ID] = fileSHA256(t, img)
			fi, err := os.Stat(img)
			if err != nil {
				t.Fatal(err)
			}
			f.size[seq] += fi.Size()
		}
	}
	return f
}

func resize(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// replicaIs checks that every volume file of the replica in dir has the
// sha256 of its image at seq, that state.json says seq, that replica
// verify passes and that the boot file system checks clean.
func (f *failbackVG) replicaIs(t *testing.T, dir string, seq int) {
	t.Helper()
	for _, v := range f.vg.Volumes {
		if got := fileSHA256(t, filepath.Join(dir, v.ID+".img")); got != f.sums[seq][v.ID] {
			t.Fatalf("replica %s volume %s: sha256 %s, want %s (web@%d)", dir, v.Name, got, f.sums[seq][v.ID], seq)
		}
	}
	var st struct {
		Seq uint64 `json:"seq"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil || st.Seq != uint64(seq) {
		t.Fatalf("state.json at seq %d (%v), want %d", st.Seq, err, seq)
	}
	checks, code := verifyReplicaJSON(t, f.d, dir)
	if code != 0 || len(checks) != 2 {
		t.Fatalf("replica verify at web@%d: exit %d, %+v", seq, code, checks)
	}
	for _, v := range f.vg.Volumes {
		if v.Role == "boot" {
			if err := testdisk.Fsck(context.Background(), filepath.Join(dir, v.ID+".img")); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestFailbackBackwardDelta exports a delta from a later snapshot to an
// earlier one and applies it to a replica at the later one: the replica
// goes back, the data volume to its larger size at web@1.
func TestFailbackBackwardDelta(t *testing.T) {
	f := newFailbackVG(t)
	d := f.d
	rep := filepath.Join(d.dir, "replica")
	d.ok("replica", "create", "web@3", "--dir", rep)
	f.replicaIs(t, rep, 3)

	back := filepath.Join(d.dir, "back.vmdelta")
	d.ok("delta", "export", "web@3", "web@1", "-o", back)
	var info api.DeltaInfo
	d.okJSON(&info, "delta", "show", back)
	if info.BaseSeq != 3 || info.TargetSeq != 1 || len(info.Volumes) != 2 {
		t.Fatalf("delta show: %+v", info)
	}
	for _, v := range info.Volumes {
		if v.Name == "db" && (v.BaseSize != 12<<20 || v.TargetSize != 16<<20) {
			t.Errorf("db sizes in the backward delta: %d -> %d, want 12 MiB -> 16 MiB", v.BaseSize, v.TargetSize)
		}
	}
	var ap api.DeltaApplyResult
	d.okJSONResult(&ap, "delta", "apply", back, "--replica", rep)
	if ap.Replica.Seq != 1 || ap.Summary.Written == 0 {
		t.Fatalf("apply result: %+v", ap)
	}
	f.replicaIs(t, rep, 1)

	// Applied again: the replica is at its target, nothing to write.
	var again api.DeltaApplyResult
	d.okJSONResult(&again, "delta", "apply", back, "--replica", rep)
	if again.Summary.Written != 0 || again.Replica.Seq != 1 {
		t.Errorf("second apply: %+v", again)
	}
	// And forward again, 1 -> 3, to where it started.
	fwd := filepath.Join(d.dir, "fwd.vmdelta")
	d.ok("delta", "export", "web@1", "web@3", "-o", fwd)
	d.ok("delta", "apply", fwd, "--replica", rep)
	f.replicaIs(t, rep, 3)
}

// TestReplicaCreateAt moves a replica between snapshots with replica
// create --at: back from web@3 to web@1 and forward again, each by one
// delta that writes a small part of the volumes.
func TestReplicaCreateAt(t *testing.T) {
	f := newFailbackVG(t)
	d := f.d
	rep := filepath.Join(d.dir, "replica")

	// An empty directory: written whole, as the positional form does.
	move := func(args ...string) api.ReplicaMoveResult {
		t.Helper()
		var mv api.ReplicaMoveResult
		d.okJSONResult(&mv, append([]string{"replica", "create"}, args...)...)
		return mv
	}
	mv := move("--at", "web@3", "--dir", rep)
	if mv.How != api.MovedCreated || mv.Seq != 3 || mv.WrittenBytes != f.size[3] {
		t.Fatalf("--at into an empty directory: %+v", mv)
	}
	f.replicaIs(t, rep, 3)

	out := d.ok("replica", "create", "--at", "web@1", "--dir", rep)
	if !strings.Contains(out, "moved replica "+rep+" from web@3 to web@1: wrote ") {
		t.Errorf("replica create --at text:\n%s", out)
	}
	f.replicaIs(t, rep, 1)

	mv = move("--at", "web@3", "--dir", rep)
	t.Logf("web@1 -> web@3: wrote %d of %d bytes", mv.WrittenBytes, mv.VolumeBytes)
	if mv.How != api.MovedByDelta || mv.From != "web@1" || mv.Seq != 3 || mv.Delta == nil || mv.VolumeBytes != f.size[3] {
		t.Fatalf("--at web@3: %+v", mv)
	}
	if mv.WrittenBytes <= 0 || mv.WrittenBytes >= mv.VolumeBytes/4 {
		t.Errorf("--at web@3 wrote %d bytes of %d: a delta writes the changed ranges only", mv.WrittenBytes, mv.VolumeBytes)
	}
	f.replicaIs(t, rep, 3)

	// Back again, and the same snapshot once more writes nothing.
	mv = move("--at", "web@1", "--dir", rep)
	if mv.How != api.MovedByDelta || mv.From != "web@3" || mv.WrittenBytes <= 0 || mv.WrittenBytes >= mv.VolumeBytes/4 {
		t.Errorf("--at web@1: %+v", mv)
	}
	f.replicaIs(t, rep, 1)
	mv = move("--at", "web@1", "--dir", rep)
	if mv.How != api.MovedCurrent || mv.WrittenBytes != 0 {
		t.Errorf("--at the snapshot the replica is at: %+v", mv)
	}

	// Refusals leave the replica as it was.
	before := treeHash(t, rep)
	refused := func(code int, msg string, args ...string) {
		t.Helper()
		r := d.vmrep(args...)
		if r.code != code || !strings.Contains(r.stderr, msg) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("vmrep %v: exit %d, stderr %q; want %d and one line with %q", args, r.code, r.stderr, code, msg)
		}
		if treeHash(t, rep) != before {
			t.Fatalf("vmrep %v changed the replica", args)
		}
	}
	refused(1, "snapshot web@9 does not exist", "replica", "create", "--at", "web@9", "--dir", rep)
	refused(1, "creating web@2 there would rewrite it whole (a delta moves it forward); --at web@2 moves it there by one delta, or add --force",
		"replica", "create", "web@2", "--dir", rep)
	refused(2, "no --volume", "replica", "create", "--at", "web@2", "--dir", rep, "--volume", "boot")
	refused(2, "not both", "replica", "create", "web@2", "--at", "web@2", "--dir", rep)
	d.makeVG("other", 1<<20, 5)
	d.ok("snapshot", "create", "other")
	refused(1, "replica "+rep+" holds volume group web, not other", "replica", "create", "--at", "other@1", "--dir", rep)

	// A replica at a snapshot the store no longer holds: no delta starts
	// there; --force rewrites it whole.
	rep2 := filepath.Join(d.dir, "replica2")
	d.ok("replica", "create", "web@2", "--dir", rep2)
	d.ok("snapshot", "delete", "web@2", "--force")
	before2 := treeHash(t, rep2)
	r := d.vmrep("replica", "create", "--at", "web@1", "--dir", rep2)
	if r.code != 1 || !strings.Contains(r.stderr, "is at web@2, which the store no longer holds") ||
		!strings.Contains(r.stderr, "--force") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("--at from a deleted snapshot: exit %d, stderr %q", r.code, r.stderr)
	}
	if treeHash(t, rep2) != before2 {
		t.Fatal("a refused --at changed the replica")
	}
	mv = move("--at", "web@1", "--dir", rep2, "--force")
	if mv.How != api.MovedRewritten || mv.From != "web@2" {
		t.Errorf("--at --force: %+v", mv)
	}
	f.replicaIs(t, rep2, 1)
	if treeHash(t, rep) != before {
		t.Fatal("the other replica changed")
	}

	if help := d.ok("replica", "create", "--help"); !strings.Contains(help, "vmrep replica create --at web@1 --dir replica/") {
		t.Errorf("replica create --help has no --at example:\n%s", help)
	}
}

// TestReplicaCreateAtKilled kills the daemon while replica create --at
// writes, after the apply's journal is down: running the same command
// again exports the same delta (the journal names it by digest), finishes
// the apply and leaves the replica at the target.
func TestReplicaCreateAtKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests and rewrites a 256 MiB volume")
	}
	d := newDaemon(t)
	img := filepath.Join(d.dir, "big.img")
	writeImage(t, img, 256<<20, 31)
	d.ok("vg", "create", "big", "--boot", img)
	d.ok("snapshot", "create", "big")
	at1 := fileSHA256(t, img)
	writeImage(t, img, 256<<20, 32) // 128 MiB of other random data
	d.ok("snapshot", "create", "big")
	var vg api.VG
	d.okJSON(&vg, "vg", "show", "big")
	rep := filepath.Join(d.dir, "replica")
	d.ok("replica", "create", "big@2", "--dir", rep)

	cli := exec.Command(filepath.Join(binDir, "vmrep"), "--socket", d.socket, "replica", "create", "--at", "big@1", "--dir", rep)
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(rep, "applying.json")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(journal); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the apply wrote no journal")
		}
		time.Sleep(time.Millisecond)
	}
	d.kill()
	cli.Wait()
	b, err := os.ReadFile(filepath.Join(rep, "state.json"))
	if err != nil || !strings.Contains(string(b), `"seq": 2`) {
		t.Fatalf("the apply finished before the kill (state %s, %v); the change is too small for this machine", b, err)
	}
	if _, err := os.Stat(journal); err != nil {
		t.Fatalf("killed mid-apply, the journal is gone: %v", err)
	}

	d.start()
	var mv api.ReplicaMoveResult
	d.okJSONResult(&mv, "replica", "create", "--at", "big@1", "--dir", rep)
	if mv.How != api.MovedByDelta || mv.Seq != 1 {
		t.Fatalf("--at after the kill: %+v", mv)
	}
	if got := fileSHA256(t, filepath.Join(rep, vg.Volumes[0].ID+".img")); got != at1 {
		t.Fatalf("replica after the rerun: sha256 %s, want %s (big@1)", got, at1)
	}
	if _, err := os.Stat(journal); !os.IsNotExist(err) {
		t.Errorf("the journal is still there after the rerun: %v", err)
	}
	if checks, code := verifyReplicaJSON(t, d, rep); code != 0 {
		t.Fatalf("replica verify: exit %d, %+v", code, checks)
	}
}

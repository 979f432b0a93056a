package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vmrep/vmrep/api"
)

// history is a VG with three snapshots and copies of its images at each.
type history struct {
	d       *testDaemon
	vg      api.VG
	images  map[string]string    // volume name -> live source image
	at      [4]map[string]string // seq -> volume name -> copy of the image at that seq
	bootID  string
	dataID  string
	volumes []string // volume IDs
}

// newHistory makes web@1, web@2 (boot and db changed: scattered writes, a
// zeroed range, a large overwrite) and web@3 (only boot changed).
func newHistory(t *testing.T) *history {
	t.Helper()
	d := newDaemon(t)
	boot, data := d.makeVG("web", 8<<20+12345, 11)
	h := &history{d: d, images: map[string]string{"boot": boot, "db": data}}
	d.okJSON(&h.vg, "vg", "show", "web")
	for _, v := range h.vg.Volumes {
		h.volumes = append(h.volumes, v.ID)
		if v.Name == "boot" {
			h.bootID = v.ID
		} else {
			h.dataID = v.ID
		}
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for seq := 1; seq <= 3; seq++ {
		switch seq {
		case 2:
			scatter(t, rng, boot, 40)
			scatter(t, rng, data, 10)
			patchFile(t, data, 5<<20, make([]byte, 300<<10))       // zeroed range
			patchFile(t, boot, 6<<20, randomBytes(rng, 1<<20+777)) // large write into the hole
		case 3:
			scatter(t, rng, boot, 15)
		}
		d.ok("snapshot", "create", "web")
		h.at[seq] = map[string]string{}
		for name, img := range h.images {
			cp := filepath.Join(d.dir, name+"-at"+string(rune('0'+seq))+".img")
			copyFile(t, img, cp)
			h.at[seq][name] = cp
		}
	}
	return h
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func scatter(t *testing.T, rng *rand.Rand, path string, n int) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		off := rng.Int64N(fi.Size()/4096) * 4096
		patchFile(t, path, off, randomBytes(rng, 4096))
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// replicaAt checks that every volume file of the replica in dir equals the
// images at seq.
func (h *history) replicaAt(t *testing.T, dir string, seq int) {
	t.Helper()
	for _, v := range h.vg.Volumes {
		sameFile(t, filepath.Join(dir, v.ID+".img"), h.at[seq][v.Name])
	}
	var st struct {
		Volumes []struct {
			ID  string `json:"id"`
			Seq uint64 `json:"seq"`
		} `json:"volumes"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	for _, v := range st.Volumes {
		if v.Seq != uint64(seq) {
			t.Errorf("state.json: volume %s at seq %d, want %d", v.ID, v.Seq, seq)
		}
	}
}

// treeHash hashes every file under dir, names and bytes, to show a refused
// apply changed nothing.
func treeHash(t *testing.T, dir string) string {
	t.Helper()
	var names []string
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			names = append(names, p)
		}
		return err
	})
	sort.Strings(names)
	sum := sha256.New()
	for _, n := range names {
		io.WriteString(sum, n+"\n")
		f, err := os.Open(n)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(sum, f)
		f.Close()
	}
	return hex.EncodeToString(sum.Sum(nil))
}

func TestDeltaCommands(t *testing.T) {
	h := newHistory(t)
	d := h.d
	rep := filepath.Join(d.dir, "replica")
	d.ok("replica", "create", "web@1", "--dir", rep)
	h.replicaAt(t, rep, 1)

	// 1->2 as one file, shown, applied, applied again as a no-op.
	d12 := filepath.Join(d.dir, "d12.vmdelta")
	var ex api.DeltaExportResult
	d.okJSONResult(&ex, "delta", "export", "web@1", "web@2", "-o", d12)
	if ex.Split || ex.Summary.Records == 0 || len(ex.Digest) != 64 {
		t.Fatalf("export result: %+v", ex)
	}
	var info api.DeltaInfo
	d.okJSON(&info, "delta", "show", d12)
	if info.BaseSeq != 1 || info.TargetSeq != 2 || info.Digest != ex.Digest || len(info.Volumes) != 2 {
		t.Fatalf("delta show: %+v", info)
	}
	if txt := d.ok("delta", "show", d12); !strings.Contains(txt, "web@1") || !strings.Contains(txt, ex.Digest) {
		t.Errorf("delta show text:\n%s", txt)
	}
	if txt := d.ok("delta", "apply", d12, "--replica", rep, "--verify", "full"); !strings.Contains(txt, "applied") {
		t.Errorf("delta apply text:\n%s", txt)
	}
	h.replicaAt(t, rep, 2)
	before := treeHash(t, rep)
	var ap api.DeltaApplyResult
	d.okJSONResult(&ap, "delta", "apply", d12, "--replica", rep)
	if ap.Summary.Written != 0 {
		t.Errorf("second apply wrote %d records", ap.Summary.Written)
	}
	if treeHash(t, rep) != before {
		t.Error("second apply changed the replica")
	}

	// 2->3 split into small parts; chain 1->2->3.
	d23 := filepath.Join(d.dir, "d23")
	d.ok("delta", "export", "web@2", "web@3", "-o", d23, "--split", "--part-size", "1MiB")
	if _, err := os.Stat(filepath.Join(d23, "index.vmdelta")); err != nil {
		t.Fatal(err)
	}
	// A replica still at 1 refuses the 2->3 delta and stays as it was.
	rep1 := filepath.Join(d.dir, "replica-1")
	d.ok("replica", "create", "web@1", "--dir", rep1)
	before1 := treeHash(t, rep1)
	r := d.vmrep("delta", "apply", d23, "--replica", rep1)
	if r.code != 1 || !strings.Contains(r.stderr, "not at the delta's base") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("apply 2->3 on web@1: exit %d, stderr %q", r.code, r.stderr)
	}
	if treeHash(t, rep1) != before1 {
		t.Error("a refused apply changed the replica")
	}
	d.ok("delta", "apply", d23, "--replica", rep, "--verify", "extents")
	h.replicaAt(t, rep, 3)

	// The same 1->2 split, one volume at a time, moves the other replica.
	d12s := filepath.Join(d.dir, "d12-split")
	d.ok("delta", "export", "web@1", "web@2", "-o", d12s, "--split")
	for _, id := range h.volumes {
		d.ok("delta", "apply", d12s, "--replica", rep1, "--volume", id)
	}
	h.replicaAt(t, rep1, 2)

	for _, bad := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"delta", "apply", d12, "--replica", rep, "--verify", "most"}, 2, "want none, extents or full"},
		{[]string{"delta", "apply", d12}, 2, "--replica"},
		{[]string{"delta", "export", "web@1", "web@2", "-o", d12, "--part-size", "1MiB"}, 2, "--split"},
		{[]string{"delta", "export", "web@1", "web@1", "-o", d12}, 1, "same snapshot"},
		{[]string{"delta", "export", "web@1", "web@2", "-o", filepath.Join(d.store, "x.vmdelta")}, 1, "inside the store"},
		{[]string{"delta", "apply", filepath.Join(d.dir, "missing.vmdelta"), "--replica", rep}, 1, "does not exist"},
		{[]string{"delta", "apply", d12, "--replica", filepath.Join(d.dir, "nope")}, 1, "does not exist"},
		{[]string{"delta", "show", h.at[1]["boot"]}, 1, "malformed delta"},
	} {
		r := d.vmrep(bad.args...)
		if r.code != bad.code || !strings.Contains(r.stderr, bad.msg) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("vmrep %v: exit %d, stderr %q; want %d and one line with %q", bad.args, r.code, r.stderr, bad.code, bad.msg)
		}
	}
}

// TestDeltaExportRefusesOverwrite: an existing delta file, or a split
// directory that is not empty, is refused with one line and left as it
// was, unless --force. (Before, export overwrote it silently.)
func TestDeltaExportRefusesOverwrite(t *testing.T) {
	d := newDaemon(t)
	d.makeVG("web", 4<<20, 31)
	d.ok("snapshot", "create", "web")
	d.ok("snapshot", "create", "web")

	file := filepath.Join(d.dir, "precious.vmdelta")
	if err := os.WriteFile(file, []byte("not a delta, but mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	split := filepath.Join(d.dir, "split")
	if err := os.MkdirAll(split, 0o755); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(split, "notes.txt")
	if err := os.WriteFile(keep, []byte("mine too"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, argv := range [][]string{
		{"delta", "export", "web@1", "web@2", "-o", file},
		{"delta", "export", "web@1", "web@2", "-o", split, "--split"},
	} {
		r := d.vmrep(argv...)
		if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "already exists; overwrite it with --force") {
			t.Errorf("vmrep %s: exit %d, stderr %q", strings.Join(argv, " "), r.code, r.stderr)
		}
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "not a delta, but mine" {
		t.Fatalf("refused export touched %s: %q, %v", file, b, err)
	}
	if ents, err := os.ReadDir(split); err != nil || len(ents) != 1 {
		t.Fatalf("refused split export touched %s: %d entries, %v", split, len(ents), err)
	}
	// An empty directory is no overwrite.
	empty := filepath.Join(d.dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	d.ok("delta", "export", "web@1", "web@2", "-o", empty, "--split")
	d.ok("delta", "export", "web@1", "web@2", "-o", file, "--force")
	d.ok("delta", "show", file)
}

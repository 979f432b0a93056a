package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/internal/reliability"
)

// killReplicate replicates web@1 (materialized) to a fresh server per
// kill, killing the source or the server daemon.
func killReplicate(t *testing.T, k *killTally, n int, killServer bool) {
	src := newDaemon(t)
	boot, data := src.makeVG("web", 4<<20, 31)
	src.ok("snapshot", "create", "web")
	var vg api.VG
	src.okJSON(&vg, "vg", "show", "web")
	pki := newReplPKI(t, t.TempDir())
	args := func(addr string) []string {
		return []string{"replicate", "web@1", "--to", addr, "--token-file", pki.tokenFile, "--ca", pki.caFile, "--materialize", "web"}
	}
	newServer := func() (*testDaemon, string, string) {
		root := filepath.Join(t.TempDir(), "replicas")
		srv, addr := newReplServer(t, pki, "--replica-root", root)
		return srv, addr, root
	}
	var want api.ReplicateResult
	srv, addr, cleanRoot := newServer()
	k.clean = timed(func() { src.okJSONResult(&want, args(addr)...) })
	if err := sameReplication(t, src, srv, cleanRoot, vg, want, want, boot, data); err != nil {
		t.Fatalf("clean run: %v", err)
	}
	srv.stop()
	for range n {
		srv, addr, root := newServer()
		victim := src
		if killServer {
			victim = srv
		}
		k.killDuring(t, victim, src, src.cli(args(addr)...))
		victim.start()
		addr = replAddr(t, srv)
		k.verify(t, src)
		k.verify(t, srv)
		if r, ok := k.rerun(t, src, append(args(addr), "--json")...); ok {
			var got api.ReplicateResult
			err := jobResult(r.stdout, &got)
			if err == nil {
				err = sameReplication(t, src, srv, root, vg, want, got, boot, data)
			}
			if err == nil {
				err = sameTree(filepath.Join(cleanRoot, "web"), filepath.Join(root, "web"))
			}
			k.differ(t, err)
		}
		srv.stop()
		os.RemoveAll(srv.dir)
		os.RemoveAll(root)
	}
}

// sameReplication checks a replication's result against a clean run's:
// the same snapshot, the server's copy of it identical to the source's,
// and its replica files the source images.
func sameReplication(t *testing.T, src, srv *testDaemon, root string, vg api.VG, want, got api.ReplicateResult, boot, data string) error {
	if got.SnapshotID != want.SnapshotID || got.Blobs != want.Blobs || got.Seq != want.Seq {
		return fmt.Errorf("replicate result %+v, a clean run's %+v", got, want)
	}
	ctx := context.Background()
	a, err := src.client(t).GetSnapshot(ctx, "web", "1")
	if err != nil {
		return err
	}
	b, err := srv.client(t).GetSnapshot(ctx, "web", "1")
	if err != nil {
		return fmt.Errorf("the server's snapshot: %w", err)
	}
	if a.ID != b.ID || a.Seq != b.Seq || a.Parent != b.Parent || a.VGID != b.VGID || len(a.Volumes) != len(b.Volumes) {
		return fmt.Errorf("server snapshot %+v, source %+v", b, a)
	}
	for i := range a.Volumes {
		if a.Volumes[i].Manifest != b.Volumes[i].Manifest || a.Volumes[i].VolumeID != b.Volumes[i].VolumeID {
			return fmt.Errorf("volume %d: server %+v, source %+v", i, b.Volumes[i], a.Volumes[i])
		}
	}
	for _, v := range vg.Volumes {
		img := map[string]string{"boot": boot, "db": data}[v.Name]
		if err := sameBytes(filepath.Join(root, "web", v.ID+".img"), img); err != nil {
			return fmt.Errorf("replica of %s: %w", v.Name, err)
		}
	}
	return nil
}

// killGC kills gc runs that have work: before each, half of the boot
// image's data changes, a snapshot is taken and the one before deleted.
func killGC(t *testing.T, k *killTally, n int) {
	d := newDaemon(t)
	size := int64(reliability.Size(8<<20, 16<<20)) // more gc work, more kills land during it
	boot, data := d.makeVG("web", size, 41)
	d.ok("snapshot", "create", "web")
	rng := rand.New(rand.NewPCG(41, 1))
	seq := 1
	round := func() {
		patchFile(t, boot, rng.Int64N(size/2-size/4), randomBytes(rng, int(size/4)))
		d.ok("snapshot", "create", "web")
		seq++
		d.ok("snapshot", "delete", fmt.Sprintf("web@%d", seq-1))
	}
	round()
	k.clean = timed(func() { d.ok("gc") })
	if err := gcSettled(t, d, boot, data); err != nil {
		t.Fatalf("clean run: %v", err)
	}
	for range n {
		round()
		k.killDuring(t, d, d, d.cli("gc"))
		d.start()
		k.verify(t, d)
		if _, ok := k.rerun(t, d, "gc"); ok {
			k.differ(t, gcSettled(t, d, boot, data))
		}
	}
}

// gcSettled checks the store after a gc: a second gc finds nothing to
// delete, and the remaining snapshot restores to the images.
func gcSettled(t *testing.T, d *testDaemon, boot, data string) error {
	r := d.vmrep("gc", "--json")
	var res api.GCResult
	if err := jobResult(r.stdout, &res); r.code != 0 || err != nil {
		return fmt.Errorf("second gc: exit %d, %v: %s", r.code, err, r.stderr)
	}
	if res.BlobsDeleted != 0 || res.PacksDeleted != 0 || res.PacksRewritten != 0 || res.Snapshots != 1 {
		return fmt.Errorf("a second gc still had work: %+v", res)
	}
	for vol, img := range map[string]string{"boot": boot, "db": data} {
		out := filepath.Join(d.dir, "gc-restored.img")
		if r := d.vmrep("restore", "web@latest", "--volume", vol, "-o", out); r.code != 0 {
			return fmt.Errorf("restore %s: %s", vol, r.stderr)
		}
		err := sameBytes(out, img)
		os.Remove(out)
		if err != nil {
			return err
		}
	}
	return nil
}

// killSnapshotDelete deletes a fresh snapshot per kill; web@1 stays.
func killSnapshotDelete(t *testing.T, k *killTally, n int) {
	d := newDaemon(t)
	boot, _ := d.makeVG("web", 4<<20, 51)
	d.ok("snapshot", "create", "web")
	keep := filepath.Join(d.dir, "boot-1.img")
	copyFile(t, boot, keep)
	rng := rand.New(rand.NewPCG(51, 1))
	seq := 1
	next := func() string {
		patchFile(t, boot, int64(rng.IntN(32))<<16, randomBytes(rng, 64<<10))
		d.ok("snapshot", "create", "web")
		seq++
		return fmt.Sprintf("web@%d", seq)
	}
	ref := next()
	k.clean = timed(func() { d.ok("snapshot", "delete", ref) })
	for range n {
		ref := next()
		k.killDuring(t, d, nil, d.cli("snapshot", "delete", ref))
		d.start()
		k.verify(t, d)
		if r := d.vmrep("snapshot", "show", ref); r.code == 0 {
			if _, ok := k.rerun(t, d, "snapshot", "delete", ref); !ok {
				continue
			}
		}
		var snaps []api.Snapshot
		d.okJSON(&snaps, "snapshot", "list", "web")
		if len(snaps) != 1 || snaps[0].Seq != 1 {
			k.differ(t, fmt.Errorf("snapshots after deleting %s: %+v, want web@1 alone", ref, snaps))
			continue
		}
		out := filepath.Join(d.dir, "restored.img")
		d.ok("restore", "web@1", "--volume", "boot", "-o", out)
		k.differ(t, sameBytes(out, keep))
	}
}

// killReplicaCreate creates a replica of web@3 in a fresh directory per
// kill; the rerun writes into the directory the killed run left.
func killReplicaCreate(t *testing.T, k *killTally, n int) {
	h := newHistory(t)
	d := h.d
	clean := filepath.Join(d.dir, "clean")
	k.clean = timed(func() { d.ok("replica", "create", "web@3", "--dir", clean) })
	h.replicaAt(t, clean, 3)
	for i := range n {
		dir := filepath.Join(d.dir, fmt.Sprintf("replica-%d", i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		k.killDuring(t, d, d, d.cli("replica", "create", "web@3", "--dir", dir))
		d.start()
		k.verify(t, d)
		if _, ok := k.rerun(t, d, "replica", "create", "web@3", "--dir", dir); ok {
			k.differ(t, sameTree(clean, dir))
		}
		os.RemoveAll(dir)
	}
}

// sameTree says how the regular files under dirs a and b differ, if they do.
func sameTree(a, b string) error {
	ea, err := os.ReadDir(a)
	if err != nil {
		return err
	}
	eb, err := os.ReadDir(b)
	if err != nil {
		return err
	}
	if len(ea) != len(eb) {
		return fmt.Errorf("%s holds %s, %s %s", a, entryNames(ea), b, entryNames(eb))
	}
	for i, e := range ea {
		if e.Name() != eb[i].Name() {
			return fmt.Errorf("%s holds %s where %s holds %s", a, e.Name(), b, eb[i].Name())
		}
		if e.Name() == "state.json" {
			continue // it names the directory
		}
		if err := sameBytes(filepath.Join(a, e.Name()), filepath.Join(b, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// killMount kills the daemon while a volume is read through its FUSE
// mount; each start must clean the dead mount and mount again.
func killMount(t *testing.T, k *killTally, n int) {
	needFUSE(t)
	mnt := mountDir(t)
	d := newDaemon(t)
	_, data := d.makeVG("web", 16<<20, 61)
	d.ok("snapshot", "create", "web")
	d.ok("mount", mnt)
	img := filepath.Join(mnt, "web", "1", "db.img")
	// A read by a fresh daemon (a cold cache), as after each restart.
	d.stop()
	d.start()
	k.clean = timed(func() {
		if err := exec.Command("cat", img).Run(); err != nil {
			t.Fatalf("clean read of %s: %v", img, err)
		}
	})
	d.stop()
	d.start()
	for range n {
		k.killDuring(t, d, nil, exec.Command("cat", img))
		d.start()
		k.verify(t, d)
		if !fuseMounted(t, mnt) {
			k.differ(t, fmt.Errorf("%s is not mounted after the restart", mnt))
			continue
		}
		var infos []api.MountInfo
		d.okJSON(&infos, "mount", "--list")
		if len(infos) != 1 || infos[0].Dir != mnt {
			k.differ(t, fmt.Errorf("mounts after the restart: %+v, want %s alone", infos, mnt))
			continue
		}
		k.differ(t, sameBytes(img, data))
	}
}

func entryNames(es []os.DirEntry) []string {
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

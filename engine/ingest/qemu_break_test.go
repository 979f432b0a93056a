package ingest_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/qmp"
	"github.com/vmrep/vmrep/internal/testqsd"
)

func qmpDo(t *testing.T, sock, cmd string, args any) {
	t.Helper()
	ctx := context.Background()
	c, err := qmp.Dial(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Execute(ctx, cmd, args, nil); err != nil {
		t.Fatal(err)
	}
}

// readFull says whether sn read its first volume whole (every allocated
// byte: the image is fully written by fill's pattern on half the disk).
func wholeRead(t *testing.T, sn volume.Snapshot, first volume.Snapshot) {
	t.Helper()
	if got, want := sn.Volumes[0].ReadBytes, first.Volumes[0].ReadBytes; got < want {
		t.Errorf("snapshot %d read %d bytes, a full read %d", sn.Seq, got, want)
	}
}

// Each way the bitmap chain breaks gives a full read, says why in the
// snapshot's read note, and a snapshot that restores to the export's bytes;
// a clean restart of the daemon keeps the chain.
func TestQEMUChainBreaks(t *testing.T) {
	q := newQSDRepo(t, 32<<20)
	rng := rand.New(rand.NewPCG(21, 1))
	c := q.qsd.Dial(context.Background())
	fill(t, c, rng)
	c.Close()
	first, _ := q.snap(t, false)
	q.check(t, first)

	step := func(name, want string, whole bool, change func()) {
		t.Run(name, func(t *testing.T) {
			change()
			c := q.qsd.Dial(context.Background())
			write(t, c, rng, 8, 64<<10)
			c.Close()
			sn, log := q.snap(t, false)
			noted(t, sn, want)
			if whole {
				wholeRead(t, sn, first)
			} else if sn.Volumes[0].ReadBytes >= first.Volumes[0].ReadBytes/2 {
				t.Errorf("read %d bytes, a full read %d: the chain was not used", sn.Volumes[0].ReadBytes, first.Volumes[0].ReadBytes)
			}
			q.check(t, sn)
			t.Logf("%s: %v", name, log)
		})
	}
	step("chain holds", "changed ranges", false, func() {})
	step("bitmap missing", "missing: full read", true, func() {
		last, _ := q.cat.Latest(context.Background(), q.vg.ID)
		qmpDo(t, q.qsd.QMPSock, "block-dirty-bitmap-remove", map[string]any{"node": "disk0", "name": last.Volumes[0].DirtyBitmap})
	})
	step("clean restart keeps the chain", "changed ranges", false, q.qsd.Restart)
	// QEMU leaves a bitmap it did not save marked in use; the next start
	// drops it or loads it as inconsistent: either is a full read.
	step("killed daemon", ": full read", true, func() {
		q.qsd.Kill()
		q.qsd.Start()
	})
	step("chain after a restart", "changed ranges", false, func() {})
	t.Run("full read asked for", func(t *testing.T) {
		sn, _ := q.snap(t, true)
		noted(t, sn, "full read asked for: full read")
		wholeRead(t, sn, first)
		q.check(t, sn)
	})
	step("after --full the chain goes on", "changed ranges", false, func() {})
	// A snapshot that fails after the rotation folds the new bitmap back
	// into the old one: the next snapshot reads the writes from before
	// and after the failure.
	t.Run("failed snapshot", func(t *testing.T) {
		c := q.qsd.Dial(context.Background())
		write(t, c, rng, 4, 64<<10)
		q.failFlush = true
		q.snap(t, false)
		q.failFlush = false
		write(t, c, rng, 4, 64<<10)
		c.Close()
		sn, _ := q.snap(t, false)
		noted(t, sn, "changed ranges")
		q.check(t, sn)
	})
	// A vmrep killed during a snapshot leaves the old bitmap disabled, its
	// new one recording, and its export holding the old one busy: the next
	// snapshot removes the export, folds the new bitmap back, and the chain
	// goes on with the writes from before and after the switch.
	t.Run("leftovers of a killed snapshot", func(t *testing.T) {
		last, _ := q.cat.Latest(context.Background(), q.vg.ID)
		stale := "vmrep-" + q.vg.Volumes[0].ID + "-000000000000"
		c := q.qsd.Dial(context.Background())
		write(t, c, rng, 4, 64<<10)
		// What a snapshot does before it reads, then dies.
		qmpDo(t, q.qsd.QMPSock, "transaction", map[string]any{"actions": []map[string]any{
			{"type": "block-dirty-bitmap-add", "data": map[string]any{"node": "disk0", "name": stale, "persistent": true}},
			{"type": "block-dirty-bitmap-disable", "data": map[string]any{"node": "disk0", "name": last.Volumes[0].DirtyBitmap}}}})
		qmpDo(t, q.qsd.QMPSock, "block-export-add", map[string]any{"type": "nbd", "id": "vmrep-0000", "node-name": "disk0",
			"name": "vmrep-0000", "writable": false, "bitmaps": []string{last.Volumes[0].DirtyBitmap}})
		write(t, c, rng, 4, 64<<10)
		c.Close()
		sn, _ := q.snap(t, false)
		noted(t, sn, "changed ranges")
		q.check(t, sn)
		ctx := context.Background()
		qc, err := qmp.Dial(ctx, q.qsd.QMPSock)
		if err != nil {
			t.Fatal(err)
		}
		defer qc.Close()
		var nodes []struct {
			Node    string `json:"node-name"`
			Bitmaps []struct {
				Name string `json:"name"`
			} `json:"dirty-bitmaps"`
		}
		if err := qc.Execute(ctx, "query-named-block-nodes", map[string]any{"flat": true}, &nodes); err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			if n.Node == "disk0" && (len(n.Bitmaps) != 1 || n.Bitmaps[0].Name != sn.Volumes[0].DirtyBitmap) {
				t.Errorf("bitmaps left on the node: %+v, want only %s", n.Bitmaps, sn.Volumes[0].DirtyBitmap)
			}
		}
	})
	step("disk resized", "disk resized from 33554432 to 67108864 bytes: full read", true, func() {
		// The export holds the node without sharing resize: grow it offline.
		q.qsd.Stop()
		run(t, "qemu-img", "resize", "-q", q.qsd.Image, "64M")
		q.qsd.Start()
	})
	t.Run("new disk", func(t *testing.T) {
		img := filepath.Join(q.dir, "data.qcow2")
		testqsd.Image(t, img, 8<<20)
		d := testqsd.Start(t, img, "data")
		vg := q.vg
		vg.Volumes = append(vg.Volumes, volume.Volume{ID: volume.NewVolumeID(), Name: "data", Role: volume.RoleData, Source: d.URI(), QMP: d.QMPSock})
		if err := q.cat.UpdateVG(context.Background(), vg); err != nil {
			t.Fatal(err)
		}
		q.vg = vg
		sn, _ := q.snap(t, false)
		if n := sn.Volumes[1].ReadNote; n != "volume new since the last snapshot: full read" {
			t.Errorf("new volume: read note %q", n)
		}
		noted(t, sn, "changed ranges")
		q.check(t, sn)
	})
}

package fusefs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

func readDirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestTree checks the layout, sizes, modes, snapshot.json and the latest
// link, and that snapshots and VGs come and go without a remount.
func TestTree(t *testing.T) {
	requireFUSE(t)
	f := newFixture(t, nil)
	src := t.TempDir()
	boot, data := filepath.Join(src, "boot"), filepath.Join(src, "data")
	bootBytes := writeImage(t, boot, 3<<20, 1)
	dataBytes := writeImage(t, data, 1<<20+123, 2) // not a multiple of 4 KiB
	vg := f.createVG(t, "web", map[string]string{"boot": boot, "data": data}, "boot", "data")
	s1 := f.snapshot(t, vg)
	m := f.mount(t, Options{})
	ctx := context.Background()

	if got := readDirNames(t, m.Dir()); !slices.Equal(got, []string{"web"}) {
		t.Fatalf("root lists %v, want [web]", got)
	}
	web := filepath.Join(m.Dir(), "web")
	if got := readDirNames(t, web); !slices.Equal(got, []string{"1", "latest"}) {
		t.Fatalf("web lists %v", got)
	}
	if got := readDirNames(t, filepath.Join(web, "1")); !slices.Equal(got, []string{"boot.img", "data.img", "snapshot.json"}) {
		t.Fatalf("web/1 lists %v", got)
	}
	for _, tc := range []struct {
		name string
		want []byte
	}{{"boot.img", bootBytes}, {"data.img", dataBytes}} {
		p := filepath.Join(web, "1", tc.name)
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != int64(len(tc.want)) || fi.Mode().Perm() != 0o444 || !fi.Mode().IsRegular() {
			t.Errorf("%s: size %d mode %v, want %d -r--r--r--", tc.name, fi.Size(), fi.Mode(), len(tc.want))
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, tc.want) {
			t.Errorf("%s: content differs from the source", tc.name)
		}
	}
	if _, err := os.OpenFile(filepath.Join(web, "1", "boot.img"), os.O_RDWR, 0); !errors.Is(err, syscall.EROFS) {
		t.Errorf("open for writing: %v, want EROFS", err)
	}

	var info snapshotInfo
	b, err := os.ReadFile(filepath.Join(web, "1", "snapshot.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatalf("snapshot.json: %v\n%s", err, b)
	}
	if info.ID != s1.ID || info.Seq != 1 || len(info.Volumes) != 2 || info.Volumes[0].Manifest != s1.Volumes[0].Manifest ||
		info.Volumes[1].Size != int64(len(dataBytes)) || !info.Created.Equal(s1.Created) {
		t.Errorf("snapshot.json = %+v, snapshot %+v", info, s1)
	}
	if target, err := os.Readlink(filepath.Join(web, "latest")); err != nil || target != "1" {
		t.Errorf("latest -> %q, %v; want 1", target, err)
	}

	// A new snapshot appears and latest follows it.
	writeImage(t, data, 1<<20+123, 3)
	f.snapshot(t, vg)
	eventually(t, "web/2 appears", func() error {
		_, err := os.Stat(filepath.Join(web, "2", "data.img"))
		return err
	})
	eventually(t, "latest moves to 2", func() error {
		if target, err := os.Readlink(filepath.Join(web, "latest")); err != nil || target != "2" {
			return fmt.Errorf("latest -> %q, %v", target, err)
		}
		return nil
	})
	got, err := os.ReadFile(filepath.Join(web, "latest", "data.img"))
	if err != nil || bytes.Equal(got, dataBytes) || len(got) != len(dataBytes) {
		t.Errorf("latest/data.img: err %v, equal to snapshot 1: %v", err, bytes.Equal(got, dataBytes))
	}

	// A deleted snapshot disappears.
	if err := f.cat.DeleteSnapshot(ctx, vg.ID, 1); err != nil {
		t.Fatal(err)
	}
	eventually(t, "web/1 disappears", func() error {
		if _, err := os.Stat(filepath.Join(web, "1")); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("stat web/1: %v", err)
		}
		if names := readDirNames(t, web); slices.Contains(names, "1") {
			return fmt.Errorf("web lists %v", names)
		}
		return nil
	})

	// A new VG appears.
	f.createVG(t, "db", map[string]string{"boot": boot}, "boot")
	eventually(t, "db appears", func() error {
		if names := readDirNames(t, m.Dir()); !slices.Equal(names, []string{"db", "web"}) {
			return fmt.Errorf("root lists %v", names)
		}
		return nil
	})
	if got := readDirNames(t, filepath.Join(m.Dir(), "db")); len(got) != 0 {
		t.Errorf("db without snapshots lists %v", got)
	}
	if _, err := os.Lstat(filepath.Join(m.Dir(), "db", "latest")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("db/latest without snapshots: %v", err)
	}
}

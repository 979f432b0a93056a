package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"

	"github.com/vmrep/vmrep/bench/workload"
)

// mutations ingests each mutated image into the store holding its base as
// @1, then times diff, delta export and apply (onto a replica of @1, which
// must then equal the mutated image byte for byte) and restore, and
// measures xdelta3 and rsync on the same pair.
func (b *bench) mutations(ctx context.Context) error {
	scens := []struct{ name, base string }{{"os-files", "os"}, {"sparse-scatter", "sparse"}, {"sparse-seq", "sparse"}}
	if ok, err := b.osAptWorkload(ctx); err != nil {
		return err
	} else if ok {
		scens = append(scens, struct{ name, base string }{"os-apt", "os-apt-base"})
	}
	for _, s := range scens {
		store, baseImg, img := b.stores[s.base], b.path(s.base+".img"), b.path(s.name+".img")
		size := fileSize(img)
		changed, err := workload.Changed(baseImg, img)
		if err != nil {
			return err
		}
		warm(img)
		m, err := b.vmrep(ctx, 2, "ingest", "-store", store, "-image", img)
		if err != nil {
			return err
		}
		b.res.Ingest = append(b.res.Ingest, vmrepRow(s.name, "ingest-mutated", 2, size, m, duBytes(store)))
		seq := strconv.FormatUint(uint64(m.f("seq")), 10)
		delta, rep := b.path("d.vmdelta"), b.path("replica")
		ops := []struct {
			op   string
			args []string
		}{
			{"diff", []string{"diff", "-store", store, "-base", "1", "-target", seq}},
			{"export", []string{"export", "-store", store, "-base", "1", "-target", seq, "-o", delta}},
			{"replica", []string{"replica", "-store", store, "-seq", "1", "-dir", rep}},
			{"apply", []string{"apply", "-delta", delta, "-dir", rep}},
			{"restore", []string{"restore", "-store", store, "-seq", seq, "-o", b.path("restored.img")}},
		}
		for _, o := range ops {
			m, err := b.vmrep(ctx, 2, o.args...)
			if err != nil {
				return err
			}
			r := Row{Workload: s.name, Tool: "vmrep", Op: o.op, Procs: 2, Bytes: size, Seconds: m.f("seconds"), Wall: m.Wall,
				RSSMiB: float64(m.RSSKiB) / 1024, Changed: changed, Extra: map[string]float64{"cpu_s": m.CPU}}
			for _, k := range []string{"changed_bytes", "extents", "pages_read", "pages_skipped", "written_bytes", "stored_bytes", "target_copy_bytes"} {
				if v := m.f(k); v != 0 {
					r.Extra[k] = v
				}
			}
			if o.op == "export" {
				r.Delta = int64(m.f("delta_bytes"))
			}
			if w := m.f("written_bytes"); w > 0 && r.Seconds > 0 {
				r.MBps = w / r.Seconds / 1e6 // changed data moved per second
			}
			b.res.Delta = append(b.res.Delta, r)
		}
		if err := sameFile(ctx, img, replicaImage(rep)); err != nil {
			return fmt.Errorf("%s: replica after apply differs from the target: %w", s.name, err)
		}
		if err := sameFile(ctx, img, b.path("restored.img")); err != nil {
			return fmt.Errorf("%s: restore differs from the target: %w", s.name, err)
		}
		b.note("%s: replica after delta apply and restore both equal the target image (cmp)", s.name)
		os.RemoveAll(rep)
		os.Remove(delta)
		os.Remove(b.path("restored.img"))
		b.deltaPeers(ctx, s.name, baseImg, img, size, changed)
	}
	return nil
}

func replicaImage(dir string) string {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if len(e.Name()) > 4 && e.Name()[len(e.Name())-4:] == ".img" {
			return dir + "/" + e.Name()
		}
	}
	return dir + "/missing.img"
}

func sameFile(ctx context.Context, a, b string) error {
	if out, err := exec.CommandContext(ctx, "cmp", a, b).CombinedOutput(); err != nil {
		return fmt.Errorf("cmp: %v: %s", err, out)
	}
	return nil
}

package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"strconv"

	"github.com/vmrep/vmrep/bench/workload"
)

// sweep times cold ingest and re-ingest of a mixed image (half random, a
// quarter text, a quarter holes) at each size, for vmrep and restic.
func (b *bench) sweep(ctx context.Context) error {
	for _, size := range b.cfg.Sweep {
		img, store := b.path("mixed.img"), b.path("store-mixed")
		w := fmt.Sprintf("mixed-%dM", size>>20)
		log.Printf("sweep: %s", w)
		if err := workload.Mixed(img, b.cfg.Seed+5, size); err != nil {
			return err
		}
		if _, err := b.vmrep(ctx, 2, "init", "-store", store); err != nil {
			return err
		}
		for _, op := range []string{"ingest-cold", "reingest"} {
			warm(img)
			m, err := b.vmrep(ctx, 2, "ingest", "-store", store, "-image", img)
			if err != nil {
				return err
			}
			b.res.Sweep = append(b.res.Sweep, vmrepRow(w, op, 2, size, m, duBytes(store)))
		}
		os.RemoveAll(store)
		r, err := b.daemonIngest(ctx, w, img, size)
		if err != nil {
			return err
		}
		b.res.Sweep = append(b.res.Sweep, r)
		if b.peers["restic"] {
			repo := b.path("restic-mixed")
			env := []string{"RESTIC_PASSWORD=bench", "RESTIC_REPOSITORY=" + repo, "RESTIC_CACHE_DIR=" + b.path("restic-cache-mixed")}
			if _, err := runChild(ctx, env, "restic", "init", "--quiet"); err != nil {
				return err
			}
			warm(img)
			m, err := runChild(ctx, env, "restic", "backup", "--quiet", img)
			if err != nil {
				return err
			}
			b.res.Sweep = append(b.res.Sweep, Row{Workload: w, Tool: "restic", Op: "backup-cold", Bytes: size, Seconds: m.Wall,
				Wall: m.Wall, MBps: float64(size) / m.Wall / 1e6, RSSMiB: float64(m.RSSKiB) / 1024, Repo: duBytes(repo)})
			os.RemoveAll(repo)
			os.RemoveAll(b.path("restic-cache-mixed"))
		}
		os.Remove(img)
	}
	return nil
}

// synth times diff and page lookups on synthetic manifests of very large
// volumes: pages of the first (smallest) size in memory, of the larger ones streamed to a scratch file.
// The change count is 0.1% of the chunks of the smallest size at every
// size, so the diff's cost can be seen not to grow with the volume.
func (b *bench) synth(ctx context.Context) error {
	changed := b.cfg.Synth[0] / (64 << 10) / 1000
	for _, size := range b.cfg.Synth {
		args := []string{"synth", "-size", strconv.FormatInt(size, 10), "-changed", strconv.FormatInt(changed, 10),
			"-lookups", strconv.Itoa(b.cfg.Lookups), "-seed", strconv.FormatUint(b.cfg.Seed, 10)}
		where := "memory"
		if size > b.cfg.Synth[0] {
			args = append(args, "-file", b.path("pages.bin"))
			where = "scratch file"
		}
		log.Printf("synthetic manifests: %d GiB (%s)", size>>30, where)
		m, err := b.vmrep(ctx, 2, args...)
		if err != nil {
			return err
		}
		r := Row{Workload: fmt.Sprintf("synthetic-%dG", size>>30), Tool: "vmrep", Op: "diff", Procs: 2, Bytes: size,
			Seconds: m.f("seconds"), Wall: m.Wall, RSSMiB: float64(m.RSSKiB) / 1024, Changed: int64(m.f("changed_bytes")),
			Extra: map[string]float64{"changed_chunks": m.f("chunks"), "pages": m.f("pages"), "pages_read": m.f("pages_read"),
				"pages_skipped": m.f("pages_skipped"), "page_bytes": m.f("page_bytes"), "generate_s": m.f("gen_s"),
				"lookups": m.f("lookups"), "lookups_per_s": m.f("lookups") / m.f("lookup_s"), "in_memory": boolF(where == "memory")}}
		b.res.Synth = append(b.res.Synth, r)
	}
	return nil
}

func boolF(v bool) float64 {
	if v {
		return 1
	}
	return 0
}

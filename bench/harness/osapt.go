package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/vmrep/vmrep/bench/workload"
)

// osAptWorkload brings in the OS-disk delta workload that
// scripts/os-delta-workload.sh builds and caches (a debootstrap Debian
// root, and the same disk after an apt-get install run in place), as
// os-apt-base.img and os-apt.img, and ingests the base into a store of its
// own as @1. It is left out of smoke runs, and with a note when the script
// cannot build it here (it needs root and the apt mirror).
func (b *bench) osAptWorkload(ctx context.Context) (bool, error) {
	if b.cfg.Smoke {
		return false, nil
	}
	out, err := exec.CommandContext(ctx, "scripts/os-delta-workload.sh").Output()
	if err != nil {
		b.note("os-apt workload left out: scripts/os-delta-workload.sh: %v", err)
		return false, nil
	}
	dir := strings.TrimSpace(string(out))
	for from, to := range map[string]string{"before.img": "os-apt-base.img", "after.img": "os-apt.img"} {
		if err := workload.Copy(ctx, filepath.Join(dir, from), b.path(to)); err != nil {
			return false, err
		}
	}
	store := b.path("store-os-apt")
	if _, err := b.vmrep(ctx, 2, "init", "-store", store); err != nil {
		return false, err
	}
	if _, err := b.vmrep(ctx, 2, "ingest", "-store", store, "-image", b.path("os-apt-base.img")); err != nil {
		return false, err
	}
	b.stores["os-apt-base"] = store
	return true, nil
}

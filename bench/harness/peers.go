package main

import (
	"context"
	"os"
)

// peerStep is one peer command; repo is what it leaves on disk.
type peerStep struct {
	tool, op string
	env      []string
	argv     []string
	repo     string
	setup    [][]string // untimed commands run first
}

// ingestPeers runs each ingest peer on img, one after another, each from a
// fresh repository with the input warm. restic's second backup uses --force
// and borg's --files-cache=disabled, so both re-read the unchanged image as
// vmrep's re-ingest does instead of trusting size and mtime.
func (b *bench) ingestPeers(ctx context.Context, w, img string, size int64) error {
	rrepo, brepo := b.path("restic-"+w), b.path("borg-"+w)
	renv := []string{"RESTIC_PASSWORD=bench", "RESTIC_REPOSITORY=" + rrepo, "RESTIC_CACHE_DIR=" + b.path("restic-cache-"+w)}
	benv := []string{"BORG_BASE_DIR=" + b.path("borg-base-"+w), "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes", "BORG_RELOCATED_REPO_ACCESS_IS_OK=yes"}
	cstore, dstore := b.path("casync-"+w+".castr"), b.path("desync-"+w+".store")
	steps := []peerStep{
		{tool: "restic", op: "backup-cold", env: renv, repo: rrepo, setup: [][]string{{"restic", "init", "--quiet"}},
			argv: []string{"restic", "backup", "--quiet", img}},
		{tool: "restic", op: "backup-again", env: renv, repo: rrepo, argv: []string{"restic", "backup", "--quiet", "--force", img}},
		{tool: "borg", op: "create-cold", env: benv, repo: brepo, setup: [][]string{{"borg", "init", "-e", "none", brepo}},
			argv: []string{"borg", "create", brepo + "::a", img}},
		{tool: "borg", op: "create-again", env: benv, repo: brepo, argv: []string{"borg", "create", "--files-cache=disabled", brepo + "::b", img}},
		{tool: "casync", op: "make-cold", repo: cstore, argv: []string{"casync", "make", "--store=" + cstore, b.path("c-" + w + ".caibx"), img}},
		{tool: "desync", op: "make-cold", repo: dstore, setup: [][]string{{"mkdir", "-p", dstore}},
			argv: []string{"desync", "make", "-s", dstore, b.path("d-" + w + ".caibx"), img}},
	}
	for _, s := range steps {
		if !b.peers[s.tool] {
			continue
		}
		for _, argv := range s.setup {
			if _, err := runChild(ctx, s.env, argv...); err != nil {
				return err
			}
		}
		if err := warm(img); err != nil {
			return err
		}
		m, err := runChild(ctx, s.env, s.argv...)
		if err != nil {
			b.note("%s %s on %s failed, left out: %v", s.tool, s.op, w, err)
			continue
		}
		r := Row{Workload: w, Tool: s.tool, Op: s.op, Bytes: size, Seconds: m.Wall, Wall: m.Wall,
			RSSMiB: float64(m.RSSKiB) / 1024, Repo: duBytes(s.repo)}
		r.MBps = float64(size) / r.Seconds / 1e6
		b.res.Ingest = append(b.res.Ingest, r)
	}
	for _, p := range []string{rrepo, brepo, cstore, dstore, b.path("restic-cache-" + w), b.path("borg-base-" + w)} {
		os.RemoveAll(p)
	}
	return nil
}

// deltaPeers measures xdelta3 and rsync's batch on the same pair.
func (b *bench) deltaPeers(ctx context.Context, scen, base, target string, size, changed int64) {
	xd, rb := b.path("x.vcdiff"), b.path("r.batch")
	steps := []peerStep{
		{tool: "xdelta3", op: "delta", repo: xd, argv: []string{"xdelta3", "-e", "-f", "-s", base, target, xd}},
		// -I: size and mtime may match; --no-whole-file: rsync copies local
		// files whole by default, which is no delta at all.
		{tool: "rsync", op: "write-batch", repo: rb, argv: []string{"rsync", "-I", "--no-whole-file", "--only-write-batch=" + rb, target, base}},
	}
	for _, s := range steps {
		if !b.peers[s.tool] {
			continue
		}
		warm(base)
		warm(target)
		m, err := runChild(ctx, nil, s.argv...)
		if err != nil {
			b.note("%s on %s failed, left out: %v", s.tool, scen, err)
			continue
		}
		b.res.Delta = append(b.res.Delta, Row{Workload: scen, Tool: s.tool, Op: s.op, Bytes: size, Seconds: m.Wall, Wall: m.Wall,
			MBps: float64(size) / m.Wall / 1e6, RSSMiB: float64(m.RSSKiB) / 1024, Delta: fileSize(s.repo), Changed: changed,
			Extra: map[string]float64{"cpu_s": m.CPU}})
		os.Remove(s.repo)
		os.Remove(s.repo + ".sh")
	}
}

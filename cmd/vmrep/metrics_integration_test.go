package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
)

// TestMetrics scrapes vmrepd's /metrics while it ingests and replicates:
// the counters move as the work does and end at what the jobs report,
// lag and backlog are there per VG and target, and every scrape passes
// the Prometheus lint (and promtool check metrics, when installed).
func TestMetrics(t *testing.T) {
	pki := newReplPKI(t, t.TempDir())
	_, target := newReplServer(t, pki)
	d := newDaemon(t, "--http", "127.0.0.1:0")
	web := httpAddr(t, d)
	const size = 24 << 20
	boot := filepath.Join(d.dir, "m-boot.img")
	writeTextImage(t, boot, size, 1)
	d.ok("vg", "create", "m", "--boot", boot)
	vg := []string{"vg", "m"}

	s0 := scrape(t, web)
	lintMetrics(t, s0)
	s0.must(t, "vmrep_build_info")
	if n := s0.must(t, "vmrep_jobs", "kind", api.JobSnapshot, "state", api.StateRunning); n != 0 {
		t.Errorf("a snapshot job running before any: %v", n)
	}

	// An ingest, scraped while it runs: the counters never go back.
	mid := scrapeWhile(t, web, func() { d.ok("snapshot", "create", "m") })
	duringIngest := len(mid)
	s1 := scrape(t, web)
	lintMetrics(t, s1)
	checkMonotonic(t, append(append([]scraped{s0}, mid...), s1), "vmrep_ingest_read_bytes_total", vg...)
	sn1 := getSnapshot(t, d, "m", "1")
	read := s1.must(t, "vmrep_ingest_read_bytes_total", vg...) - s0.v("vmrep_ingest_read_bytes_total", vg...)
	fresh := s1.must(t, "vmrep_ingest_new_bytes_total", vg...)
	stored := s1.must(t, "vmrep_ingest_stored_bytes_total", vg...)
	if read < size || read > 2*size {
		t.Errorf("ingest read %v bytes of a %d-byte image with no holes", read, size)
	}
	if int64(fresh) != sn1.Volumes[0].NewBytes || fresh == 0 {
		t.Errorf("ingest new bytes %v, the snapshot says %d", fresh, sn1.Volumes[0].NewBytes)
	}
	if sb := sn1.Volumes[0].StoredBytes; sb == nil || int64(stored) != *sb || stored <= 0 || stored >= fresh/2 {
		t.Errorf("ingest stored %v bytes of %v new text bytes (the snapshot says %v): not compressed?", stored, fresh, sb)
	}
	if n := s1.must(t, "vmrep_ingest_new_chunks_total", vg...); n < 1 || n != float64(sn1.Volumes[0].Chunks) {
		t.Errorf("ingest new chunks %v, the snapshot has %d chunks, all new", n, sn1.Volumes[0].Chunks)
	}
	if n := s1.must(t, "vmrep_job_duration_seconds_count", "kind", api.JobSnapshot, "result", api.StateDone); n != 1 {
		t.Errorf("snapshot jobs done: %v, want 1", n)
	}
	if c, b := s1.must(t, "vmrep_store_chunks"), s1.must(t, "vmrep_store_stored_bytes"); c < float64(sn1.Volumes[0].Chunks) || b < stored {
		t.Errorf("store: %v chunks, %v stored bytes; the snapshot added %d chunks, %v bytes", c, b, sn1.Volumes[0].Chunks, stored)
	}
	if p := s1.must(t, "vmrep_store_packs"); p < 1 {
		t.Errorf("store packs %v", p)
	}

	// The same data again: all of it deduplicated, nothing new.
	d.ok("snapshot", "create", "m")
	s2 := scrape(t, web)
	if dd := s2.v("vmrep_ingest_deduplicated_bytes_total", vg...) - s1.v("vmrep_ingest_deduplicated_bytes_total", vg...); dd != size {
		t.Errorf("second snapshot of unchanged data deduplicated %v bytes, want %d", dd, size)
	}
	if n := s2.v("vmrep_ingest_new_bytes_total", vg...); n != fresh {
		t.Errorf("an unchanged snapshot added %v new bytes", n-fresh)
	}
	if n := s2.must(t, "vmrep_job_duration_seconds_count", "kind", api.JobSnapshot, "result", api.StateDone); n != 2 {
		t.Errorf("snapshot jobs done: %v, want 2", n)
	}

	// A replication, at a bounded rate so that scrapes see it run.
	var res api.ReplicateResult
	tl := []string{"target", target}
	mid = scrapeWhile(t, web, func() {
		d.okJSONResult(&res, "replicate", "m@2", "--to", target, "--token-file", pki.tokenFile, "--ca", pki.caFile, "--limit", "256KiB/s")
	})
	s3 := scrape(t, web)
	lintMetrics(t, s3)
	wire, logical := s3.must(t, "vmrep_replication_wire_bytes_total", tl...), s3.must(t, "vmrep_replication_sent_bytes_total", tl...)
	if int64(wire) != res.WireBytes || int64(logical) != res.SentBytes {
		t.Errorf("/metrics: %v wire and %v logical bytes; the replication reports %d and %d", wire, logical, res.WireBytes, res.SentBytes)
	}
	if wire <= 0 || wire >= logical {
		t.Errorf("wire bytes %v, logical %v: compressible data should cost less on the wire", wire, logical)
	}
	checkMonotonic(t, append(append([]scraped{s2}, mid...), s3), "vmrep_replication_wire_bytes_total", tl...)
	during := 0
	for _, s := range mid {
		if w := s.v("vmrep_replication_wire_bytes_total", tl...); w > 0 && w < wire &&
			s.v("vmrep_jobs", "kind", api.JobReplicate, "state", api.StateRunning) == 1 {
			during++
		}
	}
	if during == 0 {
		t.Errorf("no scrape of %d during the replication saw it running with part of its bytes sent", len(mid))
	}
	if n := s3.must(t, "vmrep_job_duration_seconds_count", "kind", api.JobReplicate, "result", api.StateDone); n != 1 {
		t.Errorf("replicate jobs done: %v, want 1", n)
	}
	lag := s3.must(t, "vmrep_replication_lag_seconds", "vg", "m", "target", target)
	if lag < 0 {
		t.Errorf("lag %v", lag)
	}
	if b := s3.must(t, "vmrep_replication_backlog_bytes", "vg", "m", "target", target); b != 0 {
		t.Errorf("backlog %v bytes right after replicating the newest snapshot", b)
	}

	// New data locally: the target's backlog grows.
	writeTextImage(t, boot, size, 2)
	d.ok("snapshot", "create", "m")
	s4 := scrape(t, web)
	if b := s4.must(t, "vmrep_replication_backlog_bytes", "vg", "m", "target", target); b < size/2 {
		t.Errorf("backlog %v bytes after rewriting the %d-byte image", b, size)
	}
	t.Logf("%d scrapes during the ingest, %d of %d during the replication saw it half done; lag %.3fs\n%s",
		duringIngest, during, len(mid), lag, s4.grep("vmrep_"))
}

// TestMetricsVerifyGCFuse checks the counters of verify, gc and the FUSE
// mounts.
func TestMetricsVerifyGCFuse(t *testing.T) {
	d := newDaemon(t, "--http", "127.0.0.1:0")
	web := httpAddr(t, d)
	boot := filepath.Join(d.dir, "f-boot.img")
	writeTextImage(t, boot, 4<<20, 3)
	d.ok("vg", "create", "f", "--boot", boot)
	d.ok("snapshot", "create", "f")
	writeTextImage(t, boot, 4<<20, 4)
	d.ok("snapshot", "create", "f")
	d.ok("snapshot", "delete", "f@1")

	d.ok("verify")
	d.ok("gc", "--dry-run")
	s := scrape(t, web)
	if n := s.must(t, "vmrep_verify_runs_total", "result", "ok"); n != 1 {
		t.Errorf("verify runs ok: %v", n)
	}
	if n := s.must(t, "vmrep_verify_last_problems"); n != 0 {
		t.Errorf("verify problems: %v", n)
	}
	if r := s.must(t, "vmrep_store_reclaimable_bytes"); r <= 0 {
		t.Errorf("reclaimable bytes %v after deleting a snapshot of its own data", r)
	}
	if ts := s.must(t, "vmrep_gc_last_run_timestamp_seconds"); ts <= 0 {
		t.Errorf("gc timestamp %v", ts)
	}
	d.ok("gc")
	s = scrape(t, web)
	if r := s.must(t, "vmrep_store_reclaimable_bytes"); r != 0 {
		t.Errorf("reclaimable bytes %v after a gc", r)
	}

	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	d.ok("mount", mnt)
	t.Cleanup(func() { d.vmrep("umount", mnt) })
	data, err := os.ReadFile(filepath.Join(mnt, "f", "2", "boot.img"))
	if err != nil {
		t.Fatal(err)
	}
	s = scrape(t, web)
	if n, b := s.must(t, "vmrep_fuse_reads_total"), s.must(t, "vmrep_fuse_read_bytes_total"); n < 1 || b != float64(len(data)) {
		t.Errorf("FUSE: %v reads, %v bytes; read %d bytes", n, b, len(data))
	}
	if n := s.must(t, "vmrep_fuse_read_errors_total"); n != 0 {
		t.Errorf("FUSE read errors: %v", n)
	}
	lintMetrics(t, s)

	// A schedule with an RPO: its next run and RPO state, linted too.
	d.ok("schedule", "set", "f", "--every", "24h", "--rpo", "2h")
	s = scrape(t, web)
	if r, b := s.must(t, "vmrep_rpo_seconds", "vg", "f"), s.must(t, "vmrep_rpo_breached", "vg", "f"); r != 7200 || b != 0 {
		t.Errorf("RPO %v s, breached %v; want 7200, 0", r, b)
	}
	if next := s.must(t, "vmrep_schedule_next_run_timestamp_seconds", "vg", "f"); next < float64(time.Now().Unix()) {
		t.Errorf("next scheduled run at %v, in the past", next)
	}
	lintMetrics(t, s)
}

// TestMetricsListener checks who may reach the monitoring listener: a
// non-loopback address without a token is refused at start (exit 2),
// and with a token every request must carry it, as a bearer token or a
// basic-auth password.
func TestMetricsListener(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(filepath.Join(binDir, "vmrepd"), "--store", filepath.Join(dir, "store"),
		"--socket", filepath.Join(dir, "sock"), "--http", "0.0.0.0:0")
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(out), "not a loopback address") {
		t.Fatalf("vmrepd --http 0.0.0.0:0 without a token: exit %d (%v), want 2:\n%s", code, err, out)
	}

	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := newDaemon(t, "--http", "127.0.0.1:0", "--http-token-file", tokenFile)
	web := httpAddr(t, d)
	for _, c := range []struct {
		name string
		set  func(*http.Request)
		want int
	}{
		{"no token", func(*http.Request) {}, http.StatusUnauthorized},
		{"wrong bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, http.StatusUnauthorized},
		{"wrong password", func(r *http.Request) { r.SetBasicAuth("prom", "nope") }, http.StatusUnauthorized},
		{"bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret-token") }, http.StatusOK},
		{"basic", func(r *http.Request) { r.SetBasicAuth("anyone", "s3cret-token") }, http.StatusOK},
	} {
		for _, path := range []string{"/metrics", "/"} {
			req, err := http.NewRequest("GET", "http://"+web+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			c.set(req)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("%s %s: %s, want %d", c.name, path, resp.Status, c.want)
			}
			if c.want == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("%s %s: no basic-auth challenge: %q", c.name, path, resp.Header.Get("WWW-Authenticate"))
			}
		}
	}
}

// scrapeWhile runs work and scrapes /metrics at addr until it returns.
func scrapeWhile(t *testing.T, addr string, work func()) []scraped {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		work()
	}()
	var out []scraped
	for {
		select {
		case <-done:
			return out
		default:
		}
		out = append(out, scrape(t, addr))
		time.Sleep(20 * time.Millisecond)
	}
}

// checkMonotonic checks the series never decreases over the scrapes.
func checkMonotonic(t *testing.T, ss []scraped, name string, labels ...string) {
	t.Helper()
	prev := 0.0
	for i, s := range ss {
		v := s.v(name, labels...)
		if v < prev {
			t.Errorf("%s%v went from %v down to %v at scrape %d", name, labels, prev, v, i)
		}
		prev = v
	}
}

func getSnapshot(t *testing.T, d *testDaemon, vg, seq string) api.Snapshot {
	t.Helper()
	sn, err := d.client(t).GetSnapshot(context.Background(), vg, seq)
	if err != nil {
		t.Fatal(err)
	}
	return sn
}

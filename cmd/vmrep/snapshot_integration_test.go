package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
)

func TestSnapshotCommands(t *testing.T) {
	d := newDaemon(t)
	d.makeVG("web", 8<<20, 2)

	// With --json, create streams NDJSON events ending with the result.
	out := d.ok("snapshot", "create", "web", "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var last api.Event
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatalf("last event: %v\n%s", err, out)
	}
	var s1 api.Snapshot
	if last.State != api.StateDone || json.Unmarshal(last.Result, &s1) != nil || s1.Seq != 1 {
		t.Fatalf("final event %+v", last)
	}
	if txt := d.ok("snapshot", "create", "web"); !strings.Contains(txt, "created snapshot web@2") {
		t.Fatalf("create text:\n%s", txt)
	}

	var snaps []api.Snapshot
	d.okJSON(&snaps, "snapshot", "list", "web")
	if len(snaps) != 2 || snaps[0].Seq != 1 || snaps[1].Seq != 2 || snaps[1].Parent != snaps[0].ID {
		t.Fatalf("snapshot list: %+v", snaps)
	}
	// Nothing changed: the second snapshot adds nothing and shares manifests.
	for i, v := range snaps[1].Volumes {
		if v.NewBytes != 0 || v.Manifest != snaps[0].Volumes[i].Manifest {
			t.Errorf("second snapshot volume %s: new %d, manifest %s vs %s", v.Name, v.NewBytes, v.Manifest, snaps[0].Volumes[i].Manifest)
		}
	}
	if txt := d.ok("snapshot", "list", "web"); !strings.Contains(txt, "100.0%") {
		t.Errorf("snapshot list shows no dedup:\n%s", txt)
	}

	var latest api.Snapshot
	d.okJSON(&latest, "snapshot", "show", "web@latest")
	if latest.ID != snaps[1].ID {
		t.Fatalf("web@latest = %s, want %s", latest.ID, snaps[1].ID)
	}
	d.ok("snapshot", "delete", "web@2")
	d.okJSON(&latest, "snapshot", "show", "web@latest")
	if latest.Seq != 1 {
		t.Fatalf("latest after delete = %d", latest.Seq)
	}
	if r := d.vmrep("snapshot", "show", "web@2"); r.code != 1 || !strings.Contains(r.stderr, "snapshot web@2 does not exist") {
		t.Fatalf("show deleted: %+v", r)
	}
	// Numbers are never reused.
	d.okJSON(&latest, "snapshot", "create", "web", "--detach")
	d.ok("jobs", "watch", latestJobID(t, d))
	d.okJSON(&latest, "snapshot", "show", "web@latest")
	if latest.Seq != 3 {
		t.Fatalf("snapshot after a delete got number %d, want 3", latest.Seq)
	}
	d.ok("verify")
}

// latestJobID is the newest job the daemon lists.
func latestJobID(t *testing.T, d *testDaemon) string {
	var jobs []api.Job
	d.okJSON(&jobs, "jobs", "list")
	if len(jobs) == 0 {
		t.Fatal("no jobs")
	}
	return jobs[len(jobs)-1].ID
}

// TestSnapshotRefsAreExact: a reference names exactly one snapshot, VG@N
// or VG@latest spelt out. Anything else is the same usage error (exit 2,
// one line) in every command, and nothing is deleted; a missing snapshot
// is named by its VG's name, whether the reference used the name or the ID.
// (Before, "snapshot delete web" and "web@" deleted the newest snapshot,
// "@1" exited 2 but "web@-1" 1, and a missing one named the VG's ID.)
func TestSnapshotRefsAreExact(t *testing.T) {
	d := newDaemon(t)
	d.makeVG("web", 4<<20, 21)
	d.ok("snapshot", "create", "web")
	d.ok("snapshot", "create", "web")
	out := filepath.Join(d.dir, "out")
	commands := [][]string{
		{"snapshot", "delete"}, {"snapshot", "show"}, {"restore", "-o", out}, {"export", "--format", "raw", "-o", out},
		{"replica", "create", "--dir", out}, {"diff", "web@1"}, {"delta", "export", "web@1", "-o", out},
		{"replicate", "--to", "127.0.0.1:1", "--token-file", "tok"}, {"stack", "generate", "--out", out},
	}
	for _, ref := range []string{"web", "web@", "@1", "web@-1", "web@0", "web@x", "web@01", "web@+1", "web@latest@1"} {
		for _, c := range commands {
			// The reference goes right after the command's words, before flags.
			words := 2
			if c[0] == "restore" || c[0] == "export" || c[0] == "replicate" {
				words = 1
			}
			argv := append(append(append([]string{}, c[:words]...), ref), c[words:]...)
			r := d.vmrep(argv...)
			want := "vmrep: invalid snapshot reference \"" + ref + "\": want VG@N (N = 1, 2, ...) or VG@latest\n"
			if r.code != 2 || r.stderr != want {
				t.Errorf("vmrep %s: exit %d, stderr %q; want exit 2 and %q", strings.Join(argv, " "), r.code, r.stderr, want)
			}
		}
	}
	var snaps []api.Snapshot
	d.okJSON(&snaps, "snapshot", "list", "web")
	if len(snaps) != 2 {
		t.Fatalf("malformed deletes deleted something: %d snapshots left", len(snaps))
	}
	vgID := snaps[0].VGID
	for _, argv := range [][]string{
		{"snapshot", "show", "web@9"}, {"snapshot", "delete", "web@9"}, {"snapshot", "show", vgID + "@9"},
		{"restore", "web@9", "-o", out}, {"diff", "web@1", "web@9"}, {"replica", "create", vgID + "@9", "--dir", out},
	} {
		r := d.vmrep(argv...)
		if want := "vmrep: snapshot web@9 does not exist\n"; r.code != 1 || r.stderr != want {
			t.Errorf("vmrep %s: exit %d, stderr %q; want exit 1 and %q", strings.Join(argv, " "), r.code, r.stderr, want)
		}
	}
	// latest only when spelt out, and then exactly the newest one.
	d.ok("snapshot", "delete", "web@latest")
	d.okJSON(&snaps, "snapshot", "list", "web")
	if len(snaps) != 1 || snaps[0].Seq != 1 {
		t.Fatalf("after deleting web@latest: %+v", snaps)
	}
}

// TestSnapshotDeletePinned: the snapshot a replica this daemon wrote is at
// needs --force to delete, through replica create and delta apply alike;
// once the replica moved on, or is gone, it pins nothing.
func TestSnapshotDeletePinned(t *testing.T) {
	d := newDaemon(t)
	d.makeVG("web", 4<<20, 23)
	d.ok("snapshot", "create", "web")
	d.ok("snapshot", "create", "web")
	d.ok("snapshot", "create", "web")
	rep := filepath.Join(d.dir, "replica")
	d.ok("replica", "create", "web@1", "--dir", rep)

	refused := func(ref string) {
		t.Helper()
		r := d.vmrep("snapshot", "delete", ref)
		if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "replica "+rep+" is at it") ||
			!strings.Contains(r.stderr, "--force") {
			t.Fatalf("delete %s under a replica: exit %d, stderr %q", ref, r.code, r.stderr)
		}
	}
	refused("web@1")
	// The daemon refuses too, whatever client asks.
	hc := &http.Client{Transport: &http.Transport{DialContext: unixDial(d.socket)}}
	req, _ := http.NewRequest(http.MethodDelete, "http://vmrepd/v1/vgs/web/snapshots/1", nil)
	if resp, err := hc.Do(req); err != nil || resp.StatusCode != http.StatusConflict {
		t.Fatalf("API delete of a pinned snapshot: %v, %v", resp, err)
	} else {
		resp.Body.Close()
	}
	// A daemon restart keeps what it knows.
	d.stop()
	d.start()
	refused("web@1")

	delta := filepath.Join(d.dir, "d12.vmdelta")
	d.ok("delta", "export", "web@1", "web@2", "-o", delta)
	d.ok("delta", "apply", delta, "--replica", rep)
	d.ok("snapshot", "delete", "web@1") // the replica moved on
	refused("web@2")
	d.ok("snapshot", "delete", "web@2", "--force")

	// A replica that is gone pins nothing.
	rep3 := filepath.Join(d.dir, "replica3")
	d.ok("replica", "create", "web@3", "--dir", rep3)
	if r := d.vmrep("snapshot", "delete", "web@3"); r.code != 1 || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("delete web@3 under replica3: %+v", r)
	}
	mustRun(t, "rm", "-rf", rep3)
	d.ok("snapshot", "delete", "web@3")
}

// TestSnapshotCreateInterrupt: Ctrl-C while snapshot create waits cancels
// the job, commits nothing and exits 130 with one line; with --detach the
// CLI says how to follow the job, which goes on. (Before, Ctrl-C printed
// "interrupt signal received", exited 1, and the job committed anyway.)
func TestSnapshotCreateInterrupt(t *testing.T) {
	d := newDaemon(t)
	d.makeVG("web", 4<<20, 25)
	d.ok("vg", "set", "web", "--pre-snapshot", "sleep 3")
	vgs0, snaps0 := state(t, d)

	cmd := exec.Command(filepath.Join(binDir, "vmrep"), "--socket", d.socket, "snapshot", "create", "web")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cl := d.client(t)
	var job api.Job
	waitFor(t, "a running snapshot job", func() error {
		jobs, err := cl.ListJobs(context.Background())
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if j.Kind == api.JobSnapshot && j.State == api.StateRunning {
				job = j
				return nil
			}
		}
		return context.DeadlineExceeded
	})
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	code := cmd.ProcessState.ExitCode()
	want := "vmrep: canceled; job " + job.ID + " was canceled, nothing was committed\n"
	if code != 130 || stderr.String() != want || stdout.Len() != 0 {
		t.Fatalf("interrupted create: %v, exit %d, stdout %q, stderr %q; want exit 130 and %q", err, code, stdout.String(), stderr.String(), want)
	}
	j, err := cl.GetJob(context.Background(), job.ID)
	if err != nil || j.State != api.StateCanceled {
		t.Fatalf("job after the interrupt: %+v, %v", j, err)
	}
	// The hook's sleep is over by now: a job that went on would have committed.
	time.Sleep(4 * time.Second)
	if vgs1, snaps1 := state(t, d); len(snaps1) != len(snaps0) || len(vgs1) != len(vgs0) {
		t.Fatalf("an interrupted create changed the store: %d snapshots, want %d", len(snaps1), len(snaps0))
	}

	d.ok("vg", "set", "web", "--pre-snapshot", "sleep 6") // time enough to watch it run
	r := d.vmrep("snapshot", "create", "web", "--detach")
	id := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(id, "job-") || !strings.Contains(r.stderr, "follow it with: vmrep jobs watch "+id) {
		t.Fatalf("detached create: %+v", r)
	}
	// Ctrl-C while watching a job stops watching, not the job.
	watch := exec.Command(filepath.Join(binDir, "vmrep"), "--socket", d.socket, "jobs", "watch", id, "--json")
	pipe, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	watch.Stderr = &stderr
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(pipe).ReadString('\n'); err != nil { // the first event: it follows
		t.Fatalf("jobs watch: %v", err)
	}
	watch.Process.Signal(syscall.SIGINT)
	watch.Wait()
	if code := watch.ProcessState.ExitCode(); code != 130 || !strings.Contains(stderr.String(), "stopped watching job "+id+", which goes on") {
		t.Fatalf("interrupted watch: exit %d, stderr %q", code, stderr.String())
	}
	d.ok("jobs", "watch", id)
	var snaps []api.Snapshot
	d.okJSON(&snaps, "snapshot", "list", "web")
	if len(snaps) != 1 {
		t.Fatalf("detached create: %d snapshots, want 1", len(snaps))
	}
}

func TestSnapshotStoredBytes(t *testing.T) {
	d := newDaemon(t)
	d.makeVG("web", 8<<20, 3)
	d.ok("snapshot", "create", "web")
	d.ok("snapshot", "create", "web") // nothing changed: adds nothing

	type vol struct {
		Name        string `json:"name"`
		NewBytes    int64  `json:"new_bytes"`
		StoredBytes *int64 `json:"stored_bytes"`
	}
	var s1, s2 struct{ Volumes []vol }
	d.okJSON(&s1, "snapshot", "show", "web@1")
	d.okJSON(&s2, "snapshot", "show", "web@2")
	for _, v := range s1.Volumes {
		// Random data does not compress: what the store took is about
		// the new bytes, plus the manifest pages.
		if v.StoredBytes == nil || *v.StoredBytes < v.NewBytes || *v.StoredBytes > v.NewBytes+v.NewBytes/10 {
			t.Errorf("web@1 volume %s: stored %s for %d new bytes", v.Name, storedText(v.StoredBytes), v.NewBytes)
		}
	}
	for _, v := range s2.Volumes {
		if v.StoredBytes == nil || *v.StoredBytes != 0 {
			t.Errorf("web@2 volume %s added nothing but reports stored %s", v.Name, storedText(v.StoredBytes))
		}
	}
	if out := d.ok("snapshot", "show", "web@1"); !strings.Contains(out, "STORED") || !strings.Contains(out, "4.0 MiB") {
		t.Errorf("snapshot show text:\n%s", out)
	}
}

func storedText(n *int64) string {
	if n == nil {
		return "null"
	}
	return strconv.FormatInt(*n, 10)
}

package main

import (
	"bytes"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
)

// statusPageURL is the URL of the daemon's status page (vmrepd --http).
func statusPageURL(t *testing.T, d *testDaemon) string {
	t.Helper()
	return "http://" + httpAddr(t, d) + "/"
}

// pageFacts is what the test reads from the status page's DOM.
type pageFacts struct {
	Live, CSS  string
	Refreshes  int
	VGs        []string // sections of volume groups, by name
	Overview   []string // rows of the overview table
	Jobs       []pageJob
	Targets    map[string][]string // VG -> data-to of its target rows
	LagCharts  []string            // VGs with a lag chart drawn
	ByteCharts map[string]int      // VG -> bars in its stored-bytes chart
	Lines      int                 // polylines and dots of the lag charts
	Snapshots  []string
	Errors     int
	Width      int // of the document: more than the viewport is sideways scrolling
	Viewport   int
}

type pageJob struct {
	ID, Kind, Phase, Target string
	Done, Total             int64
	Progress                bool // a <progress> element with a value
}

const pageFactsJS = `(() => {
  const q = (s, r) => Array.from((r || document).querySelectorAll(s));
  const f = {Live: document.documentElement.dataset.live || "", CSS: document.documentElement.dataset.css || "",
    Refreshes: +(document.documentElement.dataset.refreshes || 0),
    VGs: q("section.vg").map(s => s.dataset.vg), Overview: q("#overview tr[data-vg]").map(r => r.dataset.vg),
    Jobs: q("#jobs tr.job").map(r => ({ID: r.dataset.job, Kind: r.dataset.kind, Phase: r.dataset.phase,
      Target: r.querySelector("td[data-label=Target]").textContent,
      Done: +r.dataset.done, Total: +r.dataset.total, Progress: !!r.querySelector("progress.job-progress[value]")})),
    Targets: {}, LagCharts: q("section.vg svg.chart[data-chart=lag]").map(s => s.closest("section").dataset.vg),
    ByteCharts: {}, Lines: q("svg[data-chart=lag] polyline, svg[data-chart=lag] circle").length,
    Snapshots: q("tr.snapshot").map(r => r.dataset.snapshot), Errors: q("#errors tr.failed-job").length,
    Width: document.documentElement.scrollWidth, Viewport: window.innerWidth};
  for (const s of q("section.vg")) {
    f.Targets[s.dataset.vg] = q("tr.target", s).map(r => r.dataset.to);
    f.ByteCharts[s.dataset.vg] = q("svg[data-chart=stored] rect", s).length;
  }
  return f;
})()`

func (tb *tab) facts() pageFacts {
	tb.b.t.Helper()
	var f pageFacts
	if err := tb.eval(pageFactsJS, &f); err != nil {
		tb.b.t.Fatal(err)
	}
	return f
}

// TestStatusPageInBrowser opens the status page of a real daemon in
// headless Chromium before a slow replication starts, waits until the
// page, refreshing itself, shows that job's progress, checks the DOM
// (the job's row and progress, the VGs, their targets, charts and
// snapshots; no sideways scrolling at phone width), and saves screenshots
// at desktop and phone widths under the test's temp dir. With
// VMREP_SCREENSHOT_DIR set it also copies them there (for the README).
func TestStatusPageInBrowser(t *testing.T) {
	chromiumBinary(t)
	src := newDaemon(t, "--http", "127.0.0.1:0")
	url := statusPageURL(t, src)
	pki := newReplPKI(t, t.TempDir())
	_, addr := newReplServer(t, pki)
	repl := func(ref string, extra ...string) []string {
		return append([]string{"replicate", ref, "--to", addr, "--token-file", pki.tokenFile, "--ca", pki.caFile}, extra...)
	}
	// web: replicated, then a snapshot more (a backlog); big: a slow
	// replication.
	_, data := src.makeVG("web", 8<<20, 1)
	src.ok("snapshot", "create", "web")
	src.ok(repl("web@1")...)
	f, err := os.OpenFile(data, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte("vmrep"), 40000), 1<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	src.ok("snapshot", "create", "web")
	src.makeVG("big", 32<<20, 3)
	src.ok("snapshot", "create", "big")

	br := startBrowser(t)
	desk := br.open(url, 1280, 900, false)
	desk.waitFor("both volume groups", `document.querySelector('section.vg[data-vg="big"]') && document.querySelector('section.vg[data-vg="web"]')`, time.Minute)
	if f := desk.facts(); len(f.Jobs) != 0 || f.Live != "on" || f.CSS != "ok" {
		t.Fatalf("before the job: %+v (the script and style sheet must run under the page's policy)", f)
	}

	// The slow replication starts after the page loaded: the page shows it
	// by refreshing itself.
	cmd := exec.Command(filepath.Join(binDir, "vmrep"), append([]string{"--socket", src.socket}, repl("big@1", "--limit", "4Mbit")...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- cmd.Wait() }()
	ended := false
	defer func() {
		if !ended {
			cmd.Process.Kill()
			<-ran
		}
	}()
	desk.waitFor("the replication's progress", `(() => { const r = document.querySelector('#jobs tr.job[data-kind="replicate"][data-phase="send"]');
		return r && +r.dataset.done > 0 && r.querySelector('progress.job-progress[value]') && +r.querySelector('progress').value > 0; })()`, 2*time.Minute)
	df := desk.facts()
	var running []api.Job
	src.okJSON(&running, "jobs")
	var job api.Job
	for _, j := range running {
		if j.Kind == api.JobReplicate && j.State == api.StateRunning {
			job = j
		}
	}
	if len(df.Jobs) != 1 || df.Jobs[0].ID != job.ID || df.Jobs[0].Kind != api.JobReplicate ||
		!strings.HasPrefix(df.Jobs[0].Target, "big@1 to "+addr) || df.Jobs[0].Done <= 0 || df.Jobs[0].Total < df.Jobs[0].Done || !df.Jobs[0].Progress {
		t.Fatalf("job rows %+v; the daemon runs %+v", df.Jobs, job)
	}
	if df.Refreshes == 0 {
		t.Fatalf("the job appeared without a refresh: %+v", df)
	}
	if strings.Join(df.VGs, " ") != "big web" || strings.Join(df.Overview, " ") != "big web" {
		t.Fatalf("VG sections %v, overview rows %v", df.VGs, df.Overview)
	}
	if got := df.Targets["web"]; len(got) != 1 || got[0] != addr || len(df.Targets["big"]) != 0 {
		t.Fatalf("targets %v", df.Targets)
	}
	if strings.Join(df.LagCharts, " ") != "web" || df.Lines == 0 || df.ByteCharts["web"] != 2 || df.ByteCharts["big"] != 1 {
		t.Fatalf("charts: lag in %v (%d lines and dots), bars %v", df.LagCharts, df.Lines, df.ByteCharts)
	}
	if strings.Join(df.Snapshots, " ") != "big@1 web@2 web@1" {
		t.Fatalf("snapshot rows %v", df.Snapshots)
	}
	if df.Width > df.Viewport {
		t.Fatalf("desktop page %d px wide in a %d px window", df.Width, df.Viewport)
	}

	dir := t.TempDir()
	shots := map[string]string{"desktop": filepath.Join(dir, "status-desktop.png"), "phone": filepath.Join(dir, "status-phone.png")}
	desk.screenshot(shots["desktop"])
	var dom string
	if err := desk.eval("document.documentElement.outerHTML", &dom); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "status.html"), []byte(dom), 0o644); err != nil {
		t.Fatal(err)
	}

	// At phone width: the same content, no sideways scrolling of the page.
	phone := br.open(url, 390, 844, true)
	phone.waitFor("the page", `document.querySelector('section.vg[data-vg="web"] svg.chart')`, time.Minute)
	pf := phone.facts()
	if pf.Viewport != 390 || pf.Width > pf.Viewport || strings.Join(pf.VGs, " ") != "big web" || len(pf.LagCharts) != 1 {
		t.Fatalf("at phone width: %+v", pf)
	}
	phone.screenshot(shots["phone"])

	for name, p := range shots {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s screenshot: %v", name, err)
		}
		wantW := map[string]int{"desktop": 1280, "phone": 390}[name]
		if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w != wantW || h < 600 {
			t.Fatalf("%s screenshot is %dx%d, want %d wide", name, w, h, wantW)
		}
		t.Logf("%s screenshot: %s (%d bytes)", name, p, len(b))
		if out := os.Getenv("VMREP_SCREENSHOT_DIR"); out != "" {
			if err := os.WriteFile(filepath.Join(out, filepath.Base(p)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	// The job cancelled: the page, refreshing itself, shows none running.
	// (The phone's page: the newest tab is the visible one, and a hidden
	// page does not refresh.)
	src.ok("jobs", "cancel", job.ID)
	ended = true
	if err := <-ran; err == nil {
		t.Fatal("the cancelled replicate succeeded")
	}
	phone.waitFor("no job running", `!document.querySelector('#jobs tr.job') && document.querySelector('#jobs').textContent.includes('No job is running')`, time.Minute)

	// A restart keeps the lag history: web's chart, which without it would
	// be one dot (the lag now), is still a line from the push's sample.
	if _, err := os.Stat(filepath.Join(src.store, "lag-history.json")); err != nil {
		t.Fatalf("no lag history in the store: %v", err)
	}
	src.stop()
	src.start()
	res, err := http.Get(statusPageURL(t, src))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	_, web, _ := strings.Cut(string(body), `<section class="vg" id="vg-web"`)
	if res.StatusCode != http.StatusOK || !strings.Contains(web, `<polyline class="line s0"`) {
		t.Fatalf("after a restart: %s, web's section:\n%s", res.Status, web)
	}
}

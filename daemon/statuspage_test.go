package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/engine/volume"
	"github.com/vmrep/vmrep/internal/clock"
)

// pageFixture is a server with a VG "web" of three snapshots, web@2
// pushed to a target whose name needs escaping, a day of lag samples,
// a running job with progress and a failed one.
func pageFixture(t *testing.T) (*Server, *clock.Fake, func()) {
	t.Helper()
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s, vg := forgetFixture(t, t.TempDir(), nil)
	fc := clock.NewFake(t0.Add(26 * time.Hour))
	s.clock = fc
	ctx := context.Background()
	vg.NextSeq = 4
	if err := s.cat.UpdateVG(ctx, vg); err != nil {
		t.Fatal(err)
	}
	var snaps []volume.Snapshot
	for i, stored := range []int64{20 << 20, 3 << 20, 0} {
		sn := volume.Snapshot{ID: volume.NewSnapshotID(), VGID: vg.ID, VGName: vg.Name, Seq: uint64(i + 1),
			Created: t0.Add(time.Duration(i) * 12 * time.Hour),
			Volumes: []volume.VolumeSnapshot{{VolumeID: vg.Volumes[0].ID, Name: "boot", Role: volume.RoleBoot,
				Size: 64 << 20, DataBytes: 48 << 20, NewBytes: stored * 2, StoredBytes: stored, StoredCounted: i != 2,
				Manifest: blob.ID{byte(i + 1)}}}}
		if err := s.cat.PutSnapshot(ctx, sn); err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, sn)
	}
	// The manifests are made up: the backlog cannot be computed, which
	// the page shows as an error.
	s.known.pushed("<b>dr</b>:7443", snaps[1], t0.Add(13*time.Hour))

	s.StartLagHistory()
	rec := s.lagHistory()
	rec.mu.Lock()
	var pts []lagPoint
	for m := 0; m < 24*60; m += 2 {
		at := fc.Now().Add(-lagKeep + time.Duration(m)*time.Minute)
		if m > 600 && m < 700 {
			continue // the daemon was down: the line breaks
		}
		pts = append(pts, lagPoint{At: at.Unix(), Lag: float64(m%120) * 60})
	}
	rec.mu.series[lagKey(vg.ID, "<b>dr</b>:7443")] = &lagSeries{VGID: vg.ID, VG: vg.Name, To: "<b>dr</b>:7443", Samples: pts}
	rec.mu.Unlock()

	if _, err := s.jobs.start(api.JobReplicate, "web@2 to 127.0.0.1:1", func(context.Context, *job) (any, error) {
		return nil, api.Errorf(api.CodeBusy, "dial <tcp>: connection refused")
	}, nil); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	started := make(chan struct{})
	if _, err := s.jobs.start(api.JobSnapshot, "web", func(ctx context.Context, j *job) (any, error) {
		j.progress("ingest", 3<<20, 12<<20, "volume boot")
		close(started)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, errors.New("stopped")
	}, nil); err != nil {
		t.Fatal(err)
	}
	<-started
	deadline := time.Now().Add(time.Minute)
	for lastError(s.jobs.list(), "web") == nil {
		if time.Now().After(deadline) {
			t.Fatal("the failing job never failed")
		}
		time.Sleep(time.Millisecond)
	}
	return s, fc, func() { close(release) }
}

func getPage(t *testing.T, h http.Handler, method string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, "/", nil))
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// TestStatusPage renders the page of pageFixture and checks what it shows,
// that it escapes what it shows, that its inline style and script are the
// ones its Content-Security-Policy admits, and that it links to nothing
// outside itself.
func TestStatusPage(t *testing.T) {
	s, _, release := pageFixture(t)
	defer release()
	h := s.HTTPHandler("")
	res, page := getPage(t, h, http.MethodGet)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /: %s %q\n%s", res.Status, res.Header.Get("Content-Type"), page)
	}
	for _, want := range []string{
		`<section class="vg" id="vg-web" data-vg="web">`,
		`data-kind="snapshot" data-state="running" data-phase="ingest" data-done="3145728" data-total="12582912"`,
		`<progress class="job-progress" max="12582912" value="3145728">25%</progress>`,
		`3 MiB of 12 MiB (25%)`,
		`&lt;b&gt;dr&lt;/b&gt;:7443`,           // the target, escaped
		`dial &lt;tcp&gt;: connection refused`, // the failed job, escaped
		`<svg class="chart lag" data-chart="lag"`,
		`<svg class="chart stored" data-chart="stored"`,
		`data-snapshot="web@3"`, `data-snapshot="web@1"`,
		`Lag over the last 24 hours`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(page, "<b>dr</b>") || strings.Contains(page, "<tcp>") {
		t.Error("page shows unescaped text")
	}
	// The samples, with a gap, make two lines; the stored chart has a bar
	// per snapshot, web@3's (not counted) marked approximate.
	if n := strings.Count(page, `<polyline class="line s0"`); n != 2 {
		t.Errorf("%d lag lines, want 2 (a gap)", n)
	}
	if n := strings.Count(page, `<rect class="bar`); n != 3 {
		t.Errorf("%d bars, want 3", n)
	}
	if !strings.Contains(page, `<rect class="bar approx"`) || !strings.Contains(page, "web@1: 20 MiB stored") {
		t.Error("stored chart: no approximate bar, or web@1's title wrong")
	}
	if !regexp.MustCompile(`<tr class="target" data-to="&lt;b&gt;dr&lt;/b&gt;:7443" data-lag="(\d+)"`).MatchString(page) {
		t.Error("no target row")
	}
	if lag := regexp.MustCompile(`data-lag="(\d+)"`).FindStringSubmatch(page); lag == nil || lag[1] != "50400" {
		t.Errorf("target lag %v, want 14h = 50400 s (web@2 at +12h, now +26h)", lag)
	}

	// What the policy admits is exactly what the page inlines.
	csp := res.Header.Get("Content-Security-Policy")
	for tag, re := range map[string]*regexp.Regexp{"style": regexp.MustCompile(`(?s)<style>(.*?)</style>`), "script": regexp.MustCompile(`(?s)<script>(.*?)</script>`)} {
		m := re.FindAllStringSubmatch(page, -1)
		if len(m) != 1 {
			t.Fatalf("%d <%s> elements", len(m), tag)
		}
		sum := sha256.Sum256([]byte(m[0][1]))
		if want := tag + "-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	// Nothing from elsewhere: every src and href is the page's own.
	for _, m := range regexp.MustCompile(`(?i)\b(src|href|action)\s*=\s*"([^"]*)"`).FindAllStringSubmatch(page, -1) {
		if !strings.HasPrefix(m[2], "#") && m[2] != "metrics" {
			t.Errorf("page refers to %s=%q", m[1], m[2])
		}
	}
	if regexp.MustCompile(`(?i)https?:|//[a-z]|@import|url\(`).MatchString(statusPageCSS + statusPageJS) {
		t.Error("the style sheet or script names a URL")
	}

	// HEAD: the headers of GET, no body. Other methods: not the page.
	hres, body := getPage(t, h, http.MethodHead)
	if hres.StatusCode != http.StatusOK || body != "" || hres.Header.Get("Content-Length") == "" {
		t.Errorf("HEAD /: %s, %d bytes, length %q", hres.Status, len(body), hres.Header.Get("Content-Length"))
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		if r, b := getPage(t, h, m); r.StatusCode == http.StatusOK || strings.Contains(b, "<main") {
			t.Errorf("%s /: %s", m, r.Status)
		}
	}
}

// An empty store: the page says so instead of drawing empty charts.
func TestStatusPageEmpty(t *testing.T) {
	dir := t.TempDir()
	if err := cas.Init(context.Background(), dir, cas.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	s := openTestServer(t, dir)
	_, page := getPage(t, s.HTTPHandler(""), http.MethodGet)
	for _, want := range []string{"No volume groups yet", "No job is running.", "No schedules", "No failed job"} {
		if !strings.Contains(page, want) {
			t.Errorf("empty page lacks %q", want)
		}
	}
	if strings.Contains(page, "<svg") {
		t.Error("empty page draws a chart")
	}
}

func TestChartScales(t *testing.T) {
	for _, c := range []struct {
		v          float64
		steps      []float64
		step, top  float64
		text, want string
	}{
		{0, durationSteps, 1, 1, durationText(0), "0s"},
		{50, durationSteps, 15, 60, durationText(50), "50s"},
		{3700, durationSteps, 1800, 5400, durationText(3700), "1h 1m"},
		{30 * 3600, durationSteps, 43200, 43200 * 3, durationText(30 * 3600), "1d 6h"},
		{20 * 86400, durationSteps, 5 * 86400, 20 * 86400, durationText(90), "1m 30s"},
		{37 << 20, byteSteps, 10 << 20, 40 << 20, bytesText(37 << 20), "37 MiB"},
		{1000, byteSteps, 500, 1000, bytesText(1536), "1.5 KiB"},
	} {
		step, top := niceStep(c.v, c.steps)
		if step != c.step || top != c.top || top < c.v || top/step > 4 {
			t.Errorf("niceStep(%v) = %v, %v; want %v, %v", c.v, step, top, c.step, c.top)
		}
		if c.text != c.want {
			t.Errorf("text %q, want %q", c.text, c.want)
		}
	}
}

// The schedule and cut-over parts of the page, with text that needs
// escaping.
func TestStatusPageScheduleAndCutover(t *testing.T) {
	s, fc, release := pageFixture(t)
	defer release()
	now := fc.Now()
	next, last := now.Add(15*time.Minute), now.Add(-45*time.Minute)
	s.scheduleInfo = func(string) (api.StatusSchedule, bool) {
		return api.StatusSchedule{Every: "1h", NextRun: &next, LastRun: &last, LastResult: api.RunFailed,
			LastError: `pre-snapshot hook "<fsfreeze>" failed`}, true
	}
	vgs, err := s.cat.ListVGs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cutovers.mark(cutoverRecord{VGID: vgs[0].ID, VGName: "web", Snapshot: "web@2", Replica: "/srv/replicas/<web>",
		At: now.Add(-2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	_, page := getPage(t, s.HTTPHandler(""), http.MethodGet)
	for _, want := range []string{
		`<td data-label="Next run">in 15m</td>`, // overview
		`<time datetime="` + next.Format(time.RFC3339) + `">in 15m</time>`,
		`<td data-label="Last run">45m ago</td>`,
		`<span class="state failed">failed</span><div class="msg error">pre-snapshot hook &#34;&lt;fsfreeze&gt;&#34; failed</div>`,
		`<h2>web <span class="state cut-over">cut-over</span></h2>`,
		`Cut over 2h ago to the replica <code>/srv/replicas/&lt;web&gt;</code> at web@2`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

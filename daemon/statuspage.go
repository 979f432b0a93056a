package daemon

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/volume"
)

// The status page is one server-rendered document: its style sheet and
// its script (live refresh only) are embedded and inlined, so that it
// fetches nothing but itself, and a Content-Security-Policy that admits
// only those two, by hash, makes the browser hold it to that.
//
//go:embed statuspage/page.html statuspage/page.css statuspage/page.js
var statusPageFiles embed.FS

var (
	statusPageCSS  = mustRead("statuspage/page.css")
	statusPageJS   = mustRead("statuspage/page.js")
	statusPageTmpl = template.Must(template.New("page.html").Funcs(template.FuncMap{
		"bytes": bytesText, "dur": durationText, "ago": agoText, "utc": utcText, "pct": pctText,
		"f":     func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
		"int64": func(v float64) int64 { return int64(v) },
		"pctf":  func(v float64) float64 { return 100 * v },
	}).ParseFS(statusPageFiles, "statuspage/page.html"))
	statusPageCSP = "default-src 'none'; style-src '" + sha256CSP(statusPageCSS) + "'; script-src '" + sha256CSP(statusPageJS) +
		"'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

func mustRead(name string) string {
	b, err := statusPageFiles.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func sha256CSP(s string) string {
	h := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(h[:])
}

// Bounds of what one page shows.
const (
	pageSnapshots     = 10 // rows of a VG's snapshot table, newest first
	pageSnapshotChart = 40 // bars of a VG's stored-bytes chart
	pageErrors        = 10 // rows of recent errors
)

// pageView is what the template renders.
type pageView struct {
	Time      time.Time
	VGs       []vgView
	Jobs      []jobView
	Schedules []scheduleView
	Errors    []api.Job
	CSS       template.CSS
	JS        template.JS
}

type vgView struct {
	api.VGStatus
	State      string // ok, running, failed, cut-over, local
	WorstLag   *float64
	Backlog    int64
	Snapshots  []snapView
	Older      int // snapshots not in the table
	LagChart   chart
	BytesChart chart
}

type snapView struct {
	Name           string
	Created        time.Time
	Size, Data     int64
	New, Stored    int64
	StoredKnown    bool
	Dedup          float64 // share of the data the store had already, 0..1
	HasData        bool
	PinWhy         string // why forget keeps it; empty: it does not
	ReplicatedToNr int    // targets holding it or a newer one
}

type jobView struct {
	api.StatusTransfer
	Kind    string
	Message string
	Bytes   bool // Done and Total count bytes
}

type scheduleView struct {
	VG string
	api.StatusSchedule
}

// statusPage is the read-only status page at / of the monitoring listener.
func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.pageView(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var b bytes.Buffer
	if err := statusPageTmpl.Execute(&b, v); err != nil {
		s.log.Error("status page", "err", err)
		http.Error(w, "rendering the status page failed", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", statusPageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b.Bytes())
}

// pageView gathers the page: status of every VG, their snapshots and lag
// history, the live jobs and the failed ones.
func (s *Server) pageView(ctx context.Context) (pageView, error) {
	vgs, err := s.cat.ListVGs(ctx)
	if err != nil {
		return pageView{}, err
	}
	rep, err := s.status(ctx, vgs)
	if err != nil {
		return pageView{}, err
	}
	v := pageView{Time: rep.Time, CSS: template.CSS(statusPageCSS), JS: template.JS(statusPageJS)}
	lag := s.lagHistory()
	for i, st := range rep.VGs {
		snaps, err := s.cat.ListSnapshots(ctx, vgs[i].ID)
		if err != nil {
			return pageView{}, err
		}
		vv := s.vgView(ctx, vgs[i], st, snaps)
		vv.LagChart = lagChart(lag.history(st.ID), st.Targets, rep.Time)
		v.VGs = append(v.VGs, vv)
		if st.Schedule != nil {
			v.Schedules = append(v.Schedules, scheduleView{VG: st.Name, StatusSchedule: *st.Schedule})
		}
	}
	v.Jobs = s.liveJobs()
	jobs := s.jobs.list()
	for i := len(jobs) - 1; i >= 0 && len(v.Errors) < pageErrors; i-- {
		if jobs[i].State == api.StateFailed {
			v.Errors = append(v.Errors, jobs[i])
		}
	}
	sort.SliceStable(v.Errors, func(a, b int) bool { return finishedAt(v.Errors[a]).After(finishedAt(v.Errors[b])) })
	return v, nil
}

func finishedAt(j api.Job) time.Time {
	if j.Finished != nil {
		return *j.Finished
	}
	return j.Started
}

func (s *Server) vgView(ctx context.Context, vg volume.VG, st api.VGStatus, snaps []volume.Snapshot) vgView {
	v := vgView{VGStatus: st, State: "ok"}
	for _, t := range st.Targets {
		if v.WorstLag == nil || t.LagSeconds > *v.WorstLag {
			l := t.LagSeconds
			v.WorstLag = &l
		}
		v.Backlog += t.BacklogBytes
	}
	switch {
	case st.CutOver != nil:
		v.State = "cut-over"
	case st.Transfer != nil:
		v.State = "running"
	case st.LastError != nil && (len(st.Targets) == 0 || st.LastError.Time.After(newestPush(st.Targets))):
		v.State = "failed"
	case len(st.Targets) == 0:
		v.State = "local"
	}
	sort.Slice(snaps, func(a, b int) bool { return snaps[a].Seq > snaps[b].Seq })
	for i, sn := range snaps {
		sv := snapshotView(sn)
		if i < pageSnapshots {
			sv.PinWhy = pinText(s.snapshotPins(ctx, vg.Name, sn))
			for _, t := range st.Targets {
				if t.Snapshot.Seq >= sn.Seq {
					sv.ReplicatedToNr++
				}
			}
			v.Snapshots = append(v.Snapshots, sv)
		}
	}
	v.Older = max(0, len(snaps)-pageSnapshots)
	v.BytesChart = storedChart(snaps[:min(len(snaps), pageSnapshotChart)])
	return v
}

// newestPush is when the newest of targets was pushed (zero if unknown).
func newestPush(ts []api.TargetStatus) time.Time {
	var t time.Time
	for _, x := range ts {
		if x.Pushed != nil && x.Pushed.After(t) {
			t = *x.Pushed
		}
	}
	return t
}

func snapshotView(sn volume.Snapshot) snapView {
	v := snapView{Name: sn.Name(), Created: sn.Created.UTC(), StoredKnown: true}
	for _, vol := range sn.Volumes {
		v.Size += vol.Size
		v.Data += vol.DataBytes
		v.New += vol.NewBytes
		v.Stored += vol.StoredBytes
		v.StoredKnown = v.StoredKnown && vol.StoredCounted
	}
	if v.Data > 0 {
		v.HasData = true
		v.Dedup = float64(v.Data-v.New) / float64(v.Data)
	}
	return v
}

// byteUnits are the phases whose done and total count bytes; the others
// count steps, records or volumes.
var byteUnits = map[string]bool{"send": true, "commit": true, "done": true, "ingest": true, "export": true,
	"digest": true, "restore": true, "load manifest": true}

// liveJobs is every job running or queued, oldest first, with its rate.
func (s *Server) liveJobs() []jobView {
	s.jobs.mu.Lock()
	js := make([]*job, 0, len(s.jobs.mu.jobs))
	for _, j := range s.jobs.mu.jobs {
		js = append(js, j)
	}
	s.jobs.mu.Unlock()
	var out []jobView
	for _, j := range js {
		j.mu.Lock()
		live, msg := !api.Final(j.mu.state), j.mu.message
		j.mu.Unlock()
		if !live {
			continue
		}
		t := j.transfer()
		out = append(out, jobView{StatusTransfer: *t, Kind: j.kind, Message: msg, Bytes: byteUnits[t.Phase]})
	}
	sort.Slice(out, func(a, b int) bool {
		if !out[a].Started.Equal(out[b].Started) {
			return out[a].Started.Before(out[b].Started)
		}
		return out[a].JobID < out[b].JobID
	})
	return out
}

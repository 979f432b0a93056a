package daemon

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/cas"
)

// storeStatsMaxAge bounds how old the store's totals on /metrics may be
// when no job ended since they were scanned: blobs a replication source
// pushes here arrive by requests, not jobs.
const storeStatsMaxAge = time.Minute

// scrapeTimeout bounds what one scrape spends reading the status.
const scrapeTimeout = 30 * time.Second

var (
	descLag = prometheus.NewDesc("vmrep_replication_lag_seconds",
		"How far a target is behind: the daemon's clock minus the creation time of the newest snapshot of the VG pushed there (vmrep status).",
		[]string{"vg", "target"}, nil)
	descBacklog = prometheus.NewDesc("vmrep_replication_backlog_bytes",
		"Logical bytes of the VG's newest snapshot the target lacks (vmrep status).",
		[]string{"vg", "target"}, nil)
	descLastSnapshot = prometheus.NewDesc("vmrep_vg_last_snapshot_timestamp_seconds",
		"When the VG's newest local snapshot was taken, Unix time.", []string{"vg"}, nil)
	descNextRun = prometheus.NewDesc("vmrep_schedule_next_run_timestamp_seconds",
		"When the VG's schedule runs next, Unix time.", []string{"vg"}, nil)
	descJobs = prometheus.NewDesc("vmrep_jobs",
		"Jobs running or queued now, by kind.", []string{"kind", "state"}, nil)
	descPacks = prometheus.NewDesc("vmrep_store_packs",
		"Pack files of the store.", nil, nil)
	descChunks = prometheus.NewDesc("vmrep_store_chunks",
		"Chunks in the store.", nil, nil)
	descBlobs = prometheus.NewDesc("vmrep_store_blobs",
		"Blobs in the store: chunks and manifest pages.", nil, nil)
	descStored = prometheus.NewDesc("vmrep_store_stored_bytes",
		"Bytes of the store's blobs as stored (compressed), without pack overhead.", nil, nil)
	descRaw = prometheus.NewDesc("vmrep_store_raw_bytes",
		"Bytes of the store's blobs uncompressed: the distinct data the store holds.", nil, nil)
)

// statusCollector reads at scrape time what status already knows: per VG
// and target the lag and backlog, the jobs running and queued, and the
// store's totals (scanned from the index again only after a job ended or
// once they are storeStatsMaxAge old).
type statusCollector struct {
	s *Server
	m *metrics

	mu struct {
		sync.Mutex
		gen   uint64 // m.storeGen when st was read
		at    time.Time
		st    cas.Stats
		valid bool
	}
}

var _ prometheus.Collector = (*statusCollector)(nil)

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLag, descBacklog, descLastSnapshot, descNextRun, descJobs,
		descPacks, descChunks, descBlobs, descStored, descRaw} {
		ch <- d
	}
}

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(c.s.base, scrapeTimeout)
	defer cancel()
	c.collectJobs(ch)
	c.collectStatus(ctx, ch)
	c.collectStore(ctx, ch)
}

// collectJobs counts the jobs running and queued by kind; every kind and
// state is there, 0 when idle, so a series does not come and go.
func (c *statusCollector) collectJobs(ch chan<- prometheus.Metric) {
	n := map[[2]string]int{}
	kinds := jobKinds
	for _, j := range c.s.jobs.list() {
		if j.State == api.StateRunning || j.State == api.StateQueued {
			k := [2]string{j.Kind, j.State}
			if n[k] == 0 && !slices.Contains(kinds, j.Kind) {
				kinds = append(slices.Clip(kinds), j.Kind) // a kind the list lacks
			}
			n[k]++
		}
	}
	for _, kind := range kinds {
		for _, state := range []string{api.StateRunning, api.StateQueued} {
			ch <- prometheus.MustNewConstMetric(descJobs, prometheus.GaugeValue, float64(n[[2]string{kind, state}]), kind, state)
		}
	}
}

// jobKinds are the kinds vmrep_jobs reports, always.
var jobKinds = []string{api.JobSnapshot, api.JobRestore, api.JobVerify, api.JobGC, api.JobExport,
	api.JobDeltaExport, api.JobDeltaApply, api.JobReplica, api.JobReplicaVerify, api.JobReplicate,
	api.JobSchedule, api.JobLaunch, api.JobCutover}

// collectStatus reports per VG what vmrep status shows.
func (c *statusCollector) collectStatus(ctx context.Context, ch chan<- prometheus.Metric) {
	vgs, err := c.s.cat.ListVGs(ctx)
	if err == nil {
		var rep api.StatusReport
		if rep, err = c.s.status(ctx, vgs); err == nil {
			for _, vg := range rep.VGs {
				c.collectVG(vg, ch)
			}
			return
		}
	}
	c.s.log.Warn("metrics: status left out of this scrape", "err", err)
}

func (c *statusCollector) collectVG(vg api.VGStatus, ch chan<- prometheus.Metric) {
	if vg.LastSnapshot != nil {
		ch <- prometheus.MustNewConstMetric(descLastSnapshot, prometheus.GaugeValue, unixSeconds(vg.LastSnapshot.Created), vg.Name)
	}
	for _, t := range vg.Targets {
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, t.LagSeconds, vg.Name, t.To)
		if t.BacklogError == "" {
			ch <- prometheus.MustNewConstMetric(descBacklog, prometheus.GaugeValue, float64(t.BacklogBytes), vg.Name, t.To)
		}
	}
	if sc := vg.Schedule; sc != nil && sc.NextRun != nil && !sc.Paused {
		ch <- prometheus.MustNewConstMetric(descNextRun, prometheus.GaugeValue, unixSeconds(*sc.NextRun), vg.Name)
	}
}

// collectStore reports the store's totals, scanning the index again
// only when they may have changed.
func (c *statusCollector) collectStore(ctx context.Context, ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gen, now := c.m.storeGen.Load(), time.Now()
	if !c.mu.valid || gen != c.mu.gen || now.Sub(c.mu.at) > storeStatsMaxAge {
		st, err := c.s.store.Stats(ctx)
		if err != nil {
			c.s.log.Warn("metrics: store totals left out of this scrape", "err", err)
			return
		}
		c.mu.st, c.mu.gen, c.mu.at, c.mu.valid = st, gen, now, true
	}
	st := c.mu.st
	for _, v := range []struct {
		d *prometheus.Desc
		n int64
	}{{descPacks, st.Packs}, {descChunks, st.Chunks}, {descBlobs, st.Blobs}, {descStored, st.StoredBytes}, {descRaw, st.RawBytes}} {
		ch <- prometheus.MustNewConstMetric(v.d, prometheus.GaugeValue, float64(v.n))
	}
}

func unixSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}

package daemon

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/cas"
	"github.com/vmrep/vmrep/internal/version"
)

// metrics are vmrepd's Prometheus metrics (doc/design.md, "Metrics"), in
// a registry of the Server's own, so that several daemons in one process
// (tests) do not clash. Counters are fed where the work happens; what
// status already knows (lag, backlog, jobs running, the store's totals) is
// read at scrape time by statusCollector (metrics_collect.go).
//
// Labels come from small fixed sets (job kinds, results) or name volume
// groups and replication targets; never chunk IDs, paths or job IDs.
type metrics struct {
	reg *prometheus.Registry

	ingestRead      *prometheus.CounterVec // {vg}
	ingestNew       *prometheus.CounterVec
	ingestStored    *prometheus.CounterVec
	ingestDedup     *prometheus.CounterVec
	ingestNewChunks *prometheus.CounterVec

	jobDuration *prometheus.HistogramVec // {kind, result}

	replLogical *prometheus.CounterVec // {target}
	replWire    *prometheus.CounterVec

	scheduleRuns *prometheus.CounterVec // {vg, result}

	fuseReads      prometheus.Counter
	fuseReadBytes  prometheus.Counter
	fuseReadErrors prometheus.Counter

	verifyRuns     *prometheus.CounterVec // {result}
	verifyProblems prometheus.Gauge

	gcReclaimable prometheus.Gauge
	gcDead        prometheus.Gauge
	gcLast        prometheus.Gauge

	// storeGen counts the jobs that ended: the store's totals are scanned
	// again at the next scrape after one did (metrics_collect.go).
	storeGen atomic.Uint64
}

// newMetrics builds s's registry and instruments.
func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		m.reg.MustRegister(c)
		return c
	}
	one := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
		m.reg.MustRegister(c)
		return c
	}
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		m.reg.MustRegister(g)
		return g
	}
	m.ingestRead = counter("vmrep_ingest_read_bytes_total", "Bytes snapshots read from their sources (holes the source reports are not read).", "vg")
	m.ingestNew = counter("vmrep_ingest_new_bytes_total", "Raw bytes of the chunks snapshots added to the store.", "vg")
	m.ingestStored = counter("vmrep_ingest_stored_bytes_total", "Bytes snapshots added to the store, after compression.", "vg")
	m.ingestDedup = counter("vmrep_ingest_deduplicated_bytes_total", "Data bytes of snapshots the store already held (read or taken from the base unread), so not stored again.", "vg")
	m.ingestNewChunks = counter("vmrep_ingest_new_chunks_total", "Chunks snapshots added to the store.", "vg")
	m.jobDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "vmrep_job_duration_seconds", Help: "Jobs that ended, by kind and result (done, failed, canceled), and how long they took from submission, queueing included.",
		Buckets: []float64{0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600},
	}, []string{"kind", "result"})
	m.reg.MustRegister(m.jobDuration)
	m.replLogical = counter("vmrep_replication_sent_bytes_total", "Raw (logical) bytes of the blobs replication sent to a target.", "target")
	m.replWire = counter("vmrep_replication_wire_bytes_total", "Bytes replication streams put on the wire to a target: blobs in their stored (compressed) form, framing included.", "target")
	m.scheduleRuns = counter("vmrep_schedule_runs_total", "Scheduled runs by result: ok, failed, or skipped (the previous run was still going).", "vg", "result")
	m.fuseReads = one("vmrep_fuse_reads_total", "Reads served by the FUSE mounts.")
	m.fuseReadBytes = one("vmrep_fuse_read_bytes_total", "Bytes the FUSE mounts' reads returned.")
	m.fuseReadErrors = one("vmrep_fuse_read_errors_total", "Reads of the FUSE mounts that failed (answered with an error such as EIO).")
	m.verifyRuns = counter("vmrep_verify_runs_total", "Store verifications by result: ok, problems (the store has damage), failed (the run itself failed or was canceled).", "result")
	m.verifyProblems = gauge("vmrep_verify_last_problems", "Problems the last verification found.")
	m.gcReclaimable = gauge("vmrep_store_reclaimable_bytes", "Bytes a gc would free now, as the last gc (or gc --dry-run) found them: after a real gc, what it could not free for lack of room.")
	m.gcDead = gauge("vmrep_store_dead_bytes", "Stored bytes no snapshot names, as the last gc found them; reclaimable or kept in mostly live packs.")
	m.gcLast = gauge("vmrep_gc_last_run_timestamp_seconds", "When the last gc (or dry run) ended, Unix time; 0: none since vmrepd started.")
	info := prometheus.NewGauge(prometheus.GaugeOpts{Name: "vmrep_build_info", Help: "Always 1; the version label is vmrepd's.",
		ConstLabels: prometheus.Labels{"version": version.String()}})
	info.Set(1)
	m.reg.MustRegister(info,
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector(),
		&statusCollector{s: s, m: m})
	return m
}

// metricsHandler serves s's registry.
func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{Registry: s.metrics.reg})
}

// jobEnded counts a job that ended; the job manager calls it.
func (m *metrics) jobEnded(kind, result string, took time.Duration) {
	m.jobDuration.WithLabelValues(kind, result).Observe(took.Seconds())
	m.storeGen.Add(1)
}

// fuseRead counts one read of a FUSE mount.
func (m *metrics) fuseRead(n int, err error) {
	m.fuseReads.Inc()
	if err != nil {
		m.fuseReadErrors.Inc()
		return
	}
	m.fuseReadBytes.Add(float64(n))
}

// runSkipped is the result label of a scheduled run skipped because the
// previous one was still going (api.RunOK and api.RunFailed are the others).
const runSkipped = "skipped"

// scheduleRan counts a scheduled run of vg that ended with err.
func (m *metrics) scheduleRan(vg string, err error) {
	result := api.RunOK
	if err != nil {
		result = api.RunFailed
	}
	m.scheduleRuns.WithLabelValues(vg, result).Inc()
}

// verified counts a verification that returned res and err (runVerify).
func (m *metrics) verified(res any, err error) {
	vr, ok := res.(api.VerifyResult)
	switch {
	case err == nil:
		m.verifyRuns.WithLabelValues("ok").Inc()
		m.verifyProblems.Set(0)
	case ok:
		m.verifyRuns.WithLabelValues("problems").Inc()
		m.verifyProblems.Set(float64(len(vr.Problems)))
	default:
		m.verifyRuns.WithLabelValues("failed").Inc()
	}
}

// collected records what a gc (dry or not) found at time now.
func (m *metrics) collected(dryRun bool, sw cas.SweepStats, now time.Time) {
	if dryRun {
		m.gcReclaimable.Set(float64(sw.ReclaimableBytes))
		m.gcDead.Set(float64(sw.DeadBytes))
	} else {
		left := int64(0)
		if sw.PacksSkippedNoSpace > 0 {
			left = max(0, sw.ReclaimableBytes-sw.BytesFreed)
		}
		m.gcReclaimable.Set(float64(left))
		m.gcDead.Set(float64(sw.DeadKeptBytes + left))
	}
	m.gcLast.Set(unixSeconds(now))
}

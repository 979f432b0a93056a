package daemon

import (
	"github.com/prometheus/client_golang/prometheus"
)

// rpoCollector exports the schedules' RPO state, read at scrape time, for
// the schedules that have an RPO (vmrep schedule set --rpo).
type rpoCollector struct{ sc *scheduler }

var (
	rpoSecondsDesc = prometheus.NewDesc("vmrep_rpo_seconds",
		"The recovery point objective of the volume group's schedule.", []string{"vg"}, nil)
	rpoLagDesc = prometheus.NewDesc("vmrep_rpo_lag_seconds",
		"Age of the newest snapshot at the destination of the volume group's schedule, as checked against its RPO.", []string{"vg"}, nil)
	rpoBreachedDesc = prometheus.NewDesc("vmrep_rpo_breached",
		"1 while the lag of the volume group's schedule is past its RPO, else 0.", []string{"vg"}, nil)
)

func (c rpoCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- rpoSecondsDesc
	ch <- rpoLagDesc
	ch <- rpoBreachedDesc
}

func (c rpoCollector) Collect(ch chan<- prometheus.Metric) {
	if c.sc == nil {
		return
	}
	c.sc.mu.Lock()
	defer c.sc.mu.Unlock()
	now := c.sc.clock.Now()
	seen := map[string]bool{}
	for _, e := range c.sc.mu.entries {
		st := c.sc.rpoStateLocked(e.rec, now)
		// The schedule of a deleted VG may share its name with a new VG's:
		// one series per name, or the scrape fails.
		if st == nil || seen[e.rec.VG] {
			continue
		}
		seen[e.rec.VG] = true
		breached := 0.0
		if st.Breached {
			breached = 1
		}
		ch <- prometheus.MustNewConstMetric(rpoSecondsDesc, prometheus.GaugeValue, st.RPOSeconds, e.rec.VG)
		ch <- prometheus.MustNewConstMetric(rpoLagDesc, prometheus.GaugeValue, st.LagSeconds, e.rec.VG)
		ch <- prometheus.MustNewConstMetric(rpoBreachedDesc, prometheus.GaugeValue, breached, e.rec.VG)
	}
}

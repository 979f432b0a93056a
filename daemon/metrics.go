package daemon

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vmrep/vmrep/internal/version"
)

// metricsHandler serves s's registry: the process and Go runtime
// collectors and vmrep's own metrics (see doc/design.md, "Metrics").
func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	info := prometheus.NewGauge(prometheus.GaugeOpts{Name: "vmrep_build_info", Help: "Always 1; the version label is vmrepd's.",
		ConstLabels: prometheus.Labels{"version": version.String()}})
	info.Set(1)
	reg.MustRegister(info)
	reg.MustRegister(rpoCollector{s.sched}) // metrics_rpo.go
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

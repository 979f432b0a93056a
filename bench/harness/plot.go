package main

import (
	"fmt"
	"path/filepath"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// writePlots draws cold-ingest throughput per tool and ingest time against
// image size, next to base; it returns the files' base names.
func writePlots(base string, res *Results) ([]string, error) {
	var names []string
	if f, err := throughputPlot(base+"-throughput.png", res); err != nil {
		return nil, err
	} else if f != "" {
		names = append(names, filepath.Base(f))
	}
	if f, err := sizePlot(base+"-size.png", res); err != nil {
		return nil, err
	} else if f != "" {
		names = append(names, filepath.Base(f))
	}
	return names, nil
}

// throughputPlot: one bar per tool (and vmrep per GOMAXPROCS), cold ingest
// of the OS image.
func throughputPlot(path string, res *Results) (string, error) {
	var labels []string
	var vals plotter.Values
	for _, r := range res.Ingest {
		if r.Workload != "os" || (r.Op != "ingest-cold" && r.Op != "backup-cold" && r.Op != "create-cold" && r.Op != "make-cold") {
			continue
		}
		l := r.Tool
		if r.Procs > 0 {
			l = fmt.Sprintf("%s p%d", r.Tool, r.Procs)
		}
		labels, vals = append(labels, l), append(vals, r.MBps)
	}
	if len(vals) == 0 {
		return "", nil
	}
	p := plot.New()
	p.Title.Text = "Cold ingest of the OS image"
	p.Y.Label.Text = "MB/s"
	bars, err := plotter.NewBarChart(vals, vg.Points(40))
	if err != nil {
		return "", fmt.Errorf("throughput plot: %w", err)
	}
	bars.Color = plotutil.Color(0)
	p.Add(bars)
	p.NominalX(labels...)
	if err := p.Save(vg.Length(30+22*len(vals))*vg.Millimeter, 90*vg.Millimeter, path); err != nil {
		return "", fmt.Errorf("save %s: %w", path, err)
	}
	return path, nil
}

// sizePlot: seconds against image size, one line per tool and op.
func sizePlot(path string, res *Results) (string, error) {
	series := map[string]plotter.XYs{}
	for _, r := range res.Sweep {
		k := r.Tool + " " + r.Op
		series[k] = append(series[k], plotter.XY{X: float64(r.Bytes) / (1 << 30), Y: r.Seconds})
	}
	if len(series) == 0 {
		return "", nil
	}
	p := plot.New()
	p.Title.Text = "Ingest time against image size (mixed image)"
	p.X.Label.Text = "GiB"
	p.Y.Label.Text = "seconds"
	keys := make([]string, 0, len(series))
	for k := range series {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var args []any
	for _, k := range keys {
		args = append(args, k, series[k])
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return "", fmt.Errorf("size plot: %w", err)
	}
	p.Legend.Top, p.Legend.Left = true, true
	if err := p.Save(140*vg.Millimeter, 90*vg.Millimeter, path); err != nil {
		return "", fmt.Errorf("save %s: %w", path, err)
	}
	return path, nil
}

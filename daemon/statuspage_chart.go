package daemon

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/volume"
)

// chart is an SVG chart laid out on the server: the template only writes
// the shapes, so the page draws without a script or a library.
type chart struct {
	Kind   string // "lag" or "stored", for the page's style and tests
	Title  string // the accessible name
	Empty  string // said instead of a plot when there is nothing to draw
	W, H   int
	Plot   plotBox
	Grid   []gridLine
	XTicks []xTick
	Lines  []chartLine
	Dots   []chartDot
	Bars   []chartBar
	Legend []legendItem
}

type plotBox struct{ L, T, R, B float64 }

// LabelX is where the grid's labels end, XLabelY where the x labels sit.
func (c chart) LabelX() float64  { return c.Plot.L - 6 }
func (c chart) XLabelY() float64 { return c.Plot.B + 17 }

type gridLine struct {
	Y     float64
	Label string
}

type xTick struct {
	X      float64
	Label  string
	Anchor string // start, middle, end
}

type chartLine struct {
	Class  string
	Points string // "x,y x,y ..."
}

type chartDot struct {
	Class string
	X, Y  float64
	Title string
}

type chartBar struct {
	Class      string
	X, Y, W, H float64
	Title      string
}

type legendItem struct{ Class, Label string }

const (
	chartW, chartH = 480, 190
	chartSeries    = 6 // colours s0..s5, then again
)

func newChart(kind, title string) chart {
	return chart{Kind: kind, Title: title, W: chartW, H: chartH, Plot: plotBox{L: 62, T: 10, R: chartW - 14, B: chartH - 24}}
}

func (c *chart) y(v, top float64) float64 {
	return c.Plot.B - (c.Plot.B-c.Plot.T)*v/top
}

// lagGap is the distance between samples beyond which the line breaks:
// the daemon was down, or its listener off.
const lagGap = 3 * lagSampleEvery

// lagChart draws the lag of the last lagKeep before now, one line per
// target: the recorded samples, and the lag now from status.
func lagChart(series []lagSeries, targets []api.TargetStatus, now time.Time) chart {
	c := newChart("lag", "Lag over the last 24 hours, per target")
	from := now.Add(-lagKeep)
	type line struct {
		to  string
		pts []lagPoint
	}
	var lines []line
	idx := map[string]int{}
	for _, s := range series {
		var pts []lagPoint
		for _, p := range s.Samples {
			if p.At >= from.Unix() && p.At <= now.Unix() {
				pts = append(pts, p)
			}
		}
		idx[s.To] = len(lines)
		lines = append(lines, line{to: s.To, pts: pts})
	}
	for _, t := range targets {
		i, ok := idx[t.To]
		if !ok {
			i = len(lines)
			idx[t.To] = i
			lines = append(lines, line{to: t.To})
		}
		lines[i].pts = append(lines[i].pts, lagPoint{At: now.Unix(), Lag: t.LagSeconds, Backlog: t.BacklogBytes})
	}
	top := 0.0
	n := 0
	for _, l := range lines {
		for _, p := range l.pts {
			top = max(top, p.Lag)
			n++
		}
	}
	if n == 0 {
		c.Empty = "No lag recorded yet: the VG was not replicated in the last 24 hours."
		return c
	}
	step, top := niceStep(top, durationSteps)
	for v := 0.0; v <= top+step/2; v += step {
		c.Grid = append(c.Grid, gridLine{Y: c.y(v, top), Label: durationText(v)})
	}
	span := c.Plot.R - c.Plot.L
	x := func(at int64) float64 { return c.Plot.L + span*float64(at-from.Unix())/lagKeep.Seconds() }
	for h := 0; h <= 24; h += 6 {
		label, anchor := fmt.Sprintf("%d h ago", 24-h), "middle"
		switch h {
		case 0:
			anchor = "start"
		case 24:
			label, anchor = "now", "end"
		}
		c.XTicks = append(c.XTicks, xTick{X: c.Plot.L + span*float64(h)/24, Label: label, Anchor: anchor})
	}
	for i, l := range lines {
		class := "s" + strconv.Itoa(i%chartSeries)
		c.Legend = append(c.Legend, legendItem{Class: class, Label: l.to})
		var seg []string
		flush := func(last lagPoint) {
			if len(seg) == 1 {
				c.Dots = append(c.Dots, chartDot{Class: class, X: x(last.At), Y: c.y(last.Lag, top),
					Title: l.to + ": " + durationText(last.Lag) + " at " + time.Unix(last.At, 0).UTC().Format("15:04")})
			} else if len(seg) > 1 {
				c.Lines = append(c.Lines, chartLine{Class: class, Points: strings.Join(seg, " ")})
			}
			seg = seg[:0]
		}
		for j, p := range l.pts {
			if j > 0 && time.Duration(p.At-l.pts[j-1].At)*time.Second > lagGap {
				flush(l.pts[j-1])
			}
			seg = append(seg, fmt.Sprintf("%.1f,%.1f", x(p.At), c.y(p.Lag, top)))
		}
		if len(l.pts) > 0 {
			flush(l.pts[len(l.pts)-1])
		}
	}
	return c
}

// storedChart draws, oldest to newest, what each of snaps (newest first)
// added to the store after compression; where that was not counted (a
// record older than the count) the raw new bytes, marked so.
func storedChart(snaps []volume.Snapshot) chart {
	c := newChart("stored", "Bytes each snapshot added to the store")
	if len(snaps) == 0 {
		c.Empty = "No snapshots yet."
		return c
	}
	views := make([]snapView, len(snaps))
	top := 0.0
	for i, sn := range snaps {
		v := snapshotView(sn)
		views[len(snaps)-1-i] = v
		top = max(top, float64(barBytes(v)))
	}
	step, top := niceStep(top, byteSteps)
	for v := 0.0; v <= top+step/2; v += step {
		c.Grid = append(c.Grid, gridLine{Y: c.y(v, top), Label: bytesText(int64(v))})
	}
	slot := (c.Plot.R - c.Plot.L) / float64(len(views))
	w := min(slot*0.8, 48)
	for i, v := range views {
		x := c.Plot.L + slot*float64(i) + (slot-w)/2
		y := c.y(float64(barBytes(v)), top)
		class, what := "bar", " stored"
		if !v.StoredKnown {
			class, what = "bar approx", " new (stored not counted)"
		}
		c.Bars = append(c.Bars, chartBar{Class: class, X: x, Y: y, W: w, H: c.Plot.B - y,
			Title: v.Name + ": " + bytesText(barBytes(v)) + what + ", " + bytesText(v.Data) + " of data"})
		if i == 0 || i == len(views)-1 || (len(views) > 4 && i == len(views)/2) {
			c.XTicks = append(c.XTicks, xTick{X: x + w/2, Label: "@" + v.Name[strings.LastIndexByte(v.Name, '@')+1:], Anchor: "middle"})
		}
	}
	c.Legend = []legendItem{{Class: "bar", Label: "stored (compressed)"}}
	for _, v := range views {
		if !v.StoredKnown {
			c.Legend = append(c.Legend, legendItem{Class: "bar approx", Label: "new, raw (older records)"})
			break
		}
	}
	return c
}

func barBytes(v snapView) int64 {
	if v.StoredKnown {
		return v.Stored
	}
	return v.New
}

// durationSteps and byteSteps are the grid spacings a chart picks from.
var (
	durationSteps = []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400}
	byteSteps     = func() []float64 {
		var out []float64
		for u := 1.0; u <= 1<<50; u *= 1024 {
			out = append(out, u, 2*u, 5*u, 10*u, 20*u, 50*u, 100*u, 200*u, 500*u)
		}
		return out
	}()
)

// niceStep picks the smallest of steps that covers v in at most four
// grid steps (multiples of the largest beyond it); top is the grid's top.
func niceStep(v float64, steps []float64) (step, top float64) {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return steps[0], steps[0]
	}
	for _, s := range steps {
		if math.Ceil(v/s) <= 4 {
			return s, s * math.Ceil(v/s)
		}
	}
	s := steps[len(steps)-1] * math.Ceil(v/(4*steps[len(steps)-1]))
	return s, s * math.Ceil(v/s)
}

// bytesText is n in binary units: "0 B", "512 B", "12.3 MiB".
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	f := "%.1f %ciB"
	if v >= 100 || v == math.Trunc(v) {
		f = "%.0f %ciB"
	}
	return fmt.Sprintf(f, v, "KMGTPE"[exp])
}

// durationText is seconds in the two largest units: "42s", "5m 10s",
// "3h 5m", "2d 4h".
func durationText(sec float64) string {
	d := time.Duration(math.Round(max(0, sec))) * time.Second
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return twoUnits(int(d/time.Minute), "m", int(d%time.Minute/time.Second), "s")
	case d < 24*time.Hour:
		return twoUnits(int(d/time.Hour), "h", int(d%time.Hour/time.Minute), "m")
	}
	return twoUnits(int(d/(24*time.Hour)), "d", int(d%(24*time.Hour)/time.Hour), "h")
}

func twoUnits(a int, au string, b int, bu string) string {
	if b == 0 {
		return strconv.Itoa(a) + au
	}
	return strconv.Itoa(a) + au + " " + strconv.Itoa(b) + bu
}

// agoText says when t is from now: "5m ago", "in 3h", "now".
func agoText(t, now time.Time) string {
	d := now.Sub(t).Seconds()
	switch {
	case math.Abs(d) < 1:
		return "now"
	case d > 0:
		return durationText(d) + " ago"
	}
	return "in " + durationText(-d)
}

func utcText(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }

// pctText is done of total as a whole percentage, "" when total is 0.
func pctText(done, total int64) string {
	if total <= 0 {
		return ""
	}
	return strconv.Itoa(int(100*min(done, total)/total)) + "%"
}

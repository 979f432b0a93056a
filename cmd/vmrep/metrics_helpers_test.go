package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/vmrep/vmrep/internal/testdisk"
)

var httpAddrRE = regexp.MustCompile(`msg="serving metrics and the status page" http=(\S+)`)

// httpAddr is the address of d's monitoring listener (vmrepd --http).
func httpAddr(t *testing.T, d *testDaemon) string {
	t.Helper()
	var m []string
	testdisk.Eventually(t, "the --http address in the daemon's log", 10*time.Second, func() error {
		if m = httpAddrRE.FindStringSubmatch(d.log.String()); m == nil {
			return fmt.Errorf("not yet:\n%s", d.log)
		}
		return nil
	})
	return m[1]
}

// scraped is one answer of /metrics: its text and its parsed families.
type scraped struct {
	text string
	fams map[string]*dto.MetricFamily
}

// scrape reads /metrics from addr.
func scrape(t *testing.T, addr string) scraped {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, body)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, body)
	}
	return scraped{text: string(body), fams: fams}
}

// value is the value of the series name{labels} (label pairs as "k", "v",
// ...); a histogram's name+"_count" is its sample count. ok is false when
// there is no such series.
func (s scraped) value(name string, labels ...string) (float64, bool) {
	fam, count := s.fams[name], false
	if fam == nil && strings.HasSuffix(name, "_count") {
		fam, count = s.fams[strings.TrimSuffix(name, "_count")], true
	}
	if fam == nil {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
next:
	for _, m := range fam.Metric {
		have := 0
		for _, lp := range m.Label {
			if v, ok := want[lp.GetName()]; ok {
				if v != lp.GetValue() {
					continue next
				}
				have++
			}
		}
		if have != len(want) {
			continue
		}
		switch {
		case count && m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// v is value, 0 for a series not there (a counter not yet moved).
func (s scraped) v(name string, labels ...string) float64 {
	x, _ := s.value(name, labels...)
	return x
}

// must is value, failing the test when the series is missing.
func (s scraped) must(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	x, ok := s.value(name, labels...)
	if !ok {
		t.Fatalf("/metrics has no %s%v:\n%s", name, labels, s.grep("vmrep_"))
	}
	return x
}

// grep is the lines of the scrape that start with prefix.
func (s scraped) grep(prefix string) string {
	var b strings.Builder
	for _, l := range strings.Split(s.text, "\n") {
		if strings.HasPrefix(l, prefix) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// lintMetrics checks a scrape against Prometheus' conventions with
// client_golang's promlint, and with promtool check metrics when make
// deps installed it.
func lintMetrics(t *testing.T, s scraped) {
	t.Helper()
	problems, err := promlint.New(strings.NewReader(s.text)).Lint()
	if err != nil {
		t.Fatalf("promlint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	promtool := promtoolPath()
	if promtool == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is not installed; run make deps")
		}
		t.Log("promtool is not installed (make deps); checked with promlint only")
		return
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(s.text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// promtoolPath finds promtool on PATH or where make deps puts it.
func promtoolPath() string {
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return ""
	}
	p := filepath.Join(strings.TrimSpace(string(out)), "bin", "promtool")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// writeTextImage writes size bytes of text, different in every 4 KiB
// block (so chunks do not dedup within the image) and compressible (so
// stored and wire bytes are well below the logical ones).
func writeTextImage(t *testing.T, path string, size int64, seed int) {
	t.Helper()
	var b bytes.Buffer
	for blk := int64(0); int64(b.Len()) < size; blk++ {
		line := fmt.Sprintf("seed %d block %08d: the quick brown fox jumps over the lazy dog.\n", seed, blk)
		for n := 0; n+len(line) <= 4096; n += len(line) {
			b.WriteString(line)
		}
		for b.Len()%4096 != 0 {
			b.WriteByte('\n')
		}
	}
	if err := os.WriteFile(path, b.Bytes()[:size], 0o644); err != nil {
		t.Fatal(err)
	}
}

package retention

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the cases name zones; do not depend on the host's zoneinfo
)

var update = flag.Bool("update", false, "rewrite the expected output of testdata/*.txt")

// TestGolden runs every testdata/*.txt case. A case is a header:
//
//	policy: daily=3,weekly=2
//	loc: Europe/Berlin
//	now: 2026-12-10T00:00:00Z
//
// then one line per snapshot, "SEQ TIME [| PIN; PIN]", then a line
// "----" and the expected decisions, newest first, or "error: ...".
// Lines starting with # are comments.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, want, ok := strings.Cut(string(data), "----\n")
			if !ok {
				t.Fatalf("%s: no ---- line", file)
			}
			got := runCase(t, input)
			if *update {
				if err := os.WriteFile(file, []byte(input+"----\n"+got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != want {
				t.Errorf("%s: got\n%s\nwant\n%s", file, got, want)
			}
		})
	}
}

func runCase(t *testing.T, input string) string {
	t.Helper()
	var (
		policy Policy
		perr   error
		loc    = time.UTC
		now    time.Time
		snaps  []Snapshot
	)
	for i, line := range strings.Split(input, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fail := func(err error) { t.Fatalf("line %d %q: %v", i+1, line, err) }
		if key, val, ok := strings.Cut(line, ":"); ok && !strings.Contains(key, " ") {
			val = strings.TrimSpace(val)
			var err error
			switch key {
			case "policy":
				policy, perr = ParsePolicy(val)
			case "loc":
				loc, err = time.LoadLocation(val)
			case "now":
				now, err = time.Parse(time.RFC3339, val)
			default:
				err = fmt.Errorf("unknown header %q", key)
			}
			if err != nil {
				fail(err)
			}
			continue
		}
		head, pins, _ := strings.Cut(line, "|")
		f := strings.Fields(head)
		if len(f) != 2 {
			fail(fmt.Errorf("want SEQ TIME [| PINS]"))
		}
		seq, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			fail(err)
		}
		tm, err := time.Parse(time.RFC3339, f[1])
		if err != nil {
			fail(err)
		}
		s := Snapshot{Seq: seq, Time: tm}
		for p := range strings.SplitSeq(pins, ";") {
			if p = strings.TrimSpace(p); p != "" {
				s.Pins = append(s.Pins, p)
			}
		}
		snaps = append(snaps, s)
	}
	if perr != nil {
		return "error: " + perr.Error() + "\n"
	}
	keep, remove, err := Apply(snaps, policy, now, loc)
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	return formatDecisions(keep, remove, loc)
}

// formatDecisions writes keep and remove merged newest first, as a
// --dry-run would list them.
func formatDecisions(keep, remove []Decision, loc *time.Location) string {
	var b strings.Builder
	all := append(append([]Decision{}, keep...), remove...)
	sortDecisions(all)
	for _, d := range all {
		verb := "remove"
		if len(d.Reasons) > 0 {
			verb = "keep  "
		}
		fmt.Fprintf(&b, "%s %d %s", verb, d.Snapshot.Seq, d.Snapshot.Time.In(loc).Format("2006-01-02 15:04 Mon MST"))
		if len(d.Reasons) > 0 {
			fmt.Fprintf(&b, ": %s", strings.Join(d.Reasons, ", "))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func sortDecisions(ds []Decision) {
	for i := 1; i < len(ds); i++ {
		for j := i; j > 0 && newerThan(ds[j].Snapshot, ds[j-1].Snapshot); j-- {
			ds[j], ds[j-1] = ds[j-1], ds[j]
		}
	}
}

func newerThan(a, b Snapshot) bool {
	if !a.Time.Equal(b.Time) {
		return a.Time.After(b.Time)
	}
	return a.Seq > b.Seq
}

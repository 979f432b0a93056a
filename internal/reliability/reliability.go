// Package reliability is the shared harness of the reliability suites
// (crash points, full disks, bit rot, gc races, load, kills): how large a
// suite runs, and where it writes what it found, so that `make reliability`
// can table every suite in RELIABILITY.md.
//
// A suite is a Go test named TestReliability<Name>. Run plainly (`make
// test`) it runs a short version; with VMREP_RELIABILITY=full it runs at the
// size RELIABILITY.md reports. With VMREP_RELIABILITY_OUT set, each suite
// appends one JSON line (a Result) to that file.
//
// It imports nothing of the project, so any package's tests may use it.
package reliability

import (
	"encoding/json"
	"os"
	"sync"
	"testing"
	"time"
)

// Env names.
const (
	EnvMode = "VMREP_RELIABILITY"     // "full" for the long runs
	EnvOut  = "VMREP_RELIABILITY_OUT" // JSON lines of Results
)

// Full reports whether the suites run at full size.
func Full() bool { return os.Getenv(EnvMode) == "full" }

// Size picks a suite's size: short in `make test`, full in `make reliability`.
func Size(short, full int) int {
	if Full() {
		return full
	}
	return short
}

// Result is one suite's line in RELIABILITY.md.
type Result struct {
	Suite string `json:"suite"` // a short name: "crash points: ingest"
	What  string `json:"what"`  // one sentence: what the suite does
	Size  string `json:"size"`  // "412 crash points (every k)", "1000 flips"
	// Counts of what must be zero, by name ("corrupt stores", "wrong bytes").
	Bad map[string]int `json:"bad"`
	// Other figures worth reporting, by name ("refusals", "k values").
	Figures  map[string]string `json:"figures,omitempty"`
	Duration string            `json:"duration"`
	Full     bool              `json:"full"`
	Test     string            `json:"test"`
	Passed   bool              `json:"passed"`
}

var mu sync.Mutex

// Start begins a suite's Result; the test fills in Size, Bad and Figures
// as it runs, and the Result is written to the results file, if one is set,
// when the test ends, with Passed saying whether the test passed.
func Start(t testing.TB, suite, what string) *Result {
	t.Helper()
	r := &Result{Suite: suite, What: what, Bad: map[string]int{}, Figures: map[string]string{}}
	start := time.Now()
	t.Cleanup(func() {
		out := os.Getenv(EnvOut)
		if out == "" {
			return
		}
		r.Full = Full()
		r.Test = t.Name()
		r.Passed = !t.Failed()
		if r.Duration == "" {
			r.Duration = time.Since(start).Round(time.Second).String()
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Errorf("reliability: %v", err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		f, err := os.OpenFile(out, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			t.Errorf("reliability: %v", err)
			return
		}
		defer f.Close()
		if _, err := f.Write(append(b, '\n')); err != nil {
			t.Errorf("reliability: %v", err)
		}
	})
	return r
}

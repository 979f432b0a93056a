package chunker

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden_boundaries.json from the current chunker")

const goldenPath = "testdata/golden_boundaries.json"

// goldenCase records the chunk lengths of one input under one Params. The
// input digest tells a generator change from a boundary change.
type goldenCase struct {
	Input   string `json:"input"`
	Params  Params `json:"params"`
	Digest  string `json:"input_sha256"`
	Lengths []int  `json:"lengths"`
}

func goldenInputs() []struct {
	name string
	data []byte
} {
	return []struct {
		name string
		data []byte
	}{
		{"random-chacha8-seed1-8MiB", randomInput(1, 8<<20)},
		{"text-seed2-4MiB", textInput(2, 4<<20)},
		{"zeroheavy-seed3-4MiB", zeroHeavyInput(3, 4<<20)},
	}
}

func computeGolden(t *testing.T) []goldenCase {
	var cases []goldenCase
	for _, in := range goldenInputs() {
		sum := sha256.Sum256(in.data)
		for _, p := range []Params{DefaultParams(), {Min: 2 << 10, Avg: 8 << 10, Max: 64 << 10}} {
			c := mustCutter(t, p)
			cases = append(cases, goldenCase{
				Input:   in.name,
				Params:  p,
				Digest:  hex.EncodeToString(sum[:]),
				Lengths: cutAll(in.data, func(d []byte) int { return c.Cut(d, true) }),
			})
		}
	}
	return cases
}

// TestGoldenBoundaries pins the boundaries: a store's chunks must never
// move between releases. Run with -update only for a deliberate change.
func TestGoldenBoundaries(t *testing.T) {
	got := computeGolden(t)
	if *update {
		b, err := json.MarshalIndent(got, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.FromSlash(goldenPath), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(filepath.FromSlash(goldenPath))
	if err != nil {
		t.Fatalf("read golden boundaries (run with -update to create them): %v", err)
	}
	var want []goldenCase
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("decode %s: %v", goldenPath, err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d golden cases, computed %d", len(want), len(got))
	}
	for i := range want {
		g, w := got[i], want[i]
		switch {
		case g.Input != w.Input || g.Params != w.Params:
			t.Errorf("case %d is %s %v, golden has %s %v", i, g.Input, g.Params, w.Input, w.Params)
		case g.Digest != w.Digest:
			t.Errorf("%s: input generator changed (sha256 %s, golden %s)", w.Input, g.Digest, w.Digest)
		case !slices.Equal(g.Lengths, w.Lengths):
			t.Errorf("%s %v: boundaries changed: %d chunks, golden %d, first difference at chunk %d",
				w.Input, w.Params, len(g.Lengths), len(w.Lengths), firstDiff(g.Lengths, w.Lengths))
		}
	}
}

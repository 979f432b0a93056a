package fusefs

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/internal/reliability"
)

// rotClasses are the table's columns, in order; the first three must stay 0.
var rotClasses = []string{"wrong bytes", "store fails to open", "failed, not reported",
	"detected by verify", "index rebuilt or repaired at open", "harmless", "undetected, restores exact"}

// TestReliabilityBitRot flips one random bit per copy of a store holding
// several snapshots, in pack data, pack footers, record files, manifest
// pages and the Pebble index, and checks that every restore and FUSE read
// returns the exact source bytes or fails, that the store always opens, and
// that every failure was reported by verify or repaired at open.
// VMREP_ROT_SEED reruns one seed and VMREP_ROT_FLIP=i one flip of it; the
// log names every flip that went wrong (kind, file, offset, bit).
func TestReliabilityBitRot(t *testing.T) {
	requireFUSE(t)
	flips := reliability.Size(40, 1000)
	r := reliability.Start(t, "bit rot", "one random bit flipped per copy of a store with several snapshots (packs, footers, records, manifest pages, Pebble index); verify, restore and FUSE reads of every volume judged against the source bytes")
	r.Size = fmt.Sprintf("%d flips", flips)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("VMREP_ROT_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("VMREP_ROT_SEED: %v", err)
		}
	}
	t.Logf("seed %d (rerun with VMREP_ROT_SEED=%d, and VMREP_ROT_FLIP=i for flip i alone)", seed, seed)
	only := os.Getenv("VMREP_ROT_FLIP")
	r.Figures["seed"] = fmt.Sprint(seed)
	rs := buildRotStore(t, 3, 3, 2<<20)
	rng := rand.New(rand.NewPCG(seed, 13))
	work := t.TempDir()
	table := map[string]map[string]int{} // kind -> class -> flips
	fuseEvery := reliability.Size(4, 10)
	fuseReads := 0
	for i := range flips {
		fl := pickFlip(rng, rs, rotKinds[i%len(rotKinds)])
		if only != "" && only != fmt.Sprint(i) {
			continue
		}
		o := judgeFlip(t, rs, filepath.Join(work, "copy"), fl, i%fuseEvery == 0)
		if o.fuseChecked {
			fuseReads++
		}
		c := o.class()
		if table[fl.kind] == nil {
			table[fl.kind] = map[string]int{}
		}
		table[fl.kind][c]++
		if slices.Index(rotClasses, c) < 3 {
			t.Errorf("flip %d (%s): %s: open %v; wrong %v; failed %v; problems %v", i, fl, c, o.openErr, o.wrong, o.fails, o.problems)
		}
	}
	for _, c := range rotClasses[:3] {
		r.Bad[c] = 0
	}
	for _, kind := range rotKinds {
		var row []string
		for _, c := range rotClasses {
			n := table[kind][c]
			if slices.Index(rotClasses, c) < 3 {
				r.Bad[c] += n
			} else if n > 0 {
				row = append(row, fmt.Sprintf("%s %d", c, n))
			}
		}
		r.Figures[kind] = strings.Join(row, ", ")
		t.Logf("%-14s %v", kind, table[kind])
	}
	r.Figures["flips read through FUSE"] = fmt.Sprint(fuseReads)
}

// pickFlip chooses a file (or page) of kind, each alike however large, and
// a random bit in it: a small OPTIONS file is hit as often as a big table.
func pickFlip(rng *rand.Rand, rs *rotStore, kind string) rotFlip {
	s := rs.spans[kind][rng.IntN(len(rs.spans[kind]))]
	return rotFlip{kind: kind, file: s.file, off: s.from + rng.Int64N(s.to-s.from), bit: uint(rng.IntN(8)), dead: s.dead}
}

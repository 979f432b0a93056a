package retention

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// randomSnapshots returns n snapshots with unique seqs at random times over
// about 90 days, some pinned, some sharing a time; seqs are not in time
// order, as after a clock change.
func randomSnapshots(r *rand.Rand, n int) []Snapshot {
	seqs := r.Perm(n * 2)
	snaps := make([]Snapshot, n)
	for i := range snaps {
		t := start.Add(time.Duration(r.Int64N(int64(90 * 24 * time.Hour))))
		if i > 0 && r.IntN(10) == 0 {
			t = snaps[i-1].Time
		}
		snaps[i] = Snapshot{Seq: uint64(seqs[i]), Time: t}
		if r.IntN(8) == 0 {
			snaps[i].Pins = []string{"replica r"}
		}
	}
	return snaps
}

func randomPolicy(r *rand.Rand) Policy {
	count := func() int {
		switch r.IntN(6) {
		case 0:
			return Unlimited
		case 1, 2:
			return 0
		default:
			return r.IntN(10)
		}
	}
	for {
		p := Policy{Last: count(), Hourly: count(), Daily: count(), Weekly: count(), Monthly: count(), Yearly: count()}
		if r.IntN(4) == 0 {
			p.Within = time.Duration(r.IntN(100)) * time.Hour
		}
		if !p.Empty() {
			return p
		}
	}
}

func seqsOf(ds []Decision) []uint64 {
	var s []uint64
	for _, d := range ds {
		s = append(s, d.Snapshot.Seq)
	}
	return s
}

func TestApplyProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := range 2000 {
		snaps := randomSnapshots(r, 1+r.IntN(60))
		p := randomPolicy(r)
		now := start.Add(80 * 24 * time.Hour)
		keep, remove, err := Apply(snaps, p, now, time.UTC)
		if err != nil {
			t.Fatalf("iter %d: %v", iter, err)
		}
		// keep ∪ remove = input, disjoint.
		got := append(seqsOf(keep), seqsOf(remove)...)
		want := seqsOf(decisionsOf(snaps))
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("iter %d: keep ∪ remove = %v, want %v", iter, got, want)
		}
		var newest uint64
		for _, s := range snaps {
			newest = max(newest, s.Seq)
		}
		for _, d := range remove {
			if d.Snapshot.Seq == newest {
				t.Fatalf("iter %d, %v: newest %d removed", iter, p, newest)
			}
			if len(d.Snapshot.Pins) > 0 {
				t.Fatalf("iter %d, %v: pinned %d removed", iter, p, d.Snapshot.Seq)
			}
			if len(d.Reasons) != 0 {
				t.Fatalf("iter %d: removed %d has reasons %v", iter, d.Snapshot.Seq, d.Reasons)
			}
		}
		for _, d := range keep {
			if len(d.Reasons) == 0 {
				t.Fatalf("iter %d: kept %d without a reason", iter, d.Snapshot.Seq)
			}
		}
		// Idempotent: forgetting again with the same policy removes nothing.
		var kept []Snapshot
		for _, d := range keep {
			kept = append(kept, d.Snapshot)
		}
		if _, again, err := Apply(kept, p, now, time.UTC); err != nil || len(again) != 0 {
			t.Fatalf("iter %d, %v: a second forget removes %v (%v)", iter, p, seqsOf(again), err)
		}
		// Deterministic: a shuffled input gives the same decisions.
		shuffled := slices.Clone(snaps)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		keep2, remove2, err := Apply(shuffled, p, now, time.UTC)
		if err != nil || !reflect.DeepEqual(keep, keep2) || !reflect.DeepEqual(remove, remove2) {
			t.Fatalf("iter %d, %v: result depends on input order", iter, p)
		}
	}
}

func decisionsOf(snaps []Snapshot) []Decision {
	ds := make([]Decision, len(snaps))
	for i, s := range snaps {
		ds[i].Snapshot = s
	}
	return ds
}

// With only last=N, no pins, and seqs in time order, exactly the N newest
// are kept.
func TestKeepLastKeepsExactlyTheNewest(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for iter := range 500 {
		n := 1 + r.IntN(40)
		snaps := make([]Snapshot, n)
		for i := range snaps {
			snaps[i] = Snapshot{Seq: uint64(i + 1), Time: start.Add(time.Duration(i)*time.Minute + time.Duration(r.IntN(60))*time.Second)}
		}
		last := 1 + r.IntN(50)
		keep, _, err := Apply(snaps, Policy{Last: last}, start, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		var want []uint64
		for s := n; s > 0 && len(want) < last; s-- {
			want = append(want, uint64(s))
		}
		if got := seqsOf(keep); !slices.Equal(got, want) {
			t.Fatalf("iter %d: last=%d of %d kept %v, want %v", iter, last, n, got, want)
		}
	}
}

// With only daily=N and no pins, every kept snapshot is the newest of its
// day or the oldest of all, and at most N days (plus that oldest) are kept.
func TestDailyKeepsNewestOfEachDay(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for iter := range 500 {
		snaps := make([]Snapshot, 1+r.IntN(80))
		for i := range snaps {
			snaps[i] = Snapshot{Seq: uint64(i), Time: start.Add(time.Duration(r.Int64N(int64(30 * 24 * time.Hour))))}
		}
		// seqs in time order, so that "newest" is also the latest.
		slices.SortFunc(snaps, func(a, b Snapshot) int { return a.Time.Compare(b.Time) })
		for i := range snaps {
			snaps[i].Seq = uint64(i)
		}
		days := 1 + r.IntN(10)
		keep, _, err := Apply(snaps, Policy{Daily: days}, start, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		newestOfDay := map[string]uint64{}
		for _, s := range snaps {
			newestOfDay[s.Time.Format(time.DateOnly)] = s.Seq // ascending: the last wins
		}
		kept := 0
		for _, d := range keep {
			day := d.Snapshot.Time.Format(time.DateOnly)
			if newestOfDay[day] == d.Snapshot.Seq {
				kept++
			} else if d.Snapshot.Seq != 0 {
				t.Fatalf("iter %d: kept %d, neither the newest of %s nor the oldest", iter, d.Snapshot.Seq, day)
			}
		}
		if want := min(days, len(newestOfDay)); kept != want {
			t.Fatalf("iter %d: daily=%d kept %d days, want %d", iter, days, kept, want)
		}
	}
}

func TestApplyRefusesBadInput(t *testing.T) {
	snaps := []Snapshot{{Seq: 1, Time: start}}
	if _, _, err := Apply(snaps, Policy{}, start, nil); !errors.Is(err, ErrEmptyPolicy) {
		t.Errorf("empty policy: %v, want ErrEmptyPolicy", err)
	}
	if _, _, err := Apply(snaps, Policy{Daily: -2}, start, nil); err == nil {
		t.Error("daily=-2 accepted")
	}
	if _, _, err := Apply(snaps, Policy{Within: -time.Hour}, start, nil); err == nil {
		t.Error("within=-1h accepted")
	}
	dup := []Snapshot{{Seq: 1, Time: start}, {Seq: 2, Time: start.Add(time.Hour)}, {Seq: 1, Time: start.Add(2 * time.Hour)}}
	if _, _, err := Apply(dup, Policy{Last: 1}, start, nil); err == nil {
		t.Error("duplicate seq accepted")
	}
}

func TestApplyDoesNotChangeInput(t *testing.T) {
	snaps := []Snapshot{{Seq: 1, Time: start}, {Seq: 2, Time: start.Add(time.Hour)}}
	before := slices.Clone(snaps)
	if _, _, err := Apply(snaps, Policy{Last: 1}, start, nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(snaps, before) {
		t.Errorf("Apply reordered its input: %v", snaps)
	}
}

// A week of 15-minute snapshots with forget after each, as a schedule
// runs it: the set stays bounded, the newest is always there, and at the
// end it holds exactly the 4 newest, the newest of each of the last 24
// hours and of the last 7 days.
func TestForgetAfterEveryRunForAWeek(t *testing.T) {
	p := Policy{Last: 4, Hourly: 24, Daily: 7}
	var snaps []Snapshot
	for run := range 7 * 96 {
		now := start.Add(time.Duration(run+1) * 15 * time.Minute)
		snaps = append(snaps, Snapshot{Seq: uint64(run + 1), Time: now})
		keep, _, err := Apply(snaps, p, now, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		if keep[0].Snapshot.Seq != uint64(run+1) {
			t.Fatalf("run %d: newest %d not kept first", run, run+1)
		}
		if len(keep) > 4+24+7+1 {
			t.Fatalf("run %d: %d kept, above the policy's bound", run, len(keep))
		}
		snaps = snaps[:0]
		for _, d := range keep {
			snaps = append(snaps, d.Snapshot)
		}
	}
	hours, days := map[string]bool{}, map[string]bool{}
	for _, s := range snaps {
		hours[s.Time.Format("2006-01-02T15")] = true
		days[s.Time.Format(time.DateOnly)] = true
	}
	if len(hours) < 24 {
		t.Errorf("after a week: %d hours kept, want at least 24", len(hours))
	}
	// The last run is at 2026-01-08 00:00, so the seventh day back is
	// 2026-01-02, whose newest snapshot (23:45, seq 191) is the oldest
	// kept: the daily count is used up before the first snapshot.
	if len(days) != 7 || snaps[len(snaps)-1].Seq != 191 {
		t.Errorf("after a week: %d days, oldest kept %d; want 7 days, 191", len(days), snaps[len(snaps)-1].Seq)
	}
}

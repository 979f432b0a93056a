package retention

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Snapshot is what the policy needs to know of one snapshot.
type Snapshot struct {
	// Seq orders snapshots by when they were taken; the highest is the
	// newest, always kept. Seqs are unique.
	Seq uint64
	// Time is when the snapshot was taken; the buckets use it.
	Time time.Time
	// Pins say why the caller must keep the snapshot whatever the
	// policy: "replica dr1", "pinned". Each becomes a reason "pinned: …".
	Pins []string
}

// Decision is a snapshot and why it is kept; Reasons is empty for a
// snapshot to remove.
type Decision struct {
	Snapshot Snapshot
	Reasons  []string
}

// bucketRule is one counted rule: its count and the bucket of a time.
type bucketRule struct {
	name   string
	count  int
	bucket func(t time.Time) string
}

// Apply splits snaps into those to keep and those to remove under p, both
// newest first (by time, then seq). Buckets are wall-clock periods of
// loc (nil: now's location): the newest snapshot of each bucket is kept,
// for the count newest buckets that hold a snapshot; when a rule's count
// is not used up by the oldest snapshot, that oldest snapshot is kept too,
// which keeps the longest history the count allows (as restic does since
// 0.17). A wall-clock hour repeated by a daylight-saving change is one
// hourly bucket. now only decides which snapshots are in the future for
// Within's anchor. Apply changes nothing of snaps.
func Apply(snaps []Snapshot, p Policy, now time.Time, loc *time.Location) (keep, remove []Decision, err error) {
	if err := p.Validate(); err != nil {
		return nil, nil, err
	}
	if loc == nil {
		loc = now.Location()
	}
	list := slices.Clone(snaps)
	slices.SortFunc(list, func(a, b Snapshot) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return cmp.Compare(b.Seq, a.Seq)
	})
	if len(list) == 0 {
		return nil, nil, nil
	}
	if err := checkUniqueSeqs(list); err != nil {
		return nil, nil, err
	}
	newest := 0
	for i := range list {
		if list[i].Seq > list[newest].Seq {
			newest = i
		}
	}

	rules := bucketRules(p, loc)
	last := make([]string, len(rules)) // bucket of the last kept, per rule
	var within time.Time
	if p.Within > 0 {
		within = anchor(list, now).Add(-p.Within)
	}
	for i, s := range list {
		var reasons []string
		if i == newest {
			reasons = append(reasons, "newest")
		}
		for _, pin := range s.Pins {
			reasons = append(reasons, "pinned: "+pin)
		}
		if p.Within > 0 && s.Time.After(within) {
			reasons = append(reasons, "within "+formatDuration(p.Within))
		}
		for r := range rules {
			rule := &rules[r]
			if rule.count == 0 {
				continue
			}
			b := rule.bucket(s.Time)
			oldest := i == len(list)-1
			if b == last[r] && !oldest {
				continue
			}
			reason := rule.name + " " + b
			if b == last[r] {
				reason += " (oldest)"
			}
			if rule.count > 0 {
				rule.count--
			}
			last[r] = b
			reasons = append(reasons, reason)
		}
		d := Decision{Snapshot: s, Reasons: reasons}
		if len(reasons) > 0 {
			keep = append(keep, d)
		} else {
			remove = append(remove, d)
		}
	}
	return keep, remove, nil
}

func checkUniqueSeqs(list []Snapshot) error {
	seen := make(map[uint64]struct{}, len(list))
	for _, s := range list {
		if _, dup := seen[s.Seq]; dup {
			return fmt.Errorf("retention: snapshot %d given twice", s.Seq)
		}
		seen[s.Seq] = struct{}{}
	}
	return nil
}

// anchor is the time of the newest snapshot not after now, or now when all
// are in the future: a clock that ran ahead must not make Within drop the
// snapshots taken since.
func anchor(list []Snapshot, now time.Time) time.Time {
	for _, s := range list { // newest first
		if !s.Time.After(now) {
			return s.Time
		}
	}
	return now
}

func bucketRules(p Policy, loc *time.Location) []bucketRule {
	in := func(f func(time.Time) string) func(time.Time) string {
		return func(t time.Time) string { return f(t.In(loc)) }
	}
	seq := 0
	return []bucketRule{
		// every snapshot is a bucket of its own; the label counts them.
		{"last", p.Last, func(time.Time) string { seq++; return fmt.Sprintf("#%d", seq) }},
		{"hourly", p.Hourly, in(func(t time.Time) string { return t.Format("2006-01-02T15") })},
		{"daily", p.Daily, in(func(t time.Time) string { return t.Format("2006-01-02") })},
		{"weekly", p.Weekly, in(func(t time.Time) string {
			y, w := t.ISOWeek()
			return fmt.Sprintf("%04d-W%02d", y, w)
		})},
		{"monthly", p.Monthly, in(func(t time.Time) string { return t.Format("2006-01") })},
		{"yearly", p.Yearly, in(func(t time.Time) string { return t.Format("2006") })},
	}
}

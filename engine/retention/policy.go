package retention

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Unlimited as a count keeps every bucket of that kind ("daily=all").
const Unlimited = -1

// ErrEmptyPolicy is returned for a policy without any rule. Forgetting
// with it would remove every snapshot but the newest and the pinned ones,
// which is never what a user who forgot a flag meant; restic keeps
// everything instead, we refuse, so the mistake is seen.
var ErrEmptyPolicy = errors.New("retention: empty policy: give at least one keep rule (last, hourly, daily, weekly, monthly, yearly, within)")

// Policy says what to keep besides the newest and pinned snapshots. A
// count of 0 disables its rule; Unlimited keeps all buckets of its kind.
type Policy struct {
	Last    int // the N newest snapshots
	Hourly  int // the newest snapshot in each of the N newest hours that have one
	Daily   int // ... days
	Weekly  int // ... ISO weeks (Monday to Sunday)
	Monthly int // ... months
	Yearly  int // ... years
	// Within keeps every snapshot taken less than Within before the
	// newest snapshot that is not in the future (anchored to the newest
	// snapshot, not to now, so that a source that stopped taking
	// snapshots does not see its history expire).
	Within time.Duration
}

// rule names in the order of the canonical form.
var ruleNames = []string{"last", "hourly", "daily", "weekly", "monthly", "yearly", "within"}

func (p *Policy) counts() []*int {
	return []*int{&p.Last, &p.Hourly, &p.Daily, &p.Weekly, &p.Monthly, &p.Yearly}
}

// Empty reports whether p has no rule.
func (p Policy) Empty() bool { return p == Policy{} }

// Validate returns ErrEmptyPolicy for an empty policy and an error naming
// the rule for a negative count or duration.
func (p Policy) Validate() error {
	if p.Empty() {
		return ErrEmptyPolicy
	}
	for i, c := range p.counts() {
		if *c < Unlimited {
			return fmt.Errorf("retention: %s=%d: count must be 0 or more, or all", ruleNames[i], *c)
		}
	}
	if p.Within < 0 {
		return fmt.Errorf("retention: within=%v: duration must not be negative", p.Within)
	}
	return nil
}

// String returns the canonical form ParsePolicy reads, rules in a fixed
// order, zero rules left out: "last=3,daily=7,within=2d".
func (p Policy) String() string {
	var parts []string
	for i, c := range p.counts() {
		switch {
		case *c == Unlimited:
			parts = append(parts, ruleNames[i]+"=all")
		case *c != 0:
			parts = append(parts, ruleNames[i]+"="+strconv.Itoa(*c))
		}
	}
	if p.Within != 0 {
		parts = append(parts, "within="+formatDuration(p.Within))
	}
	return strings.Join(parts, ",")
}

// ParsePolicy reads the comma-separated form String writes:
// "last=3,hourly=24,daily=7,weekly=4,monthly=all,within=36h". Counts are
// whole numbers or "all"; within takes a Go duration or a whole number of
// days ("7d") or weeks ("2w"). The result is validated.
func ParsePolicy(s string) (Policy, error) {
	var p Policy
	seen := map[string]bool{}
	if strings.TrimSpace(s) == "" {
		return p, ErrEmptyPolicy
	}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		key, val, ok := strings.Cut(item, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok || key == "" || val == "" {
			return Policy{}, fmt.Errorf("retention: %q: want rule=value, e.g. daily=7", item)
		}
		if seen[key] {
			return Policy{}, fmt.Errorf("retention: %q given twice", key)
		}
		seen[key] = true
		if key == "within" {
			d, err := parseDuration(val)
			if err != nil {
				return Policy{}, fmt.Errorf("retention: %q: %w", item, err)
			}
			p.Within = d
			continue
		}
		i := indexOf(ruleNames[:6], key)
		if i < 0 {
			return Policy{}, fmt.Errorf("retention: unknown rule %q (want one of %s)", key, strings.Join(ruleNames, ", "))
		}
		n, err := parseCount(val)
		if err != nil {
			return Policy{}, fmt.Errorf("retention: %q: %w", item, err)
		}
		*p.counts()[i] = n
	}
	if err := p.Validate(); err != nil {
		return Policy{}, err
	}
	return p, nil
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// maxCount bounds counts so that no arithmetic on them can overflow; no
// store holds a million snapshots of one volume.
const maxCount = 1_000_000

func parseCount(s string) (int, error) {
	if s == "all" {
		return Unlimited, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || strings.HasPrefix(s, "+") {
		return 0, errors.New(`count must be a whole number or "all"`)
	}
	if n > maxCount {
		return 0, fmt.Errorf("count above %d", maxCount)
	}
	return n, nil
}

// maxWithin bounds within to a century, far from overflow.
const maxWithin = 100 * 365 * 24 * time.Hour

func parseDuration(s string) (time.Duration, error) {
	var d time.Duration
	if unit := s[len(s)-1]; unit == 'd' || unit == 'w' {
		n, err := strconv.Atoi(s[:len(s)-1])
		if err != nil || n < 0 || strings.HasPrefix(s, "+") {
			return 0, errors.New(`want a duration such as 36h, 7d or 2w`)
		}
		if n > int(maxWithin/(24*time.Hour)) {
			return 0, errors.New("duration too long")
		}
		d = time.Duration(n) * 24 * time.Hour
		if unit == 'w' {
			d *= 7
		}
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, errors.New(`want a duration such as 36h, 7d or 2w`)
		}
	}
	if d < 0 {
		return 0, errors.New("duration must not be negative")
	}
	if d > maxWithin {
		return 0, errors.New("duration too long")
	}
	return d, nil
}

// formatDuration writes whole days as "7d" and the rest as Go does,
// without the trailing zero units ("36h", "1h30m").
func formatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

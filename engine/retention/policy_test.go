package retention

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParsePolicy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Policy
		str  string // canonical form
	}{
		{"last=3", Policy{Last: 3}, "last=3"},
		{"daily=7, last=3 ,hourly=24", Policy{Last: 3, Hourly: 24, Daily: 7}, "last=3,hourly=24,daily=7"},
		{"weekly=4,monthly=all,yearly=1", Policy{Weekly: 4, Monthly: Unlimited, Yearly: 1}, "weekly=4,monthly=all,yearly=1"},
		{"within=36h", Policy{Within: 36 * time.Hour}, "within=36h"},
		{"within=7d", Policy{Within: 7 * 24 * time.Hour}, "within=7d"},
		{"within=2w", Policy{Within: 14 * 24 * time.Hour}, "within=14d"},
		{"within=90m", Policy{Within: 90 * time.Minute}, "within=1h30m"},
		{"last=0,daily=1", Policy{Daily: 1}, "daily=1"},
	} {
		p, err := ParsePolicy(tc.in)
		if err != nil {
			t.Errorf("ParsePolicy(%q): %v", tc.in, err)
			continue
		}
		if p != tc.want {
			t.Errorf("ParsePolicy(%q) = %+v, want %+v", tc.in, p, tc.want)
		}
		if s := p.String(); s != tc.str {
			t.Errorf("ParsePolicy(%q).String() = %q, want %q", tc.in, s, tc.str)
		}
	}
}

func TestParsePolicyErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "empty policy"},
		{"last=0", "empty policy"},
		{"last", "want rule=value"},
		{"=3", "want rule=value"},
		{"daily=", "want rule=value"},
		{"fortnightly=2", `unknown rule "fortnightly"`},
		{"daily=-1", "whole number"},
		{"daily=+1", "whole number"},
		{"daily=1.5", "whole number"},
		{"daily=2000000", "count above"},
		{"daily=1,daily=2", "given twice"},
		{"within=soon", "duration such as"},
		{"within=-3h", "negative"},
		{"within=99999999d", "too long"},
		{"within=1000000h", "too long"},
	} {
		_, err := ParsePolicy(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParsePolicy(%q) = %v, want an error with %q", tc.in, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("ParsePolicy(%q): error on more than one line: %q", tc.in, err)
		}
	}
	if _, err := ParsePolicy(""); !errors.Is(err, ErrEmptyPolicy) {
		t.Errorf("ParsePolicy(\"\") = %v, want ErrEmptyPolicy", err)
	}
}

// FuzzParsePolicy checks that the parser never panics, that what it accepts
// is valid, and that the canonical form reads back the same policy.
func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{"last=3", "last=3,hourly=24,daily=7,weekly=4,monthly=12,yearly=all", "within=7d", "within=1h30m", "daily=1,daily=2", "", "x", "within=2w,last=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePolicy(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error on more than one line: %q", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("ParsePolicy(%q) accepted an invalid policy: %v", s, err)
		}
		q, err := ParsePolicy(p.String())
		if err != nil || q != p {
			t.Fatalf("ParsePolicy(%q).String() = %q reads back as %+v, %v; want %+v", s, p.String(), q, err, p)
		}
	})
}

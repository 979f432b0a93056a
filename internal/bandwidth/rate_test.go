package bandwidth

import (
	"strings"
	"testing"
)

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Rate
		str  string
	}{
		{"200Mbit", 25_000_000, "200Mbit/s"},
		{"50Mbit", 6_250_000, "50Mbit/s"},
		{"50 Mbit/s", 6_250_000, "50Mbit/s"},
		{"50mbit", 6_250_000, "50Mbit/s"},
		{"1.5Gbit", 187_500_000, "1500Mbit/s"},
		{"100Mbps", 12_500_000, "100Mbit/s"},
		{"1Gbps", 125_000_000, "1Gbit/s"},
		{"8kbit", 1000, "8kbit/s"},
		{"1Mibit", 131072, "128KiB/s"},
		{"10MiB/s", 10 << 20, "10MiB/s"},
		{"10MiB", 10 << 20, "10MiB/s"},
		{"10MB/s", 10_000_000, "80Mbit/s"},
		{"10MBps", 10_000_000, "80Mbit/s"},
		{"3kB", 3000, "24kbit/s"},
		{"1G", 1 << 30, "1GiB/s"},
		{"512K", 512 << 10, "512KiB/s"},
		{"2Gi", 2 << 30, "2GiB/s"},
		{"1000", 1000, "8kbit/s"},
		{"1001B/s", 1001, "1001B/s"},
		{"1", 1, "1B/s"},
		{"4bit", 1, "1B/s"}, // 0.5 B/s rounds up
		{"unlimited", Unlimited, "unlimited"},
		{"1PB", 0, ""}, // unknown prefix: error below
	} {
		if tc.str == "" {
			continue
		}
		got, err := ParseRate(tc.in)
		if err != nil {
			t.Errorf("ParseRate(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseRate(%q) = %d B/s, want %d", tc.in, got, tc.want)
		}
		if s := got.String(); s != tc.str {
			t.Errorf("ParseRate(%q).String() = %q, want %q", tc.in, s, tc.str)
		}
	}
}

func TestParseRateErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "want a number and a unit"},
		{"Mbit", "want a number and a unit"},
		{"fast", "want a number and a unit"},
		{"1.2.3Mbit", "want a number and a unit"},
		{".5Mbit", "want a number and a unit"},
		{"-5Mbit", "want a number and a unit"},
		{"0", "above zero"},
		{"0Mbit", "above zero"},
		{"10Mb", `ambiguous unit "Mb": write Mbit for bits or MB for bytes`},
		{"10mb", "ambiguous"},
		{"10b", "ambiguous"},
		{"10 furlongs", "unknown unit"},
		{"1PB", "unknown unit"},
		{"10/s", `"/s" without a unit`},
		{"10Mbps/s", "unknown unit"},
		{"1bit", "below 1 byte per second"},
		{"2000TB", "above the largest rate"},
		{"99999999999999999999999999", "above the largest rate"},
	} {
		_, err := ParseRate(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRate(%q) = %v, want an error with %q", tc.in, err, tc.want)
		}
	}
}

// FuzzParseRate checks that the parser never panics, errs on one line,
// accepts only rates within bounds, and reads back what String writes.
func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"200Mbit", "10MiB/s", "1G", "1.5Gbit", "10Mb", "unlimited", "0", "8kbit", "100Mbps", "1e3", "5 MB/s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error on more than one line: %q", err)
			}
			return
		}
		if r < 0 || r > MaxRate {
			t.Fatalf("ParseRate(%q) = %d, out of bounds", s, r)
		}
		back, err := ParseRate(r.String())
		if err != nil || back != r {
			t.Fatalf("ParseRate(%q) = %d; String %q reads back as %d, %v", s, r, r.String(), back, err)
		}
	})
}

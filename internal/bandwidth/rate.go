package bandwidth

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Rate is a bandwidth in bytes per second; 0 means no limit.
type Rate int64

// MaxRate bounds a parsed rate (1 PB/s), far above any link and far from
// overflow in the limiter's arithmetic.
const MaxRate Rate = 1e15

// Unlimited is the Rate of no limit; ParseRate reads it as "unlimited".
const Unlimited Rate = 0

// Bits returns the rate in bits per second.
func (r Rate) Bits() int64 { return int64(r) * 8 }

var (
	decimalPrefix = map[string]int64{"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}
	binaryPrefix  = map[string]int64{"ki": 1 << 10, "mi": 1 << 20, "gi": 1 << 30, "ti": 1 << 40}
)

// prefix returns the multiplier of a unit prefix, any case: "k", "M",
// "Gi"; ok is false for an unknown one.
func prefix(p string) (int64, bool) {
	p = strings.ToLower(p)
	if m, ok := decimalPrefix[p]; ok {
		return m, true
	}
	m, ok := binaryPrefix[p]
	return m, ok
}

// ParseRate reads a bandwidth. Units, with an optional "/s":
//
//	bits:  bit, kbit, Mbit, Gbit, Tbit (decimal), Kibit, Mibit, ... (binary),
//	       and kbps, Mbps, Gbps (lower-case b);
//	bytes: B, kB, MB, GB, TB (decimal), KiB, MiB, GiB, TiB (binary), MBps;
//	a bare number is bytes per second; a bare K, M, G or T is binary
//	bytes, as in curl and rsync ("1G" is 1 GiB/s).
//
// "10Mb" is refused as ambiguous (bits or bytes?). "unlimited" is
// Unlimited; zero is refused, so that a typo cannot lift a limit. The
// result is rounded to whole bytes per second and must be at least 1 B/s.
// Errors are one line and quote the input.
func ParseRate(s string) (Rate, error) {
	in := strings.TrimSpace(s)
	if in == "unlimited" {
		return Unlimited, nil
	}
	end := 0
	for end < len(in) && (in[end] >= '0' && in[end] <= '9' || in[end] == '.') {
		end++
	}
	num, unit := in[:end], strings.TrimSpace(in[end:])
	if num == "" || strings.Count(num, ".") > 1 || num[0] == '.' || num[len(num)-1] == '.' || len(num) > 30 {
		return 0, fmt.Errorf("bandwidth: %q: want a number and a unit, such as 200Mbit or 10MiB/s", s)
	}
	value, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("bandwidth: %q: bad number %q", s, num)
	}
	mult, bits, err := parseUnit(unit)
	if err != nil {
		return 0, fmt.Errorf("bandwidth: %q: %w", s, err)
	}
	value.Mul(value, new(big.Rat).SetInt64(mult))
	if bits {
		value.Quo(value, big.NewRat(8, 1))
	}
	if value.Sign() == 0 {
		return 0, fmt.Errorf("bandwidth: %q: a rate must be above zero (say \"unlimited\" for no limit)", s)
	}
	// round half up to whole bytes per second
	value.Add(value, big.NewRat(1, 2))
	q := new(big.Int).Quo(value.Num(), value.Denom())
	if q.Sign() == 0 {
		return 0, fmt.Errorf("bandwidth: %q: below 1 byte per second", s)
	}
	if !q.IsInt64() || q.Int64() > int64(MaxRate) {
		return 0, fmt.Errorf("bandwidth: %q: above the largest rate, %s", s, MaxRate)
	}
	return Rate(q.Int64()), nil
}

// parseUnit returns the multiplier of unit and whether it counts bits.
func parseUnit(unit string) (mult int64, bits bool, err error) {
	u := strings.TrimSuffix(unit, "/s")
	switch {
	case u == "":
		if unit != "" {
			return 0, false, errors.New(`"/s" without a unit`)
		}
		return 1, false, nil
	case strings.HasSuffix(strings.ToLower(u), "bit"):
		u, bits = u[:len(u)-3], true
	case strings.HasSuffix(u, "bps") && u == unit:
		u, bits = u[:len(u)-3], true
	case strings.HasSuffix(u, "Bps") && u == unit:
		u = u[:len(u)-3]
	case strings.HasSuffix(u, "B"):
		u = u[:len(u)-1]
	case strings.HasSuffix(u, "b"):
		// Ambiguous only with a prefix we know; the hint then repeats
		// that prefix, which keeps the message one plain line.
		p := u[:len(u)-1]
		if _, ok := prefix(p); ok {
			return 0, false, fmt.Errorf("ambiguous unit %q: write %sbit for bits or %sB for bytes", unit, p, p)
		}
		return 0, false, fmt.Errorf("unknown unit %q (want bit, kbit, Mbit, Gbit, B, kB, MB, MiB, GB, GiB, ...)", unit)
	default:
		// a bare prefix: binary bytes, as curl and rsync read "1G"
		if m, ok := binaryPrefix[strings.ToLower(u)+"i"]; ok {
			return m, false, nil
		}
		if m, ok := binaryPrefix[strings.ToLower(u)]; ok {
			return m, false, nil
		}
		return 0, false, fmt.Errorf("unknown unit %q (want bit, kbit, Mbit, Gbit, B, kB, MB, MiB, GB, GiB, ...)", unit)
	}
	m, ok := prefix(u)
	if !ok {
		return 0, false, fmt.Errorf("unknown unit %q (want bit, kbit, Mbit, Gbit, B, kB, MB, MiB, GB, GiB, ...)", unit)
	}
	return m, bits, nil
}

// String writes r in a form ParseRate reads back exactly: decimal bits
// when whole ("200Mbit/s"), else binary bytes when whole ("10MiB/s"), else
// bytes ("1234B/s"); "unlimited" for 0.
func (r Rate) String() string {
	if r == Unlimited {
		return "unlimited"
	}
	bits := r.Bits()
	for _, u := range []struct {
		name string
		mult int64
	}{{"Tbit", 1e12}, {"Gbit", 1e9}, {"Mbit", 1e6}, {"kbit", 1e3}} {
		if bits%u.mult == 0 {
			return strconv.FormatInt(bits/u.mult, 10) + u.name + "/s"
		}
	}
	for _, u := range []struct {
		name string
		mult int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if int64(r)%u.mult == 0 {
			return strconv.FormatInt(int64(r)/u.mult, 10) + u.name + "/s"
		}
	}
	return strconv.FormatInt(int64(r), 10) + "B/s"
}

package main

import (
	"testing"
	"time"
)

func TestAgo(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:                                 "0s",
		42*time.Second + 300*time.Millisecond:        "42s",
		5*time.Minute + 10*time.Second:               "5m10s",
		5 * time.Minute:                              "5m0s",
		3*time.Hour + 2*time.Minute + 20*time.Second: "3h2m",
		50 * time.Hour:                               "2d2h",
	} {
		if got := ago(d); got != want {
			t.Errorf("ago(%v) = %q, want %q", d, got, want)
		}
	}
}

package volume

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestHooksValidate(t *testing.T) {
	tests := []struct {
		name  string
		hooks *Hooks
		want  string // substring of the error; empty: valid
	}{
		{"nil", nil, ""},
		{"empty", &Hooks{}, ""},
		{"both", &Hooks{Pre: "fsfreeze -f /mnt", Post: "fsfreeze -u /mnt", Timeout: Duration(30 * time.Second)}, ""},
		{"longest command", &Hooks{Pre: strings.Repeat("x", maxHookCommand)}, ""},
		{"longest timeout", &Hooks{Post: "true", Timeout: Duration(MaxHookTimeout)}, ""},
		{"command too long", &Hooks{Post: strings.Repeat("x", maxHookCommand+1)}, "post-snapshot hook: command of 4097 bytes"},
		{"NUL", &Hooks{Pre: "echo a\x00b"}, "pre-snapshot hook: command holds a NUL byte"},
		{"blanks", &Hooks{Pre: " \t\n"}, "pre-snapshot hook: command is only blanks"},
		{"negative timeout", &Hooks{Pre: "true", Timeout: Duration(-time.Second)}, "hook timeout -1s"},
		{"timeout too long", &Hooks{Pre: "true", Timeout: Duration(MaxHookTimeout + time.Second)}, "hook timeout 1h0m1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.hooks.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate: %v, want nil", err)
			case tt.want != "" && err == nil:
				t.Fatalf("Validate: nil, want an error with %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("Validate: %q, want it to hold %q", err, tt.want)
			}
		})
	}
}

// A VG record with bad hooks or LVM settings is refused like any other
// invalid field.
func TestVGValidateCaptureSettings(t *testing.T) {
	vg := testVG()
	vg.Hooks = &Hooks{Pre: "   "}
	if err := vg.Validate(); err == nil || !strings.Contains(err.Error(), `volume group "web": pre-snapshot hook`) {
		t.Errorf("bad hook: %v", err)
	}
	vg = testVG()
	vg.LVMSnapshot = &LVMSnapshot{Percent: 101}
	if err := vg.Validate(); err == nil || !strings.Contains(err.Error(), "lvm snapshot size 101%") {
		t.Errorf("bad lvm percent: %v", err)
	}
}

func TestHooksEffectiveTimeout(t *testing.T) {
	tests := []struct {
		hooks *Hooks
		want  time.Duration
	}{
		{nil, DefaultHookTimeout},
		{&Hooks{}, DefaultHookTimeout},
		{&Hooks{Timeout: Duration(5 * time.Second)}, 5 * time.Second},
	}
	for _, tt := range tests {
		if got := tt.hooks.EffectiveTimeout(); got != tt.want {
			t.Errorf("EffectiveTimeout(%+v) = %v, want %v", tt.hooks, got, tt.want)
		}
	}
}

func TestLVMSnapshotValidate(t *testing.T) {
	tests := []struct {
		cfg *LVMSnapshot
		ok  bool
	}{
		{nil, true}, {&LVMSnapshot{}, true}, {&LVMSnapshot{Percent: 100}, true}, {&LVMSnapshot{Size: 1 << 30}, true},
		{&LVMSnapshot{Percent: -1}, false}, {&LVMSnapshot{Percent: 101}, false}, {&LVMSnapshot{Size: -1}, false},
	}
	for _, tt := range tests {
		if err := tt.cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("Validate(%+v) = %v, want ok=%v", tt.cfg, err, tt.ok)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    Duration
		wantErr string // substring; empty: no error
	}{
		{`"60s"`, Duration(time.Minute), ""},
		{`"1h30m"`, Duration(90 * time.Minute), ""},
		{`"250ms"`, Duration(250 * time.Millisecond), ""},
		{`"0s"`, 0, ""},
		{`"-5s"`, Duration(-5 * time.Second), ""},
		{`1000000000`, Duration(time.Second), ""}, // nanoseconds, as old clients wrote
		{`0`, 0, ""},
		{`"60"`, 0, `duration "60"`}, // a unit is required in the string form
		{`"soon"`, 0, `duration "soon"`},
		{`""`, 0, `duration ""`},
		{`true`, 0, "want a string"},
		{`1.5`, 0, "want a string"},
		{`null`, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var d Duration
			err := json.Unmarshal([]byte(tt.in), &d)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Unmarshal(%s) = %v, %v; want an error with %q", tt.in, time.Duration(d), err, tt.wantErr)
				}
				return
			}
			if err != nil || d != tt.want {
				t.Fatalf("Unmarshal(%s) = %v, %v; want %v", tt.in, time.Duration(d), err, time.Duration(tt.want))
			}
		})
	}
}

func TestDurationRoundTrip(t *testing.T) {
	for _, d := range []Duration{0, Duration(time.Nanosecond), Duration(90 * time.Second), Duration(MaxHookTimeout)} {
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != '"' {
			t.Errorf("Marshal(%v) = %s, want a string", time.Duration(d), b)
		}
		var back Duration
		if err := json.Unmarshal(b, &back); err != nil || back != d {
			t.Errorf("round trip of %v: %s gave %v, %v", time.Duration(d), b, time.Duration(back), err)
		}
	}
	// In a Hooks record, a zero timeout is left out.
	b, _ := json.Marshal(Hooks{Pre: "true"})
	if strings.Contains(string(b), "timeout") {
		t.Errorf("zero timeout written: %s", b)
	}
	var h Hooks
	if err := json.Unmarshal([]byte(`{"pre":"a","post":"b","timeout":"2m"}`), &h); err != nil || h.Timeout != Duration(2*time.Minute) || h.Pre != "a" || h.Post != "b" {
		t.Errorf("Hooks from JSON: %+v, %v", h, err)
	}
}

// FuzzDurationJSON: any input is read or refused without a panic, and what is
// read writes back to the same value.
func FuzzDurationJSON(f *testing.F) {
	for _, s := range []string{`"60s"`, `"1h"`, `0`, `-1`, `null`, `"x"`, `1.5`, `"9999999999h"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var d Duration
		if err := d.UnmarshalJSON(in); err != nil {
			return
		}
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var back Duration
		if err := json.Unmarshal(b, &back); err != nil || back != d {
			t.Fatalf("%q read as %v, written %s, read back %v, %v", in, time.Duration(d), b, time.Duration(back), err)
		}
	})
}

package daemon

import (
	"strings"
	"testing"
	"time"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/volume"
)

func TestApplyVGUpdate(t *testing.T) {
	str := func(s string) *string { return &s }
	yes, no := true, false
	hooks := &volume.Hooks{Pre: "a", Post: "b", Timeout: volume.Duration(time.Minute)}
	tests := []struct {
		name    string
		start   volume.VG
		req     api.UpdateVGRequest
		want    volume.VG
		wantErr string
	}{
		{"set hooks", volume.VG{}, api.UpdateVGRequest{PreSnapshot: str("a"), HookTimeout: str("5s")},
			volume.VG{Hooks: &volume.Hooks{Pre: "a", Timeout: volume.Duration(5 * time.Second)}}, ""},
		{"leave the rest", volume.VG{Hooks: hooks}, api.UpdateVGRequest{PreSnapshot: str("c")},
			volume.VG{Hooks: &volume.Hooks{Pre: "c", Post: "b", Timeout: volume.Duration(time.Minute)}}, ""},
		{"clear all", volume.VG{Hooks: hooks, LVMSnapshot: &volume.LVMSnapshot{}},
			api.UpdateVGRequest{PreSnapshot: str(""), PostSnapshot: str(""), HookTimeout: str(""), LVMSnapshot: &no},
			volume.VG{}, ""},
		{"lvm on keeps its size", volume.VG{LVMSnapshot: &volume.LVMSnapshot{Percent: 20}}, api.UpdateVGRequest{LVMSnapshot: &yes},
			volume.VG{LVMSnapshot: &volume.LVMSnapshot{Percent: 20}}, ""},
		{"lvm on", volume.VG{}, api.UpdateVGRequest{LVMSnapshot: &yes}, volume.VG{LVMSnapshot: &volume.LVMSnapshot{}}, ""},
		{"bad timeout", volume.VG{Hooks: hooks}, api.UpdateVGRequest{HookTimeout: str("later")}, volume.VG{Hooks: hooks}, `hook timeout "later"`},
		{"timeout too long", volume.VG{}, api.UpdateVGRequest{HookTimeout: str("3h")}, volume.VG{}, "hook timeout 3h0m0s"},
		{"blank command", volume.VG{}, api.UpdateVGRequest{PostSnapshot: str(" ")}, volume.VG{}, "only blanks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vg := tt.start
			vg.Name = "web"
			e := applyVGUpdate(&vg, tt.req)
			if tt.wantErr != "" {
				if e == nil || e.Code != api.CodeInvalid || !strings.Contains(e.Message, tt.wantErr) {
					t.Fatalf("applyVGUpdate: %v, want invalid with %q", e, tt.wantErr)
				}
				return
			}
			if e != nil {
				t.Fatalf("applyVGUpdate: %v", e)
			}
			if !sameHooks(vg.Hooks, tt.want.Hooks) || (vg.LVMSnapshot == nil) != (tt.want.LVMSnapshot == nil) ||
				vg.LVMSnapshot != nil && *vg.LVMSnapshot != *tt.want.LVMSnapshot {
				t.Errorf("got hooks %+v lvm %+v, want %+v %+v", vg.Hooks, vg.LVMSnapshot, tt.want.Hooks, tt.want.LVMSnapshot)
			}
		})
	}
}

func sameHooks(a, b *volume.Hooks) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

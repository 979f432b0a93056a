package main

import (
	"strings"
	"testing"

	"github.com/vmrep/vmrep/api"
)

func TestDiffCommand(t *testing.T) {
	h := newHistory(t)
	d := h.d
	cases := []struct {
		base, target string
		want         map[string]string // volume name -> change
	}{
		{"web@1", "web@2", map[string]string{"boot": api.ChangeModified, "db": api.ChangeModified}},
		{"web@2", "web@3", map[string]string{"boot": api.ChangeModified, "db": api.ChangeUnchanged}},
		{"web@3", "web@1", map[string]string{"boot": api.ChangeModified, "db": api.ChangeModified}},
	}
	for _, c := range cases {
		var res api.DiffResult
		d.okJSON(&res, "diff", c.base, c.target)
		if res.Base != c.base || res.Target != c.target || len(res.Volumes) != len(c.want) {
			t.Fatalf("diff %s %s: %+v", c.base, c.target, res)
		}
		for _, v := range res.Volumes {
			if v.Change != c.want[v.Name] {
				t.Errorf("diff %s %s volume %s: change %s, want %s", c.base, c.target, v.Name, v.Change, c.want[v.Name])
			}
			changed := v.Change != api.ChangeUnchanged
			if changed != (v.ChangedBytes > 0) || changed != (v.Extents > 0) {
				t.Errorf("diff %s %s volume %s: %s with %d bytes in %d extents", c.base, c.target, v.Name,
					v.Change, v.ChangedBytes, v.Extents)
			}
			if v.BaseSize != v.TargetSize || v.TargetSize == 0 {
				t.Errorf("diff %s %s volume %s: sizes %d -> %d", c.base, c.target, v.Name, v.BaseSize, v.TargetSize)
			}
			if !changed && v.PagesRead != 0 {
				t.Errorf("diff %s %s volume %s unchanged but read %d pages", c.base, c.target, v.Name, v.PagesRead)
			}
		}
	}
	// The 40 scattered 4 KiB writes and the 1 MiB write into boot: the
	// diff covers at least those bytes and not the whole volume.
	var res api.DiffResult
	d.okJSON(&res, "diff", "web@1", "web@2")
	for _, v := range res.Volumes {
		if v.Name == "boot" && (v.ChangedBytes < 1<<20 || v.ChangedBytes >= v.TargetSize) {
			t.Errorf("boot changed %d bytes of %d", v.ChangedBytes, v.TargetSize)
		}
	}
	txt := d.ok("diff", "web@2", "web@3")
	for _, want := range []string{"diff web@2..web@3", "boot", "modified", "db", "unchanged", "PAGES SKIPPED"} {
		if !strings.Contains(txt, want) {
			t.Errorf("diff text lacks %q:\n%s", want, txt)
		}
	}
	for _, bad := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"diff", "web@1", "web@1"}, 1, "same snapshot"},
		{[]string{"diff", "web@1", "web@9"}, 1, "snapshot web@9 does not exist"},
		{[]string{"diff", "web@1"}, 2, "accepts 2 arg"},
	} {
		r := d.vmrep(bad.args...)
		if r.code != bad.code || !strings.Contains(r.stderr, bad.msg) {
			t.Errorf("vmrep %v: exit %d, stderr %q; want %d with %q", bad.args, r.code, r.stderr, bad.code, bad.msg)
		}
	}
}

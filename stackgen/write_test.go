package stackgen

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "stack-v1")
	if err := Write(dir, firstPlan(), TargetLocal); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{FileMain, FileVariables, FileOutputs, FileVersions, FileREADME, FilePlan} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("stack lacks %s: %v", name, err)
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, FilePlan))
	if err != nil {
		t.Fatal(err)
	}
	var rec stackRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Target != TargetLocal || rec.Plan.Snapshot.Volumes[1].Manifest != digest('b') {
		t.Errorf("plan.json = %+v", rec)
	}
	readme, _ := os.ReadFile(filepath.Join(dir, FileREADME))
	if !strings.Contains(string(readme), "vmrep replica create web@1") {
		t.Errorf("README does not say what apply runs:\n%s", readme)
	}

	// Same VG over the previous stack: allowed, and the delta path is made
	// absolute because tofu runs inside the stack dir.
	if err := Write(dir, deltaPlan(), TargetLocal); err != nil {
		t.Fatalf("rewrite over a stack of the same VG: %v", err)
	}
	raw, _ = os.ReadFile(filepath.Join(dir, FilePlan))
	rec = stackRecord{}
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(rec.Plan.Delta.File) {
		t.Errorf("delta file %q not absolute", rec.Plan.Delta.File)
	}

	other := firstPlan()
	other.VGID = "vg-fedcba9876543210"
	if err := Write(dir, other, TargetLocal); !errors.Is(err, ErrNotAStack) {
		t.Errorf("Write over another VG's stack = %v, want ErrNotAStack", err)
	}
	foreign := t.TempDir()
	if err := os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(foreign, firstPlan(), TargetLocal); !errors.Is(err, ErrNotAStack) {
		t.Errorf("Write into a foreign dir = %v, want ErrNotAStack", err)
	}
	if _, err := os.Stat(filepath.Join(foreign, FileMain)); err == nil {
		t.Error("Write left main.tf in a dir it refused")
	}
	bad := firstPlan()
	bad.VGName = "a\"b"
	if err := Write(t.TempDir(), bad, TargetOCI); !errors.Is(err, ErrInvalidPlan) {
		t.Errorf("Write of an invalid plan = %v", err)
	}
}

package stackgen

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/vmrep/vmrep/internal/durable"
)

// FilePlan and FileREADME are the non-HCL files of a stack.
const (
	FilePlan   = "plan.json"
	FileREADME = "README.md"
)

// planFormat is the version of plan.json.
const planFormat = 1

// ErrNotAStack is returned by Write for a non-empty directory that is not a
// previous stack of the same VG.
var ErrNotAStack = errors.New("stackgen: directory is not empty and is not a stack of this VG")

// stackRecord is plan.json: the plan, which names the manifest and delta
// digests the stack applies, and the target it was generated for.
type stackRecord struct {
	Format int    `json:"format"`
	Target string `json:"target"`
	Plan   Plan   `json:"plan"`
}

// Write generates the stack for p and writes it into dir, creating dir if
// needed. It refuses a non-empty dir unless it holds a previous stack of
// the same VG, whose files (and tofu state) it then updates in place. A
// relative delta path is made absolute, since tofu runs in dir.
func Write(dir string, p Plan, target string) error {
	if p.Delta != nil && p.Delta.File != "" && !filepath.IsAbs(p.Delta.File) {
		d := *p.Delta
		abs, err := filepath.Abs(d.File)
		if err != nil {
			return fmt.Errorf("stackgen: resolve delta path %q: %w", d.File, err)
		}
		d.File = abs
		p.Delta = &d
	}
	files, err := Generate(p, target)
	if err != nil {
		return err
	}
	if err := checkDir(dir, p.VGID); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("stackgen: create stack dir %q: %w", dir, err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := writeFileAtomic(filepath.Join(dir, name), files[name].Bytes()); err != nil {
			return err
		}
	}
	if target == TargetOCI {
		if err := writeFileAtomic(filepath.Join(dir, FileVolumeScript), []byte(volumeScript)); err != nil {
			return err
		}
	}
	rec, err := json.MarshalIndent(stackRecord{Format: planFormat, Target: target, Plan: p}, "", "  ")
	if err != nil {
		return fmt.Errorf("stackgen: encode %s: %w", FilePlan, err)
	}
	if err := writeFileAtomic(filepath.Join(dir, FilePlan), append(rec, '\n')); err != nil {
		return err
	}
	// plan.json last but one, README last: a stack with a README is whole.
	return writeFileAtomic(filepath.Join(dir, FileREADME), []byte(readme(p, target)))
}

// checkDir accepts a missing or empty dir, or one whose plan.json names the
// same VG.
func checkDir(dir, vgID string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stackgen: read stack dir %q: %w", dir, err)
	}
	if len(entries) == 0 {
		return nil
	}
	raw, err := os.ReadFile(filepath.Join(dir, FilePlan))
	if err != nil {
		return fmt.Errorf("%w: %q has no readable %s: %w", ErrNotAStack, dir, FilePlan, err)
	}
	var rec stackRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return fmt.Errorf("%w: decode %s in %q: %w", ErrNotAStack, FilePlan, dir, err)
	}
	if rec.Plan.VGID != vgID {
		return fmt.Errorf("%w: %q holds a stack of VG %q, not %q", ErrNotAStack, dir, rec.Plan.VGID, vgID)
	}
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	if err := durable.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("stackgen: %w", err)
	}
	return nil
}

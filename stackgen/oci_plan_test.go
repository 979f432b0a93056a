package stackgen

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// ociResource is what of a resource block a plan compares: its arguments
// and nested blocks as written, without provisioners and depends_on,
// which never make a diff.
type ociResource struct {
	config    string
	triggers  string   // terraform_data.triggers_replace
	replaceBy []string // lifecycle.replace_triggered_by
}

func ociResources(t *testing.T, src []byte) map[string]ociResource {
	t.Helper()
	f, diags := hclsyntax.ParseConfig(src, FileMain, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	text := func(r hcl.Range) string { return string(src[r.Start.Byte:r.End.Byte]) }
	out := map[string]ociResource{}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type != "resource" {
			continue
		}
		var r ociResource
		var cfg bytes.Buffer
		names := make([]string, 0, len(b.Body.Attributes))
		for n := range b.Body.Attributes {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			a := b.Body.Attributes[n]
			switch n {
			case "depends_on":
				continue
			case "triggers_replace":
				r.triggers = text(a.Expr.Range())
			}
			cfg.WriteString(n + "=" + text(a.Expr.Range()) + "\n")
		}
		for _, nb := range b.Body.Blocks {
			switch nb.Type {
			case "provisioner":
				continue
			case "lifecycle":
				if a := nb.Body.Attributes["replace_triggered_by"]; a != nil {
					for _, e := range a.Expr.(*hclsyntax.TupleConsExpr).Exprs {
						r.replaceBy = append(r.replaceBy, text(e.Range()))
					}
				}
			}
			cfg.WriteString(text(nb.Range()) + "\n")
		}
		r.config = cfg.String()
		out[b.Labels[0]+"."+b.Labels[1]] = r
	}
	return out
}

// TestOCIDeltaPlanTouchesOnlyChangedVolumes derives, from the first stack
// and a delta stack written over it, what a plan does: a terraform_data
// whose trigger changed is replaced, and so is whatever names it in
// replace_triggered_by; any other resource whose configuration changed is
// updated. When only a data volume's blocks changed, that is its
// hydration step and its instance attachment replaced, and the power
// step (stop, start): no instance, boot volume, volume, volume group or
// image is replaced or updated.
func TestOCIDeltaPlanTouchesOnlyChangedVolumes(t *testing.T) {
	first := firstPlan()
	p := firstPlan()
	base := first.Snapshot
	p.Ref, p.Base = "web@1..web@2", &base
	p.Snapshot.ID, p.Snapshot.Seq = "snap-2222222222222222", 2
	p.Snapshot.Volumes = slices.Clone(base.Volumes)
	p.Snapshot.Volumes[1].Manifest = digest('c') // same size, other blocks
	p.Delta = &Delta{File: "d.vmdelta", Digest: digest('e'), Size: 1, BaseSnapshotID: base.ID, TargetSnapshotID: p.Snapshot.ID,
		Volumes: []DeltaVolume{{VolumeID: "vol-bbbbbbbbbbbbbbbb", ChangedBytes: 4096, OldSize: base.Volumes[1].Size, NewSize: base.Volumes[1].Size}}}
	gen := func(p Plan) map[string]ociResource {
		files, err := Generate(p, TargetOCI)
		if err != nil {
			t.Fatal(err)
		}
		return ociResources(t, files[FileMain].Bytes())
	}
	before, after := gen(first), gen(p)
	if len(before) != len(after) {
		t.Fatalf("the delta stack has %d resources, the first %d", len(after), len(before))
	}
	replaced := map[string]bool{}
	for addr, r := range after {
		b, ok := before[addr]
		if !ok {
			t.Fatalf("the delta stack adds %s", addr)
		}
		if r.triggers != b.triggers {
			replaced[addr] = true
		}
	}
	for addr, r := range after {
		for _, by := range r.replaceBy {
			if replaced[by] {
				replaced[addr] = true
			}
		}
	}
	var got []string
	for addr, r := range after {
		if replaced[addr] {
			got = append(got, addr)
			continue
		}
		if r.config != before[addr].config {
			t.Errorf("%s is updated:\nfirst:\n%s\ndelta:\n%s", addr, before[addr].config, r.config)
		}
	}
	sort.Strings(got)
	want := []string{"oci_core_volume_attachment.vol-bbbbbbbbbbbbbbbb", "terraform_data.vg-0123456789abcdef-power",
		"terraform_data.vol-bbbbbbbbbbbbbbbb-hydrate"}
	if !slices.Equal(got, want) {
		t.Errorf("the delta plan replaces %v, want %v", got, want)
	}
	for addr := range after {
		if strings.HasPrefix(addr, "oci_core_image.") || strings.HasPrefix(addr, "oci_objectstorage_") {
			t.Errorf("the stack still has %s", addr)
		}
	}
}

// TestOCIVolumeScript: Write puts oci-volumes.sh beside an oci stack, and
// it parses as a POSIX shell script.
func TestOCIVolumeScript(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	if err := Write(dir, firstPlan(), TargetOCI); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sh, "-n", filepath.Join(dir, FileVolumeScript)).CombinedOutput(); err != nil {
		t.Fatalf("sh -n %s: %v\n%s", FileVolumeScript, err, out)
	}
	local := t.TempDir()
	if err := Write(local, firstPlan(), TargetLocal); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(local, FileVolumeScript)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a local stack has %s: %v", FileVolumeScript, err)
	}
}

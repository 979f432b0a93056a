package main

import (
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/vmrep/vmrep/internal/testdisk"
	"github.com/vmrep/vmrep/internal/tofutest"
)

// TestTenancyRehearsalTofu applies the oci stacks with OpenTofu itself:
// the oracle/oci provider is the fake one (tools/terraform-provider-vmrep/
// fakeoci), which serves the real provider's schema and keeps resources
// only in the state, so tofu plans and orders everything as it would in a
// tenancy and runs every provisioner of the stacks; only the volume
// command is the rehearsal's shim. VM1 by the first stack; web@2 changes
// only a data volume's blocks, and its plan replaces that volume's step,
// its attachment and the power step, and nothing else (no instance, boot
// volume, volume or volume group change); web@3 changes the boot volume,
// moved in place with the instance stopped. Every volume is compared with
// cmp against vmrep restore after each apply.
func TestTenancyRehearsalTofu(t *testing.T) {
	bin := tofuBin(t)
	schema, err := filepath.Abs(filepath.Join("..", "..", "stackgen", "testdata", "oci-provider-"+tofutest.FakeOCIVersion, "schema.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	tn := newTenancy(t)
	src := tn.src
	tr := &tofuRun{t: t, bin: bin, vars: map[string]string{},
		env: append([]string{"TF_CLI_CONFIG_FILE=" + tofutest.WriteOCICLIConfig(t), "TF_IN_AUTOMATION=1",
			"CHECKPOINT_DISABLE=1", "TF_INPUT=0", "VMREP_FAKE_OCI_SCHEMA=" + schema}, tn.env()...)}
	for k, v := range tn.vars {
		if v.Type() == cty.String {
			tr.vars[k] = v.AsString()
			continue
		}
		var items []string
		for _, e := range v.AsValueSlice() {
			items = append(items, strconv.Quote(e.AsString()))
		}
		tr.vars[k] = "[" + strings.Join(items, ", ") + "]"
	}
	for k, v := range map[string]string{"region": "rehearsal-1", "subnet_ocid": "ocid1.subnet.rehearsal",
		"boot_seed_volume_ocid": "ocid1.bootvolume.rehearsal.seed"} {
		tr.vars[k] = v
	}

	stack := filepath.Join(t.TempDir(), "stack")
	src.ok("stack", "generate", "web@1", "--target", "oci", "--out", stack)
	tr.initValidate(stack)
	tr.ok(stack, "apply", "-auto-approve", "-no-color")
	tn.check("web@1")
	// The first stack writes each volume, then starts the instance.
	if got, want := tn.verbs(), "attach detach attach detach attach detach start"; got != want {
		t.Errorf("volume commands of the first stack: %s\nwant %s", got, want)
	}
	if out, code := tr.run(stack, "plan", "-detailed-exitcode", "-no-color"); code != 0 {
		t.Errorf("plan after the first apply: exit %d, want 0 (no change)\n%s", code, out)
	}

	// web@2: only the data volume db changes, in place.
	patchFile(t, tn.data, 2<<20, testdisk.Content(rand.New(rand.NewPCG(18, 18)), 0, 256<<10))
	tn.deltaStack(tr, stack, 1, 2)
	changes := planChanges(t, tr, stack)
	want := map[string]string{
		"terraform_data." + tn.ids["db"] + "-hydrate": "delete,create",
		"oci_core_volume_attachment." + tn.ids["db"]:  "delete,create",
		"terraform_data." + tn.vg.ID + "-power":       "delete,create",
	}
	for addr, act := range changes {
		if act != want[addr] && act != "no-op" {
			t.Errorf("the plan of a data-only delta stack: %s %s", addr, act)
		}
	}
	for addr, act := range want {
		if changes[addr] != act {
			t.Errorf("the plan of a data-only delta stack: %s %q, want %s", addr, changes[addr], act)
		}
	}
	for addr, act := range changes {
		if strings.HasPrefix(addr, "oci_core_instance.") && act != "no-op" {
			t.Errorf("the instance is not left alone: %s %s", addr, act)
		}
	}
	tr.ok(stack, "apply", "-auto-approve", "-no-color", "plan.out")
	if got, want := tn.verbs(), "stop attach detach start"; got != want {
		t.Errorf("volume commands of the data-only delta stack: %s\nwant %s", got, want)
	}
	tn.check("web@2")

	// web@3: the boot volume changes: detached from the stopped instance,
	// moved in place on the server, attached back.
	tn.changeBoot("vm3.bin", 19)
	tn.deltaStack(tr, stack, 2, 3)
	changes = planChanges(t, tr, stack)
	if act := changes["terraform_data."+tn.ids["boot"]+"-hydrate"]; act != "delete,create" {
		t.Errorf("the boot volume's step: %q", act)
	}
	for _, addr := range []string{"oci_core_instance." + tn.vg.ID, "oci_core_boot_volume." + tn.ids["boot"]} {
		if changes[addr] != "no-op" {
			t.Errorf("the plan of a boot delta stack: %s %q, want no-op", addr, changes[addr])
		}
	}
	out := tr.ok(stack, "apply", "-auto-approve", "-no-color", "plan.out")
	if !strings.Contains(out, "volume boot ("+tn.ids["boot"]+") delta from web@1") { // the boot volume was last written at web@1
		t.Errorf("the boot volume was not moved by the delta:\n%s", out)
	}
	if got, want := tn.verbs(), "stop boot-detach attach detach boot-attach start"; got != want {
		t.Errorf("volume commands of the boot delta stack: %s\nwant %s", got, want)
	}
	tn.check("web@3")
}

// deltaStack snapshots web, exports the delta from..to and writes the
// delta stack over the stack directory.
func (tn *tenancy) deltaStack(tr *tofuRun, stack string, from, to int) {
	tn.t.Helper()
	tn.src.ok("snapshot", "create", "web")
	dl := filepath.Join(tn.src.dir, "d"+strconv.Itoa(from)+strconv.Itoa(to)+".vmdelta")
	tn.src.ok("delta", "export", "web@"+strconv.Itoa(from), "web@"+strconv.Itoa(to), "-o", dl)
	tn.src.ok("stack", "generate", "web@"+strconv.Itoa(from)+"..web@"+strconv.Itoa(to), "--delta", dl,
		"--target", "oci", "--out", stack)
	tr.ok(stack, "validate", "-no-color")
}

// planChanges runs tofu plan into plan.out and returns each resource's
// actions ("no-op", "update", "delete,create", …) from tofu show -json.
func planChanges(t *testing.T, tr *tofuRun, stack string) map[string]string {
	t.Helper()
	tr.ok(stack, "plan", "-no-color", "-out", "plan.out")
	js := tr.ok(stack, "show", "-json", "plan.out")
	var p struct {
		ResourceChanges []struct {
			Address string `json:"address"`
			Change  struct {
				Actions []string `json:"actions"`
			} `json:"change"`
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal([]byte(js), &p); err != nil {
		t.Fatalf("tofu show -json: %v\n%s", err, js)
	}
	out := map[string]string{}
	var lines []string
	for _, rc := range p.ResourceChanges {
		out[rc.Address] = strings.Join(rc.Change.Actions, ",")
		lines = append(lines, rc.Address+" "+out[rc.Address])
	}
	sort.Strings(lines)
	t.Logf("plan:\n%s", strings.Join(lines, "\n"))
	return out
}

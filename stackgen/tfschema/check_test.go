package tfschema

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testSchema is a provider "toy" with one block type of each nesting mode
// (the oci schema has no map nesting), a data source and a provider block.
const testSchema = `{
  "format_version": "1.0",
  "provider_schemas": {
    "example.com/acme/toy": {
      "provider": {"block": {"attributes": {"endpoint": {"type": "string", "required": true}}}},
      "resource_schemas": {
        "toy_box": {"version": 0, "block": {
          "attributes": {
            "name":   {"type": "string", "required": true},
            "size":   {"type": "number", "optional": true},
            "tags":   {"type": ["map", "string"], "optional": true, "computed": true},
            "ids":    {"type": ["set", "string"], "optional": true},
            "serial": {"type": "string", "computed": true},
            "old":    {"type": "string", "optional": true, "deprecated": true},
            "fancy":  {"nested_type": {"attributes": {"a": {"type": "string", "optional": true}}, "nesting_mode": "single"}, "optional": true},
            "id":     {"type": "string", "optional": true, "computed": true}
          },
          "block_types": {
            "lid":     {"nesting_mode": "single", "block": {"attributes": {"color": {"type": "string", "required": true}}}},
            "slot":    {"nesting_mode": "map", "block": {"attributes": {"width": {"type": "number", "optional": true}}}},
            "rule":    {"nesting_mode": "set", "max_items": 2, "block": {"attributes": {"expr": {"type": "string", "optional": true}}}},
            "hinge":   {"nesting_mode": "list", "min_items": 1, "max_items": 1, "block": {"attributes": {"side": {"type": "string", "optional": true}},
              "block_types": {"pin": {"nesting_mode": "list", "block": {"attributes": {"len": {"type": "number", "required": true}}}}}}}
          }}}
      },
      "data_source_schemas": {
        "toy_shelf": {"version": 0, "block": {"attributes": {
          "name": {"type": "string", "required": true},
          "boxes": {"type": ["list", "string"], "computed": true}}}}
      }
    }
  }
}`

func toyChecker(t *testing.T) *Checker {
	t.Helper()
	ps, err := Load(strings.NewReader(testSchema))
	if err != nil {
		t.Fatal(err)
	}
	return &Checker{Providers: map[string]*Provider{"toy": ps["example.com/acme/toy"]}}
}

const toyValid = `
terraform {
  required_providers {
    toy = { source = "acme/toy" }
  }
}
provider "toy" {
  endpoint = "https://toy"
}
variable "n" {
  type = number
}
locals {
  names = ["a", "b"]
}
data "toy_shelf" "s" {
  name = "shelf"
}
resource "toy_box" "one" {
  name  = "one"
  size  = var.n
  fancy = { a = "x" }
  tags = { "k-1" = "v", k2 = "${var.n}" }
  ids  = data.toy_shelf.s.boxes
  lid {
    color = "red"
  }
  slot "a" {
    width = 1
  }
  slot "b" {}
  rule {}
  hinge {
    pin {
      len = "12"
    }
  }
}
resource "toy_box" "many" {
  count = 2
  name  = local.names[count.index]
  ids   = [toy_box.one.id, toy_box.one.serial]
  dynamic "slot" {
    for_each = toset(local.names)
    labels   = [slot.value]
    content {
      width = 2
    }
  }
  dynamic "hinge" {
    for_each = [1]
    iterator = h
    content {
      side = tostring(h.value)
    }
  }
  lifecycle {
    ignore_changes = [tags, lid]
  }
  provisioner "local-exec" {
    command = self.name
    when    = destroy
  }
}
resource "terraform_data" "t" {
  input = toy_box.many[0].serial
}
output "serials" {
  value = toy_box.many[*].serial
}
`

func TestCheckValid(t *testing.T) {
	ps, err := toyChecker(t).Check(map[string][]byte{"main.tf": []byte(toyValid), "notes.txt": []byte("not HCL {")})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		t.Errorf("unexpected problem: %s", p)
	}
}

func TestCheckFindsProblems(t *testing.T) {
	tests := []struct{ name, old, repl, want string }{
		{"single block twice", "  lid {\n    color = \"red\"\n  }\n", "  lid {\n    color = \"red\"\n  }\n  lid {\n    color = \"blue\"\n  }\n",
			"resource.toy_box.one.lid: 2 lid blocks, but at most 1 allowed (nesting single)"},
		{"map block without its key", "slot \"b\" {}", "slot {}", "a slot block (nesting map) takes 1 labels, found 0"},
		{"map block key twice", "slot \"b\" {}", "slot \"a\" {}", `resource.toy_box.one.slot: key "a" used by two slot blocks`},
		{"list block with a label", "  rule {}", "  rule \"x\" {}", "a rule block (nesting set, at most 2) takes 0 labels, found 1"},
		{"set over max_items", "  rule {}", "  rule {}\n  rule {}\n  rule {}", "3 rule blocks, but at most 2 allowed"},
		{"min_items", "  hinge {\n    pin {\n      len = \"12\"\n    }\n  }\n", "", `resource.toy_box.one: missing required block "hinge"`},
		{"required argument of a nested nested block", "      len = \"12\"\n", "", `resource.toy_box.one.hinge.pin: missing required argument "len"`},
		{"string that is no number", `len = "12"`, `len = "twelve"`, "hinge.pin.len: number is required, but the value is a string"},
		{"map given a list", `tags = { "k-1" = "v", k2 = "${var.n}" }`, `tags = ["v"]`, "tags: map of string is required, but the value is a tuple"},
		{"template for a set", "ids  = data.toy_shelf.s.boxes", `ids = "${var.n}-x"`, "ids: set of string is required, but the expression is a string"},
		{"computed-only", "  size  = var.n\n", "  serial = \"x\"\n", "serial is computed by the provider"},
		{"count and for_each", "  count = 2\n", "  count = 2\n  for_each = {}\n", "count and for_each cannot both be set"},
		{"counted resource read without an index", "input = toy_box.many[0].serial", "input = toy_box.many.serial",
			"toy_box.many has count or for_each: index it before reading an attribute"},
		{"single resource indexed", "ids   = [toy_box.one.id, toy_box.one.serial]", "ids = [toy_box.one[0].id]",
			"toy_box.one has neither count nor for_each, so it takes no index"},
		{"data source attribute", "ids  = data.toy_shelf.s.boxes", "ids = data.toy_shelf.s.boxs", `data.toy_shelf.s has no attribute "boxs" (not in the schema of toy_shelf); did you mean "boxes"?`},
		{"undeclared variable", "size  = var.n", "size = var.m", "reference to undeclared variable var.m"},
		{"undeclared local", "local.names[count.index]", "local.nams[count.index]", "reference to undeclared local value local.nams"},
		{"dynamic iterator out of scope", "side = tostring(h.value)", "side = tostring(hinge.value)", "reference to hinge.value, which the module does not declare"},
		{"dynamic without content", "    content {\n      width = 2\n    }\n", "", "a dynamic block needs exactly one content block, found 0"},
		{"dynamic labels for a list block", "    iterator = h\n", "    iterator = h\n    labels = [\"x\"]\n", "labels given, but hinge blocks take none"},
		{"dynamic map block without labels", "    labels   = [slot.value]\n", "", "slot blocks are keyed (nesting map): the dynamic block needs labels"},
		{"provider argument", `endpoint = "https://toy"`, `endpoint = "https://toy"` + "\n  region = \"x\"", `provider.toy.region: unsupported argument "region"`},
		{"provider required argument", `endpoint = "https://toy"`, ``, `provider.toy: missing required argument "endpoint"`},
		{"provisioner keyword", "when    = destroy", "when = later", "when takes one of the keywords [create destroy]"},
		{"unknown provisioner", `provisioner "local-exec"`, `provisioner "remote-exe"`, `unknown provisioner "remote-exe"; did you mean "remote-exec"?`},
		{"unknown top-level block", "locals {", "local {", `unknown top-level block "local"`},
		{"terraform_data argument", "input = toy_box.many[0].serial", "inputs = toy_box.many[0].serial", `resource.terraform_data.t.inputs: unsupported argument "inputs"; did you mean "input"?`},
		{"provider source", `toy = { source = "acme/toy" }`, `toy = { source = "other/toy" }`,
			`provider "toy" has the schema of example.com/acme/toy, but its required_providers entry names "other/toy"`},
		{"provider without a source", `toy = { source = "acme/toy" }`, ``,
			`provider "toy" has the schema of example.com/acme/toy, but with no required_providers entry tofu installs "hashicorp/toy"`},
		{"deprecated argument", "  size  = var.n\n", "  old = \"x\"\n", "resource.toy_box.one.old: old is deprecated in the provider's schema"},
		{"count of the wrong type", "count = 2", "count = \"two\"", "resource.toy_box.many.count: number is required"},
		{"depends_on an attribute", "  input = toy_box.many[0].serial", "  depends_on = [toy_box.one.id]\n  input = 1",
			"depends_on names a whole resource or data source, not one of its attributes"},
		{"depends_on an expression", "  input = toy_box.many[0].serial", "  depends_on = [\"toy_box.one\"]\n  input = 1", "depends_on takes references"},
		{"data source lifecycle", "  name = \"shelf\"\n", "  name = \"shelf\"\n  lifecycle {\n    prevent_destroy = true\n  }\n", `data.toy_shelf.s.lifecycle.prevent_destroy: unsupported argument "prevent_destroy"`},
	}
	c := toyChecker(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(toyValid, tc.old) {
				t.Fatalf("edit does not apply: %q", tc.old)
			}
			src := strings.Replace(toyValid, tc.old, tc.repl, 1)
			ps, err := c.Check(map[string][]byte{"main.tf": []byte(src)})
			if err != nil {
				t.Fatal(err)
			}
			var all []string
			for _, p := range ps {
				if strings.Contains(p.String(), tc.want) {
					return
				}
				all = append(all, p.String())
			}
			t.Fatalf("no problem says %q; problems: %q", tc.want, all)
		})
	}
}

func TestCheckRefusesBadHCL(t *testing.T) {
	if _, err := toyChecker(t).Check(map[string][]byte{"main.tf": []byte("resource \"toy_box\" {")}); err == nil {
		t.Fatal("Check accepted a file that does not parse")
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(testSchema))
	zw.Close()
	for name, data := range map[string][]byte{"s.json": []byte(testSchema), "s.json.gz": gz.Bytes()} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ps, err := LoadFile(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		p := ps["example.com/acme/toy"]
		if p == nil || p.Resources["toy_box"].BlockTypes["hinge"].MaxItems != 1 || !p.Resources["toy_box"].Attributes["serial"].ComputedOnly() {
			t.Fatalf("%s: schema not decoded as written: %+v", name, p)
		}
	}
	for _, bad := range []string{`{"format_version": "2.0", "provider_schemas": {}}`, `{"format_version": "1.0", "provider_schemas": {"x": {"resource_schemas": {"r": {}}}}}`, `[`} {
		if _, err := Load(strings.NewReader(bad)); err == nil {
			t.Errorf("Load accepted %s", bad)
		}
	}
}

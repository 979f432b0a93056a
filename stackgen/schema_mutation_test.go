package stackgen

import (
	"slices"
	"strings"
	"testing"
)

const (
	volB     = `resource "oci_core_volume" "vol-bbbbbbbbbbbbbbbb" {`
	instance = `resource "oci_core_instance" "vg-0123456789abcdef" {`
	vg       = `resource "oci_core_volume_group" "vg-0123456789abcdef" {`
	server   = `resource "oci_core_instance" "server" {`
	attachB  = `resource "oci_core_volume_attachment" "vol-bbbbbbbbbbbbbbbb" {`
)

// edit replaces the first old after anchor in src; ok is false when
// either is missing, so a test whose edit no longer applies fails.
func edit(src, anchor, old, repl string) (string, bool) {
	i := strings.Index(src, anchor)
	if i < 0 {
		return src, false
	}
	j := strings.Index(src[i:], old)
	if j < 0 {
		return src, false
	}
	return src[:i+j] + repl + src[i+j+len(old):], true
}

// TestOCISchemaCatchesMutations corrupts a generated stack in one place
// at a time; the check must fail and name the problem.
func TestOCISchemaCatchesMutations(t *testing.T) {
	c := ociChecker(t)
	stacks := ociStacks(t)
	tests := []struct {
		name, stack, file string
		anchor, old, repl string
		vars              string // appended to variables.tf
		want              string // a problem's text holds this
		wantNot           bool   // the edit is valid: no problem at all
	}{
		{name: "misspelled argument", stack: "oci-delta", anchor: volB, old: "size_in_gbs ", repl: "size_in_gb ",
			want: `resource.oci_core_volume.vol-bbbbbbbbbbbbbbbb.size_in_gb: unsupported argument "size_in_gb"; did you mean "size_in_gbs"?`},
		{name: "misspelled nested argument", stack: "oci-first", anchor: instance, old: "memory_in_gbs =", repl: "memory_gbs =",
			want: `resource.oci_core_instance.vg-0123456789abcdef.shape_config.memory_gbs: unsupported argument "memory_gbs"; did you mean "memory_in_gbs"?`},
		{name: "block written as an argument", stack: "oci-first", anchor: instance, old: "shape_config {", repl: "shape_config = {",
			want: "shape_config: shape_config is a nested block (nesting list, at most 1), not an argument"},
		{name: "argument written as a block", stack: "oci-server", anchor: server, old: "metadata = {", repl: "metadata {",
			want: "resource.oci_core_instance.server.metadata: metadata is an argument of type map of string, not a nested block"},
		{name: "block at the wrong level", stack: "oci-first", anchor: instance, old: "    subnet_id = var.subnet_ocid\n",
			repl: "    subnet_id = var.subnet_ocid\n    shape_config {\n      ocpus = 1\n    }\n",
			want: `resource.oci_core_instance.vg-0123456789abcdef.create_vnic_details.shape_config: unsupported block type "shape_config"`},
		{name: "argument at the wrong level", stack: "oci-first", anchor: instance, old: "    source_type = \"bootVolume\"\n", repl: "",
			want: `resource.oci_core_instance.vg-0123456789abcdef.source_details: missing required argument "source_type"`},
		{name: "missing required argument", stack: "oci-delta", anchor: volB, old: "  availability_domain = var.availability_domain\n", repl: "",
			want: `resource.oci_core_volume.vol-bbbbbbbbbbbbbbbb: missing required argument "availability_domain"`},
		{name: "required argument null", stack: "oci-delta", anchor: attachB, old: "instance_id     = oci_core_instance.vg-0123456789abcdef.id", repl: "instance_id = null",
			want: `required argument "instance_id" is null`},
		{name: "missing required block", stack: "oci-delta", anchor: vg, old: "  source_details {", repl: "  timeouts {",
			want: `resource.oci_core_volume_group.vg-0123456789abcdef: missing required block "source_details": at least 1 needed, 0 found`},
		{name: "computed-only attribute set", stack: "oci-delta", anchor: volB, old: "  size_in_gbs", repl: "  is_hydrated = true\n  size_in_gbs",
			want: "resource.oci_core_volume.vol-bbbbbbbbbbbbbbbb.is_hydrated: is_hydrated is computed by the provider (computed, not optional) and cannot be set"},
		{name: "computed-only nested attribute set", stack: "oci-first", anchor: instance, old: "    ocpus ", repl: "    gpus = 1\n    ocpus ",
			want: "shape_config.gpus: gpus is computed by the provider"},
		{name: "too many blocks for max_items", stack: "oci-first", anchor: instance, old: "  shape_config {", repl: "  shape_config {\n  }\n  shape_config {",
			want: "resource.oci_core_instance.vg-0123456789abcdef.shape_config: 2 shape_config blocks, but at most 1 allowed (nesting list, at most 1)"},
		{name: "unknown resource type", stack: "oci-delta", anchor: "", old: `resource "oci_core_volume_attachment" "vol-bbbbbbbbbbbbbbbb"`, repl: `resource "oci_core_volume_attach" "vol-bbbbbbbbbbbbbbbb"`,
			want: `resource type oci_core_volume_attach does not exist in provider registry.opentofu.org/oracle/oci; did you mean "oci_core_volume_attachment"?`},
		{name: "unknown data source", stack: "oci-first", anchor: "", old: "locals {", repl: "data \"oci_core_volume_atachments\" \"x\" {\n  compartment_id = var.compartment_ocid\n}\n\nlocals {",
			want: `data source oci_core_volume_atachments does not exist in provider registry.opentofu.org/oracle/oci; did you mean "oci_core_volume_attachments"?`},
		{name: "resource of a provider without a schema", stack: "oci-first", anchor: "", old: "locals {", repl: "resource \"null_resource\" \"x\" {}\n\nlocals {",
			want: `resource type null_resource: provider "null" has no schema here`},
		{name: "literal of the wrong type", stack: "oci-delta", anchor: volB, old: "size_in_gbs         = \"80\"", repl: "size_in_gbs = [80]",
			want: "size_in_gbs: string is required, but the value is a tuple"},
		{name: "bool literal for a number", stack: "oci-first", anchor: instance, old: "ocpus         = var.ocpus", repl: "ocpus = true",
			want: "shape_config.ocpus: number is required, but the value is a bool"},
		{name: "expression of the wrong type", stack: "oci-delta", anchor: vg, old: "volume_ids = [oci_core_boot_volume.vol-aaaaaaaaaaaaaaaa.id, oci_core_volume.vol-bbbbbbbbbbbbbbbb.id, oci_core_volume.vol-dddddddddddddddd.id]",
			repl: "volume_ids = oci_core_volume.vol-bbbbbbbbbbbbbbbb.id",
			want: "source_details.volume_ids: set of string is required, but the expression is a string"},
		{name: "variable of the wrong type", stack: "oci-first", anchor: instance, old: "display_name        = \"web\"", repl: "defined_tags = var.ocpus",
			want: "defined_tags: map of string is required, but the expression is a number"},
		{name: "reference to an attribute the type lacks", stack: "oci-server", file: FileOutputs, anchor: "", old: "oci_core_instance.server.public_ip,", repl: "oci_core_instance.server.public_ip_address,",
			want: `oci_core_instance.server has no attribute "public_ip_address" (not in the schema of oci_core_instance)`},
		{name: "reference to an undeclared resource", stack: "oci-delta", anchor: attachB, old: "volume_id       = oci_core_volume.vol-bbbbbbbbbbbbbbbb.id", repl: "volume_id = oci_core_volume.vol-cccccccccccccccc.id",
			want: "reference to oci_core_volume.vol-cccccccccccccccc, which the module does not declare"},
		{name: "dynamic block of an unknown type", stack: "oci-first", anchor: instance, old: "  shape_config {",
			repl: "  dynamic \"shape_configs\" {\n    for_each = [1]\n    content {\n      ocpus = 1\n    }\n  }\n  shape_config {",
			want: `shape_configs(dynamic): unsupported block type "shape_configs"; did you mean "shape_config"?`},
		{name: "dynamic block content with a bad argument", stack: "oci-first", anchor: instance, old: "  shape_config {",
			repl: "  dynamic \"launch_volume_attachments\" {\n    for_each = var.extra\n    iterator = v\n    content {\n      type = \"paravirtualized\"\n      volume = v.value\n    }\n  }\n  shape_config {",
			vars: "\nvariable \"extra\" {}\n",
			want: `launch_volume_attachments(dynamic).volume: unsupported argument "volume"`},
		{name: "lifecycle ignoring an unknown argument", stack: "oci-delta", anchor: volB, old: "  size_in_gbs", repl: "  lifecycle {\n    ignore_changes = [size_in_gb]\n  }\n  size_in_gbs",
			want: `ignore_changes names "size_in_gb", which the resource does not have; did you mean "size_in_gbs"?`},
		{name: "unknown provisioner argument", stack: "oci-delta", file: FileMain, anchor: `resource "terraform_data" "vol-bbbbbbbbbbbbbbbb-hydrate"`, old: "command     =", repl: "commands =",
			want: `provisioner.local-exec.commands: unsupported argument "commands"; did you mean "command"?`},
		{name: "provider from another source", stack: "oci-server", file: FileVersions, anchor: "", old: `"oracle/oci"`, repl: `"hashicorp/oci"`,
			want: `provider "oci" has the schema of registry.opentofu.org/oracle/oci, but its required_providers entry names "hashicorp/oci"`},
		{name: "meta-arguments, lifecycle and dynamic blocks are allowed", stack: "oci-delta", anchor: instance, old: "  shape_config {",
			repl: "  provider   = oci\n  depends_on = [oci_core_boot_volume.vol-aaaaaaaaaaaaaaaa]\n" +
				"  lifecycle {\n    ignore_changes        = [defined_tags, source_details]\n    create_before_destroy = true\n" +
				"    precondition {\n      condition     = var.ocpus > 0\n      error_message = \"ocpus\"\n    }\n  }\n" +
				"  dynamic \"launch_volume_attachments\" {\n    for_each = toset([\"a\"])\n    content {\n      type      = \"paravirtualized\"\n" +
				"      volume_id = launch_volume_attachments.value\n    }\n  }\n  shape_config {",
			wantNot: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := tc.file
			if file == "" {
				file = FileMain
			}
			files := map[string][]byte{}
			for n, b := range stacks[tc.stack] {
				files[n] = b
			}
			src, ok := edit(string(files[file]), tc.anchor, tc.old, tc.repl)
			if !ok {
				t.Fatalf("the edit does not apply to %s/%s any more: %q after %q", tc.stack, file, tc.old, tc.anchor)
			}
			files[file] = []byte(src)
			files[FileVariables] = append(slices.Clip(files[FileVariables]), tc.vars...)
			ps, err := c.Check(files)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if tc.wantNot {
				if len(ps) > 0 {
					t.Fatalf("a valid edit was refused:%s", problemLines(ps))
				}
				return
			}
			for _, p := range ps {
				if strings.Contains(p.String(), tc.want) {
					return
				}
			}
			t.Fatalf("no problem says %q; problems:%s", tc.want, problemLines(ps))
		})
	}
}

// TestOCISchemaUncheckedTypes shows that a resource of a provider without
// a schema passes only when it is named as unchecked.
func TestOCISchemaUncheckedTypes(t *testing.T) {
	c := ociChecker(t)
	files := map[string][]byte{FileMain: []byte("resource \"null_resource\" \"x\" {}\n")}
	if ps, err := c.Check(files); err != nil || len(ps) != 1 {
		t.Fatalf("Check = %v, %v; want one problem", ps, err)
	}
	c.Unchecked = []string{"null_resource"}
	if ps, err := c.Check(files); err != nil || len(ps) != 0 {
		t.Fatalf("Check with null_resource unchecked = %v, %v; want none", ps, err)
	}
}

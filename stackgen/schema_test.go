package stackgen

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// blockSchema is one level of testdata/oci_schema.json.
type blockSchema struct {
	Attributes []string               `json:"attributes"`
	Blocks     map[string]blockSchema `json:"blocks"`
}

type providerSchema struct {
	Providers map[string]blockSchema `json:"providers"`
	Resources map[string]blockSchema `json:"resources"`
}

// Meta-arguments OpenTofu accepts on every resource.
var (
	metaAttrs  = []string{"depends_on", "count", "for_each", "provider"}
	metaBlocks = []string{"lifecycle", "provisioner", "connection"}
)

func loadSchema(t *testing.T) providerSchema {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "oci_schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s providerSchema
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("decode oci_schema.json: %v", err)
	}
	return s
}

// schemaViolations walks every resource and provider block of src and
// returns each argument or block name the schema does not know.
func schemaViolations(s providerSchema, name string, src []byte) ([]string, error) {
	f, diags := hclparse.NewParser().ParseHCL(src, name)
	if diags.HasErrors() {
		return nil, diags
	}
	var bad []string
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		var schema blockSchema
		var ok bool
		switch b.Type {
		case "resource":
			schema, ok = s.Resources[b.Labels[0]]
			if !ok {
				bad = append(bad, "resource type "+b.Labels[0])
				continue
			}
		case "provider":
			if schema, ok = s.Providers[b.Labels[0]]; !ok {
				bad = append(bad, "provider "+b.Labels[0])
				continue
			}
		default:
			continue
		}
		bad = append(bad, walkBlock(schema, strings.Join(append([]string{b.Type}, b.Labels...), "."), b.Body, b.Type == "resource")...)
	}
	return bad, nil
}

func walkBlock(s blockSchema, path string, body *hclsyntax.Body, resource bool) []string {
	var bad []string
	for name := range body.Attributes {
		if slices.Contains(s.Attributes, name) || (resource && slices.Contains(metaAttrs, name)) {
			continue
		}
		bad = append(bad, path+"."+name)
	}
	for _, b := range body.Blocks {
		if resource && slices.Contains(metaBlocks, b.Type) {
			continue
		}
		sub, ok := s.Blocks[b.Type]
		if !ok {
			bad = append(bad, path+"."+b.Type+" (block)")
			continue
		}
		bad = append(bad, walkBlock(sub, path+"."+b.Type, b.Body, false)...)
	}
	return bad
}

// TestOCISchema checks every generated oci file against the provider's
// documented schema, since the provider itself cannot be fetched here.
func TestOCISchema(t *testing.T) {
	s := loadSchema(t)
	for _, tc := range goldenCases {
		if tc.target != TargetOCI {
			continue
		}
		files, err := Generate(tc.plan(), tc.target)
		if err != nil {
			t.Fatal(err)
		}
		for name, f := range files {
			bad, err := schemaViolations(s, name, f.Bytes())
			if err != nil {
				t.Fatalf("%s/%s: %v", tc.name, name, err)
			}
			if len(bad) > 0 {
				t.Errorf("%s/%s: names not in the oci schema: %v", tc.name, name, bad)
			}
		}
		main := string(files[FileMain].Bytes())
		for _, typ := range []string{"oci_objectstorage_object", "oci_core_image", "oci_core_instance",
			"oci_core_volume", "oci_core_volume_attachment", "oci_core_volume_group"} {
			if !strings.Contains(main, fmt.Sprintf("resource %q", typ)) {
				t.Errorf("%s: main.tf has no %s", tc.name, typ)
			}
		}
	}
}

// TestSchemaCheckerCatchesUnknownNames proves the checker is not vacuous.
func TestSchemaCheckerCatchesUnknownNames(t *testing.T) {
	s := loadSchema(t)
	src := []byte(`
resource "oci_core_volume" "v" {
  size_in_gigabytes = 50
  source_details {
    kind = "x"
  }
  no_such_block {}
}
resource "oci_core_nothing" "n" {}
`)
	bad, err := schemaViolations(s, "bad.tf", src)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(bad)
	want := []string{
		"resource type oci_core_nothing",
		"resource.oci_core_volume.v.no_such_block (block)",
		"resource.oci_core_volume.v.size_in_gigabytes",
		"resource.oci_core_volume.v.source_details.kind",
	}
	if !slices.Equal(bad, want) {
		t.Fatalf("violations = %q, want %q", bad, want)
	}
}

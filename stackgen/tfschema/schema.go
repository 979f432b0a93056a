package tfschema

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// Nesting modes of a nested block type.
const (
	NestingSingle = "single"
	NestingGroup  = "group"
	NestingList   = "list"
	NestingSet    = "set"
	NestingMap    = "map"
)

// Attribute is one argument or exported attribute of a block.
type Attribute struct {
	Type       cty.Type `json:"type"`
	Required   bool     `json:"required"`
	Optional   bool     `json:"optional"`
	Computed   bool     `json:"computed"`
	Deprecated bool     `json:"deprecated"`
}

// ComputedOnly reports whether the provider sets the attribute and a
// configuration must not.
func (a *Attribute) ComputedOnly() bool { return a.Computed && !a.Optional && !a.Required }

// Block is the body of a resource, data source, provider or nested block.
type Block struct {
	Attributes map[string]*Attribute   `json:"attributes"`
	BlockTypes map[string]*NestedBlock `json:"block_types"`
}

// NestedBlock is a block type nested in a Block. MaxItems 0 means no limit.
type NestedBlock struct {
	NestingMode string `json:"nesting_mode"`
	MinItems    int    `json:"min_items"`
	MaxItems    int    `json:"max_items"`
	Block       Block  `json:"block"`
}

// Provider is the schema of one provider.
type Provider struct {
	Source      string            // e.g. registry.opentofu.org/oracle/oci
	Config      *Block            // the provider block
	Resources   map[string]*Block // by resource type
	DataSources map[string]*Block // by data source type
}

type schemaEnvelope struct {
	Block *Block `json:"block"`
}

type providerJSON struct {
	Provider    schemaEnvelope            `json:"provider"`
	Resources   map[string]schemaEnvelope `json:"resource_schemas"`
	DataSources map[string]schemaEnvelope `json:"data_source_schemas"`
}

type schemasJSON struct {
	FormatVersion string                  `json:"format_version"`
	Providers     map[string]providerJSON `json:"provider_schemas"`
}

// Load decodes the output of `tofu providers schema -json` and returns
// its providers by source address.
func Load(r io.Reader) (map[string]*Provider, error) {
	var s schemasJSON
	if err := json.NewDecoder(r).Decode(&s); err != nil {
		return nil, fmt.Errorf("tfschema: decode provider schemas: %w", err)
	}
	if major, _, _ := strings.Cut(s.FormatVersion, "."); major != "1" {
		return nil, fmt.Errorf("tfschema: provider schemas format_version %q, want 1.x", s.FormatVersion)
	}
	out := make(map[string]*Provider, len(s.Providers))
	for src, pj := range s.Providers {
		p := &Provider{Source: src, Config: pj.Provider.Block,
			Resources: map[string]*Block{}, DataSources: map[string]*Block{}}
		if p.Config == nil {
			p.Config = &Block{}
		}
		for name, e := range pj.Resources {
			if e.Block == nil {
				return nil, fmt.Errorf("tfschema: provider %s resource %s has no block", src, name)
			}
			p.Resources[name] = e.Block
		}
		for name, e := range pj.DataSources {
			if e.Block == nil {
				return nil, fmt.Errorf("tfschema: provider %s data source %s has no block", src, name)
			}
			p.DataSources[name] = e.Block
		}
		fillTypes(p.Config)
		for _, b := range p.Resources {
			fillTypes(b)
		}
		for _, b := range p.DataSources {
			fillTypes(b)
		}
		out[src] = p
	}
	return out, nil
}

// fillTypes gives an attribute without a type (one described by
// nested_type, which the plugin framework writes) any type, so it is
// checked for presence but not for its value's type.
func fillTypes(b *Block) {
	for _, a := range b.Attributes {
		if a.Type == cty.NilType {
			a.Type = cty.DynamicPseudoType
		}
	}
	for _, nb := range b.BlockTypes {
		fillTypes(&nb.Block)
	}
}

// LoadFile is Load on a file; a name ending in .gz is gunzipped first.
func LoadFile(path string) (map[string]*Provider, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tfschema: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("tfschema: %s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	ps, err := Load(r)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return ps, nil
}

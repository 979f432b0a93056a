package tfschema

import "github.com/zclconf/go-cty/cty"

// builtinSource is the address of OpenTofu's built-in provider, which
// serves terraform_data.
const builtinSource = "terraform.io/builtin/terraform"

func opt(t cty.Type) *Attribute      { return &Attribute{Type: t, Optional: true} }
func req(t cty.Type) *Attribute      { return &Attribute{Type: t, Required: true} }
func computed(t cty.Type) *Attribute { return &Attribute{Type: t, Computed: true} }

// builtinProvider is the schema of terraform_data as OpenTofu defines it:
// input and triggers_replace take any value, output and id are computed.
func builtinProvider() *Provider {
	return &Provider{
		Source: builtinSource,
		Config: &Block{},
		Resources: map[string]*Block{
			"terraform_data": {Attributes: map[string]*Attribute{
				"input":            opt(cty.DynamicPseudoType),
				"triggers_replace": opt(cty.DynamicPseudoType),
				"output":           computed(cty.DynamicPseudoType),
				"id":               computed(cty.String),
			}},
		},
		DataSources: map[string]*Block{},
	}
}

// conditions are the precondition and postcondition blocks of lifecycle.
func conditions() map[string]*NestedBlock {
	cond := Block{Attributes: map[string]*Attribute{
		"condition":     req(cty.Bool),
		"error_message": req(cty.String),
	}}
	return map[string]*NestedBlock{
		"precondition":  {NestingMode: NestingList, Block: cond},
		"postcondition": {NestingMode: NestingList, Block: cond},
	}
}

// lifecycleSchema is the lifecycle block of a resource or, with data set,
// of a data source (which takes only conditions). ignore_changes and
// replace_triggered_by hold references, checked apart (refs.go).
func lifecycleSchema(data bool) *Block {
	if data {
		return &Block{BlockTypes: conditions()}
	}
	return &Block{
		Attributes: map[string]*Attribute{
			"create_before_destroy": opt(cty.Bool),
			"prevent_destroy":       opt(cty.Bool),
			"ignore_changes":        opt(cty.DynamicPseudoType),
			"replace_triggered_by":  opt(cty.DynamicPseudoType),
		},
		BlockTypes: conditions(),
	}
}

// provisionerSchemas are the arguments of OpenTofu's provisioners. when
// and on_failure take keywords, not values, and are checked apart.
func provisionerSchemas() map[string]*Block {
	common := func(attrs map[string]*Attribute) *Block {
		attrs["when"] = opt(cty.DynamicPseudoType)
		attrs["on_failure"] = opt(cty.DynamicPseudoType)
		return &Block{Attributes: attrs}
	}
	return map[string]*Block{
		"local-exec": common(map[string]*Attribute{
			"command":     req(cty.String),
			"working_dir": opt(cty.String),
			"interpreter": opt(cty.List(cty.String)),
			"environment": opt(cty.Map(cty.String)),
			"quiet":       opt(cty.Bool),
		}),
		"remote-exec": common(map[string]*Attribute{
			"inline":  opt(cty.List(cty.String)),
			"script":  opt(cty.String),
			"scripts": opt(cty.List(cty.String)),
		}),
		"file": common(map[string]*Attribute{
			"source":      opt(cty.String),
			"content":     opt(cty.String),
			"destination": req(cty.String),
		}),
	}
}

// Command fakeoci is a stand-in for the oracle/oci provider, for tests that
// run OpenTofu on vmrep's oci stacks where no tenancy can be reached. It
// serves the real provider's schema (the `tofu providers schema -json`
// file named by $VMREP_FAKE_OCI_SCHEMA, gzip or not), so tofu validates
// and plans the stacks exactly as with the real provider's schema, and it
// keeps resources only in the state: a created resource gets the ID
// "ocid1.<type>.fake.<name>" (<name> its vmrep-volume tag, else its
// display name, else a counter), other computed attributes it leaves
// null. It forces no replacement: what a plan replaces is what OpenTofu
// itself replaces (triggers, replace_triggered_by); it does not know which
// arguments the real provider replaces a resource for.
package main

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
	"github.com/hashicorp/terraform-plugin-go/tfprotov5/tf5server"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

const address = "registry.opentofu.org/oracle/oci"

func main() {
	p, err := load(os.Getenv("VMREP_FAKE_OCI_SCHEMA"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakeoci:", err)
		os.Exit(1)
	}
	if err := tf5server.Serve(address, func() tfprotov5.ProviderServer { return p }); err != nil {
		fmt.Fprintln(os.Stderr, "fakeoci:", err)
		os.Exit(1)
	}
}

type jsonAttr struct {
	Type      json.RawMessage `json:"type"`
	Required  bool            `json:"required"`
	Optional  bool            `json:"optional"`
	Computed  bool            `json:"computed"`
	Sensitive bool            `json:"sensitive"`
}

type jsonBlock struct {
	Attributes map[string]jsonAttr      `json:"attributes"`
	BlockTypes map[string]jsonBlockType `json:"block_types"`
}

type jsonBlockType struct {
	NestingMode string    `json:"nesting_mode"`
	Block       jsonBlock `json:"block"`
	MinItems    int64     `json:"min_items"`
	MaxItems    int64     `json:"max_items"`
}

type jsonSchema struct {
	Version int64     `json:"version"`
	Block   jsonBlock `json:"block"`
}

type provider struct {
	schema    *tfprotov5.GetProviderSchemaResponse
	resources map[string]*tfprotov5.Schema
	n         *atomic.Int64
}

func load(path string) (provider, error) {
	if path == "" {
		return provider{}, errors.New("VMREP_FAKE_OCI_SCHEMA names no schema file")
	}
	f, err := os.Open(path)
	if err != nil {
		return provider{}, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		if r, err = gzip.NewReader(f); err != nil {
			return provider{}, err
		}
	}
	var doc struct {
		ProviderSchemas map[string]struct {
			Provider          jsonSchema            `json:"provider"`
			ResourceSchemas   map[string]jsonSchema `json:"resource_schemas"`
			DataSourceSchemas map[string]jsonSchema `json:"data_source_schemas"`
		} `json:"provider_schemas"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return provider{}, fmt.Errorf("%s: %w", path, err)
	}
	ps, ok := doc.ProviderSchemas[address]
	if !ok {
		return provider{}, fmt.Errorf("%s holds no schema of %s", path, address)
	}
	conv := func(s jsonSchema) (*tfprotov5.Schema, error) {
		b, err := block(s.Block)
		return &tfprotov5.Schema{Version: s.Version, Block: b}, err
	}
	resp := &tfprotov5.GetProviderSchemaResponse{ResourceSchemas: map[string]*tfprotov5.Schema{},
		DataSourceSchemas: map[string]*tfprotov5.Schema{}}
	if resp.Provider, err = conv(ps.Provider); err != nil {
		return provider{}, err
	}
	for name, s := range ps.ResourceSchemas {
		if resp.ResourceSchemas[name], err = conv(s); err != nil {
			return provider{}, fmt.Errorf("%s: %w", name, err)
		}
	}
	for name, s := range ps.DataSourceSchemas {
		if resp.DataSourceSchemas[name], err = conv(s); err != nil {
			return provider{}, fmt.Errorf("%s: %w", name, err)
		}
	}
	return provider{schema: resp, resources: resp.ResourceSchemas, n: new(atomic.Int64)}, nil
}

func block(b jsonBlock) (*tfprotov5.SchemaBlock, error) {
	out := &tfprotov5.SchemaBlock{}
	for name, a := range b.Attributes {
		//lint:ignore SA1019 the schema file is in the JSON type syntax this parses; there is no other parser of it
		typ, err := tftypes.ParseJSONType(a.Type)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", name, err)
		}
		out.Attributes = append(out.Attributes, &tfprotov5.SchemaAttribute{Name: name, Type: typ,
			Required: a.Required, Optional: a.Optional, Computed: a.Computed, Sensitive: a.Sensitive})
	}
	for name, bt := range b.BlockTypes {
		nb, err := block(bt.Block)
		if err != nil {
			return nil, fmt.Errorf("block %s: %w", name, err)
		}
		nesting := map[string]tfprotov5.SchemaNestedBlockNestingMode{
			"single": tfprotov5.SchemaNestedBlockNestingModeSingle, "list": tfprotov5.SchemaNestedBlockNestingModeList,
			"set": tfprotov5.SchemaNestedBlockNestingModeSet, "map": tfprotov5.SchemaNestedBlockNestingModeMap,
			"group": tfprotov5.SchemaNestedBlockNestingModeGroup}[bt.NestingMode]
		out.BlockTypes = append(out.BlockTypes, &tfprotov5.SchemaNestedBlock{TypeName: name, Block: nb, Nesting: nesting,
			MinItems: bt.MinItems, MaxItems: bt.MaxItems})
	}
	return out, nil
}

func diag(summary string, err error) []*tfprotov5.Diagnostic {
	return []*tfprotov5.Diagnostic{{Severity: tfprotov5.DiagnosticSeverityError, Summary: summary, Detail: err.Error()}}
}

var _ tfprotov5.ProviderServer = provider{}

func (p provider) GetMetadata(context.Context, *tfprotov5.GetMetadataRequest) (*tfprotov5.GetMetadataResponse, error) {
	r := &tfprotov5.GetMetadataResponse{}
	for name := range p.schema.ResourceSchemas {
		r.Resources = append(r.Resources, tfprotov5.ResourceMetadata{TypeName: name})
	}
	for name := range p.schema.DataSourceSchemas {
		r.DataSources = append(r.DataSources, tfprotov5.DataSourceMetadata{TypeName: name})
	}
	return r, nil
}

func (p provider) GetProviderSchema(context.Context, *tfprotov5.GetProviderSchemaRequest) (*tfprotov5.GetProviderSchemaResponse, error) {
	return p.schema, nil
}

func (provider) PrepareProviderConfig(_ context.Context, r *tfprotov5.PrepareProviderConfigRequest) (*tfprotov5.PrepareProviderConfigResponse, error) {
	return &tfprotov5.PrepareProviderConfigResponse{PreparedConfig: r.Config}, nil
}

func (provider) ConfigureProvider(context.Context, *tfprotov5.ConfigureProviderRequest) (*tfprotov5.ConfigureProviderResponse, error) {
	return &tfprotov5.ConfigureProviderResponse{}, nil
}

func (provider) StopProvider(context.Context, *tfprotov5.StopProviderRequest) (*tfprotov5.StopProviderResponse, error) {
	return &tfprotov5.StopProviderResponse{}, nil
}

func (provider) ValidateResourceTypeConfig(context.Context, *tfprotov5.ValidateResourceTypeConfigRequest) (*tfprotov5.ValidateResourceTypeConfigResponse, error) {
	return &tfprotov5.ValidateResourceTypeConfigResponse{}, nil
}

func (provider) ValidateDataSourceConfig(context.Context, *tfprotov5.ValidateDataSourceConfigRequest) (*tfprotov5.ValidateDataSourceConfigResponse, error) {
	return &tfprotov5.ValidateDataSourceConfigResponse{}, nil
}

func (p provider) typ(name string) (tftypes.Type, error) {
	s, ok := p.resources[name]
	if !ok {
		return nil, fmt.Errorf("no resource type %s", name)
	}
	return s.ValueType(), nil
}

func (p provider) UpgradeResourceState(_ context.Context, r *tfprotov5.UpgradeResourceStateRequest) (*tfprotov5.UpgradeResourceStateResponse, error) {
	typ, err := p.typ(r.TypeName)
	if err != nil {
		return &tfprotov5.UpgradeResourceStateResponse{Diagnostics: diag("upgrade", err)}, nil
	}
	v, err := r.RawState.UnmarshalWithOpts(typ, tfprotov5.UnmarshalOpts{ValueFromJSONOpts: tftypes.ValueFromJSONOpts{IgnoreUndefinedAttributes: true}})
	if err != nil {
		return &tfprotov5.UpgradeResourceStateResponse{Diagnostics: diag("upgrade", err)}, nil
	}
	dv, err := tfprotov5.NewDynamicValue(typ, v)
	if err != nil {
		return &tfprotov5.UpgradeResourceStateResponse{Diagnostics: diag("upgrade", err)}, nil
	}
	return &tfprotov5.UpgradeResourceStateResponse{UpgradedState: &dv}, nil
}

func (provider) ReadResource(_ context.Context, r *tfprotov5.ReadResourceRequest) (*tfprotov5.ReadResourceResponse, error) {
	return &tfprotov5.ReadResourceResponse{NewState: r.CurrentState, Private: r.Private}, nil
}

// PlanResourceChange plans the proposed state; on create, computed
// attributes the configuration leaves null become unknown, as a real
// provider's would.
func (p provider) PlanResourceChange(_ context.Context, r *tfprotov5.PlanResourceChangeRequest) (*tfprotov5.PlanResourceChangeResponse, error) {
	typ, err := p.typ(r.TypeName)
	if err != nil {
		return &tfprotov5.PlanResourceChangeResponse{Diagnostics: diag("plan", err)}, nil
	}
	prior, err := r.PriorState.Unmarshal(typ)
	if err != nil {
		return &tfprotov5.PlanResourceChangeResponse{Diagnostics: diag("plan", err)}, nil
	}
	proposed, err := r.ProposedNewState.Unmarshal(typ)
	if err != nil {
		return &tfprotov5.PlanResourceChangeResponse{Diagnostics: diag("plan", err)}, nil
	}
	if proposed.IsNull() || !prior.IsNull() {
		return &tfprotov5.PlanResourceChangeResponse{PlannedState: r.ProposedNewState}, nil
	}
	var attrs map[string]tftypes.Value
	if err := proposed.As(&attrs); err != nil {
		return &tfprotov5.PlanResourceChangeResponse{Diagnostics: diag("plan", err)}, nil
	}
	for _, a := range p.resources[r.TypeName].Block.Attributes {
		if a.Computed && attrs[a.Name].IsNull() {
			attrs[a.Name] = tftypes.NewValue(a.Type, tftypes.UnknownValue)
		}
	}
	dv, err := tfprotov5.NewDynamicValue(typ, tftypes.NewValue(typ, attrs))
	if err != nil {
		return &tfprotov5.PlanResourceChangeResponse{Diagnostics: diag("plan", err)}, nil
	}
	return &tfprotov5.PlanResourceChangeResponse{PlannedState: &dv}, nil
}

// ApplyResourceChange makes the planned state the new state: the ID is
// made up, other unknown values become null.
func (p provider) ApplyResourceChange(_ context.Context, r *tfprotov5.ApplyResourceChangeRequest) (*tfprotov5.ApplyResourceChangeResponse, error) {
	typ, err := p.typ(r.TypeName)
	if err != nil {
		return &tfprotov5.ApplyResourceChangeResponse{Diagnostics: diag("apply", err)}, nil
	}
	planned, err := r.PlannedState.Unmarshal(typ)
	if err != nil {
		return &tfprotov5.ApplyResourceChangeResponse{Diagnostics: diag("apply", err)}, nil
	}
	if planned.IsNull() {
		return &tfprotov5.ApplyResourceChangeResponse{NewState: r.PlannedState}, nil
	}
	var attrs map[string]tftypes.Value
	if err := planned.As(&attrs); err != nil {
		return &tfprotov5.ApplyResourceChangeResponse{Diagnostics: diag("apply", err)}, nil
	}
	if id := attrs["id"]; !id.IsKnown() || id.IsNull() {
		attrs["id"] = tftypes.NewValue(tftypes.String, "ocid1."+r.TypeName+".fake."+p.name(attrs))
	}
	v, err := tftypes.Transform(tftypes.NewValue(typ, attrs), func(_ *tftypes.AttributePath, v tftypes.Value) (tftypes.Value, error) {
		if !v.IsKnown() {
			return tftypes.NewValue(v.Type(), nil), nil
		}
		return v, nil
	})
	if err != nil {
		return &tfprotov5.ApplyResourceChangeResponse{Diagnostics: diag("apply", err)}, nil
	}
	dv, err := tfprotov5.NewDynamicValue(typ, v)
	if err != nil {
		return &tfprotov5.ApplyResourceChangeResponse{Diagnostics: diag("apply", err)}, nil
	}
	return &tfprotov5.ApplyResourceChangeResponse{NewState: &dv}, nil
}

// name is the last part of a made-up OCID: the vmrep volume a resource
// holds, else its display name, else a counter.
func (p provider) name(attrs map[string]tftypes.Value) string {
	if t, ok := attrs["freeform_tags"]; ok && t.IsKnown() && !t.IsNull() {
		var tags map[string]tftypes.Value
		if t.As(&tags) == nil {
			var s string
			if v, ok := tags["vmrep-volume"]; ok && v.As(&s) == nil && s != "" {
				return s
			}
		}
	}
	var s string
	if v, ok := attrs["display_name"]; ok && v.IsKnown() && v.As(&s) == nil && s != "" {
		return strings.ReplaceAll(s, " ", "-")
	}
	return fmt.Sprint(p.n.Add(1))
}

func (provider) ImportResourceState(context.Context, *tfprotov5.ImportResourceStateRequest) (*tfprotov5.ImportResourceStateResponse, error) {
	return &tfprotov5.ImportResourceStateResponse{Diagnostics: diag("import", errors.New("the fake oci provider imports nothing"))}, nil
}

func (provider) MoveResourceState(context.Context, *tfprotov5.MoveResourceStateRequest) (*tfprotov5.MoveResourceStateResponse, error) {
	return &tfprotov5.MoveResourceStateResponse{Diagnostics: diag("move", errors.New("the fake oci provider moves nothing"))}, nil
}

func (provider) ReadDataSource(context.Context, *tfprotov5.ReadDataSourceRequest) (*tfprotov5.ReadDataSourceResponse, error) {
	return &tfprotov5.ReadDataSourceResponse{Diagnostics: diag("read", errors.New("the fake oci provider reads no data source"))}, nil
}

func (provider) GetFunctions(context.Context, *tfprotov5.GetFunctionsRequest) (*tfprotov5.GetFunctionsResponse, error) {
	return &tfprotov5.GetFunctionsResponse{}, nil
}

func (provider) CallFunction(context.Context, *tfprotov5.CallFunctionRequest) (*tfprotov5.CallFunctionResponse, error) {
	return &tfprotov5.CallFunctionResponse{Error: &tfprotov5.FunctionError{Text: "the fake oci provider has no functions"}}, nil
}

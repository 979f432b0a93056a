// Command terraform-provider-vmrep is the OpenTofu provider a local vmrep
// stack reads its replica through at plan time. Its one data source,
// vmrep_files, reports a stamp (size, mtime, ctime and inode) of each file
// it is given, or "missing": the stack seals the stamps of the replica's
// volume files after its steps wrote them and fails a later plan when they
// differ, so a volume file written behind the stack's back (a damaged byte)
// is seen without reading the volume.
//
// It is built from this module by scripts/install-tfprovider.sh into a
// filesystem mirror, so `tofu init` installs it offline.
package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
	"github.com/hashicorp/terraform-plugin-go/tfprotov5/tf5server"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// Address is the provider's source address, which the stacks require.
const Address = "vmrep.local/vmrep/vmrep"

const dataFiles = "vmrep_files"

var filesType = tftypes.Object{AttributeTypes: map[string]tftypes.Type{
	"paths":  tftypes.List{ElementType: tftypes.String},
	"stamps": tftypes.Map{ElementType: tftypes.String},
}}

func main() {
	if err := tf5server.Serve(Address, func() tfprotov5.ProviderServer { return provider{} }); err != nil {
		fmt.Fprintln(os.Stderr, "terraform-provider-vmrep:", err)
		os.Exit(1)
	}
}

// stamp says what a file is now without reading it: any write changes its
// ctime, which no user call can set back.
func stamp(path string) (string, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "missing", nil
	}
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", fmt.Errorf("stat %s: no inode data on this system", path)
	}
	return fmt.Sprintf("size=%d mtime=%d.%09d ctime=%d.%09d ino=%d", fi.Size(),
		st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec, st.Ino), nil
}

func readFiles(cfg *tfprotov5.DynamicValue) (tftypes.Value, error) {
	v, err := cfg.Unmarshal(filesType)
	if err != nil {
		return tftypes.Value{}, err
	}
	var attrs map[string]tftypes.Value
	if err := v.As(&attrs); err != nil {
		return tftypes.Value{}, err
	}
	var paths []tftypes.Value
	if err := attrs["paths"].As(&paths); err != nil {
		return tftypes.Value{}, err
	}
	stamps := map[string]tftypes.Value{}
	for _, p := range paths {
		var s string
		if err := p.As(&s); err != nil {
			return tftypes.Value{}, err
		}
		st, err := stamp(s)
		if err != nil {
			return tftypes.Value{}, err
		}
		stamps[s] = tftypes.NewValue(tftypes.String, st)
	}
	return tftypes.NewValue(filesType, map[string]tftypes.Value{
		"paths":  attrs["paths"],
		"stamps": tftypes.NewValue(tftypes.Map{ElementType: tftypes.String}, stamps),
	}), nil
}

func errDiag(summary string, err error) []*tfprotov5.Diagnostic {
	return []*tfprotov5.Diagnostic{{Severity: tfprotov5.DiagnosticSeverityError, Summary: summary, Detail: err.Error()}}
}

type provider struct{}

var _ tfprotov5.ProviderServer = provider{}

func (provider) schema() *tfprotov5.GetProviderSchemaResponse {
	return &tfprotov5.GetProviderSchemaResponse{
		Provider: &tfprotov5.Schema{Block: &tfprotov5.SchemaBlock{}},
		DataSourceSchemas: map[string]*tfprotov5.Schema{dataFiles: {Block: &tfprotov5.SchemaBlock{
			Description: "Stamps (size, mtime, ctime, inode) of files, or \"missing\"; never reads them.",
			Attributes: []*tfprotov5.SchemaAttribute{
				{Name: "paths", Type: tftypes.List{ElementType: tftypes.String}, Required: true},
				{Name: "stamps", Type: tftypes.Map{ElementType: tftypes.String}, Computed: true},
			},
		}}},
		ResourceSchemas: map[string]*tfprotov5.Schema{},
	}
}

func (p provider) GetMetadata(context.Context, *tfprotov5.GetMetadataRequest) (*tfprotov5.GetMetadataResponse, error) {
	return &tfprotov5.GetMetadataResponse{DataSources: []tfprotov5.DataSourceMetadata{{TypeName: dataFiles}}}, nil
}

func (p provider) GetProviderSchema(context.Context, *tfprotov5.GetProviderSchemaRequest) (*tfprotov5.GetProviderSchemaResponse, error) {
	return p.schema(), nil
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

func (provider) ValidateDataSourceConfig(context.Context, *tfprotov5.ValidateDataSourceConfigRequest) (*tfprotov5.ValidateDataSourceConfigResponse, error) {
	return &tfprotov5.ValidateDataSourceConfigResponse{}, nil
}

func (provider) ReadDataSource(_ context.Context, r *tfprotov5.ReadDataSourceRequest) (*tfprotov5.ReadDataSourceResponse, error) {
	if r.TypeName != dataFiles {
		return &tfprotov5.ReadDataSourceResponse{Diagnostics: errDiag("unknown data source", errors.New(r.TypeName))}, nil
	}
	v, err := readFiles(r.Config)
	if err != nil {
		return &tfprotov5.ReadDataSourceResponse{Diagnostics: errDiag("vmrep_files", err)}, nil
	}
	st, err := tfprotov5.NewDynamicValue(filesType, v)
	if err != nil {
		return &tfprotov5.ReadDataSourceResponse{Diagnostics: errDiag("vmrep_files", err)}, nil
	}
	return &tfprotov5.ReadDataSourceResponse{State: &st}, nil
}

// The provider has no resources and no functions.

var errNoResources = errors.New("the vmrep provider has no resources")

func (provider) ValidateResourceTypeConfig(context.Context, *tfprotov5.ValidateResourceTypeConfigRequest) (*tfprotov5.ValidateResourceTypeConfigResponse, error) {
	return nil, errNoResources
}

func (provider) UpgradeResourceState(context.Context, *tfprotov5.UpgradeResourceStateRequest) (*tfprotov5.UpgradeResourceStateResponse, error) {
	return nil, errNoResources
}

func (provider) ReadResource(context.Context, *tfprotov5.ReadResourceRequest) (*tfprotov5.ReadResourceResponse, error) {
	return nil, errNoResources
}

func (provider) PlanResourceChange(context.Context, *tfprotov5.PlanResourceChangeRequest) (*tfprotov5.PlanResourceChangeResponse, error) {
	return nil, errNoResources
}

func (provider) ApplyResourceChange(context.Context, *tfprotov5.ApplyResourceChangeRequest) (*tfprotov5.ApplyResourceChangeResponse, error) {
	return nil, errNoResources
}

func (provider) ImportResourceState(context.Context, *tfprotov5.ImportResourceStateRequest) (*tfprotov5.ImportResourceStateResponse, error) {
	return nil, errNoResources
}

func (provider) MoveResourceState(context.Context, *tfprotov5.MoveResourceStateRequest) (*tfprotov5.MoveResourceStateResponse, error) {
	return nil, errNoResources
}

func (provider) GetFunctions(context.Context, *tfprotov5.GetFunctionsRequest) (*tfprotov5.GetFunctionsResponse, error) {
	return &tfprotov5.GetFunctionsResponse{}, nil
}

func (provider) CallFunction(context.Context, *tfprotov5.CallFunctionRequest) (*tfprotov5.CallFunctionResponse, error) {
	return nil, errors.New("the vmrep provider has no functions")
}

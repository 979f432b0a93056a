package stackgen

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// Targets.
const (
	TargetLocal = "local"
	TargetOCI   = "oci"
)

// Stack file names.
const (
	FileMain      = "main.tf"
	FileVariables = "variables.tf"
	FileOutputs   = "outputs.tf"
	FileVersions  = "versions.tf"
)

// Generate builds the four .tf files of the stack for p on target. It
// validates p first.
func Generate(p Plan, target string) (map[string]*hclwrite.File, error) {
	if err := Validate(p); err != nil {
		return nil, err
	}
	files := map[string]*hclwrite.File{
		FileMain:      hclwrite.NewEmptyFile(),
		FileVariables: hclwrite.NewEmptyFile(),
		FileOutputs:   hclwrite.NewEmptyFile(),
		FileVersions:  hclwrite.NewEmptyFile(),
	}
	var err error
	switch target {
	case TargetLocal:
		err = generateLocal(p, files)
	case TargetOCI:
		err = generateOCI(p, files)
	default:
		err = fmt.Errorf("stackgen: unknown target %q (want %q or %q)", target, TargetLocal, TargetOCI)
	}
	if err != nil {
		return nil, err
	}
	return files, nil
}

// ref is the snapshot reference vmrep understands for the target snapshot.
func (p Plan) snapRef() string { return fmt.Sprintf("%s@%d", p.VGName, p.Snapshot.Seq) }

// changed returns the delta entry for a volume, if the delta changes it.
func (p Plan) changed(volID string) (DeltaVolume, bool) {
	if p.Delta == nil {
		return DeltaVolume{}, false
	}
	for _, dv := range p.Delta.Volumes {
		if dv.VolumeID == volID {
			return dv, true
		}
	}
	return DeltaVolume{}, false
}

// Token builders. Every value that came from the plan goes through
// TokensForValue, which quotes and escapes it (", \, newlines, ${ and %{).

func str(s string) hclwrite.Tokens { return hclwrite.TokensForValue(cty.StringVal(s)) }

func ref(root string, attrs ...string) hclwrite.Tokens {
	return hclwrite.TokensForTraversal(traversal(root, attrs...))
}

func traversal(root string, attrs ...string) hcl.Traversal {
	t := hcl.Traversal{hcl.TraverseRoot{Name: root}}
	for _, a := range attrs {
		t = append(t, hcl.TraverseAttr{Name: a})
	}
	return t
}

func tuple(items ...hclwrite.Tokens) hclwrite.Tokens { return hclwrite.TokensForTuple(items) }

func strs(ss ...string) []hclwrite.Tokens {
	out := make([]hclwrite.Tokens, len(ss))
	for i, s := range ss {
		out[i] = str(s)
	}
	return out
}

// object builds a map literal with quoted keys, so keys holding '-' stay
// keys rather than becoming subtraction expressions.
func object(kv ...string) hclwrite.Tokens {
	attrs := make([]hclwrite.ObjectAttrTokens, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		attrs = append(attrs, hclwrite.ObjectAttrTokens{Name: str(kv[i]), Value: str(kv[i+1])})
	}
	return hclwrite.TokensForObject(attrs)
}

// comment appends "# text" lines to a body.
func comment(b *hclwrite.Body, lines ...string) {
	for _, l := range lines {
		b.AppendUnstructuredTokens(hclwrite.Tokens{
			{Type: hclsyntax.TokenComment, Bytes: []byte("# " + l + "\n")},
		})
	}
}

// socketFlags is `var.socket == "" ? [] : ["--socket", var.socket]`.
func socketFlags() hclwrite.Tokens {
	var t hclwrite.Tokens
	t = append(t, ref("var", "socket")...)
	t = append(t, &hclwrite.Token{Type: hclsyntax.TokenEqualOp, Bytes: []byte("==")})
	t = append(t, str("")...)
	t = append(t, &hclwrite.Token{Type: hclsyntax.TokenQuestion, Bytes: []byte("?")})
	t = append(t, tuple()...)
	t = append(t, &hclwrite.Token{Type: hclsyntax.TokenColon, Bytes: []byte(":")})
	t = append(t, tuple(str("--socket"), ref("var", "socket"))...)
	return t
}

// vmrepExec fills a local-exec provisioner that runs vmrep without a shell:
// local-exec appends `command` as the last argument of `interpreter`, so
// the volume ID is that last argument and no path is ever re-parsed by sh.
func vmrepExec(b *hclwrite.Body, args hclwrite.Tokens, volID string, env []hclwrite.ObjectAttrTokens) {
	prov := b.AppendNewBlock("provisioner", []string{"local-exec"}).Body()
	prov.SetAttributeRaw("interpreter", hclwrite.TokensForFunctionCall("concat",
		tuple(ref("var", "vmrep_bin")),
		args,
		ref("local", "vmrep_flags"),
		tuple(str("--volume")),
	))
	prov.SetAttributeValue("command", cty.StringVal(volID))
	if len(env) > 0 {
		prov.SetAttributeRaw("environment", hclwrite.TokensForObject(env))
	}
}

// variable appends a variable block of type string, or number or bool
// when def is one. A cty.NilVal def makes the variable required.
func variable(b *hclwrite.Body, name, desc string, def cty.Value) {
	v := b.AppendNewBlock("variable", []string{name}).Body()
	typ := "string"
	if def != cty.NilVal && def.Type() == cty.Number {
		typ = "number"
	}
	if def != cty.NilVal && def.Type() == cty.Bool {
		typ = "bool"
	}
	v.SetAttributeTraversal("type", traversal(typ))
	v.SetAttributeValue("description", cty.StringVal(desc))
	if def != cty.NilVal {
		v.SetAttributeValue("default", def)
	}
	b.AppendNewline()
}

func output(b *hclwrite.Body, name, desc string, value hclwrite.Tokens) {
	o := b.AppendNewBlock("output", []string{name}).Body()
	o.SetAttributeValue("description", cty.StringVal(desc))
	o.SetAttributeRaw("value", value)
	b.AppendNewline()
}

// commonVariables declares the variables both targets use to run vmrep;
// replicaDir is replica_dir's default, cty.NilVal to make it required.
func commonVariables(b *hclwrite.Body, p Plan, replicaDir cty.Value) {
	variable(b, "vmrep_bin", "Path of the vmrep binary the provisioners run.", cty.StringVal("vmrep"))
	variable(b, "socket", "vmrep daemon socket; empty for vmrep's default.", cty.StringVal(""))
	desc := "Directory of the replica of VG " + p.VGName + " (" + p.VGID + ")"
	if replicaDir != cty.NilVal {
		desc += "; a relative path is from the stack directory"
	}
	variable(b, "replica_dir", desc+".", replicaDir)
	if p.Delta != nil {
		variable(b, "delta_file", "The delta from "+p.Delta.BaseSnapshotID+" to "+p.Delta.TargetSnapshotID+
			" (digest "+p.Delta.Digest+").", cty.StringVal(p.Delta.File))
	}
}

// vmrepFlagsLocal declares local.vmrep_flags: --socket only when set.
func vmrepFlagsLocal(b *hclwrite.Body) {
	l := b.AppendNewBlock("locals", nil).Body()
	l.SetAttributeRaw("vmrep_flags", socketFlags())
	b.AppendNewline()
}

func dependsOn(b *hclwrite.Body, refs []hclwrite.Tokens) {
	if len(refs) > 0 {
		b.SetAttributeRaw("depends_on", tuple(refs...))
	}
}

package stackgen

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// driftLocals declares the locals a local stack's drift checks read at plan
// time with built-in functions: the replica's state.json and volume files,
// and the SHA-256 of every file of the delta. See doc/design.md, "Stacks".
//
// The replica is read through local.check_dir, which is unknown until the
// last step exists: a first apply (or a repair that replaces the steps)
// defers the check until after the steps ran, while a plan with nothing to
// do checks the replica as it is now.
func driftLocals(b *hclwrite.Body, p Plan, steps []string) {
	comment(b, "Drift checks (README.md): what the replica and the delta hold now, read at plan time.")
	l := b.AppendNewBlock("locals", nil).Body()
	if len(steps) > 0 {
		l.SetAttributeRaw("check_dir", join(
			ref("terraform_data", steps[len(steps)-1], "id"), code(` == "" ? "" : var.replica_dir`)))
	} else {
		l.SetAttributeRaw("check_dir", ref("var", "replica_dir"))
	}
	l.SetAttributeRaw("replica", code(`try(jsondecode(file("${local.check_dir}/state.json")), null)`))
	l.SetAttributeRaw("replica_manifests", code(`try({ for v in local.replica.volumes : v.id => v.manifest }, {})`))

	want := make([]hclwrite.ObjectAttrTokens, len(p.Snapshot.Volumes))
	ids := make([]string, len(p.Snapshot.Volumes))
	for i, v := range p.Snapshot.Volumes {
		want[i] = hclwrite.ObjectAttrTokens{Name: str(v.ID), Value: str(v.Manifest)}
		ids[i] = v.ID
	}
	l.SetAttributeRaw("replica_wrong", join(code(`[for id, m in`), hclwrite.TokensForObject(want),
		code(`: id if lookup(local.replica_manifests, id, "") != m]`)))
	l.SetAttributeRaw("replica_lost", join(code(`[for id in`), tuple(strs(ids...)...),
		code(`: id if !try(fileexists("${local.check_dir}/${id}.img"), true)]`)))

	made, fix := "made", "Rebuild it with: "+repairCommand(steps)
	if p.Delta != nil {
		made = "moved it to"
		fix = fmt.Sprintf("Bring it back to %s (%s@%d) and re-apply the delta with: %s",
			p.Delta.BaseSnapshotID, p.VGName, p.Base.Seq, repairCommand(steps))
	}
	target := fmt.Sprintf("%s (%s)", p.Snapshot.ID, p.snapRef())
	// One message per kind of drift, first match wins; every plan value
	// reaches HCL through str(), never inside the template text.
	l.SetAttributeRaw("replica_drift", join(code("(\n"),
		code(`local.replica == null ? format(`),
		str("vmrep: replica %s has no readable state.json: it was moved or deleted after this stack "+made+" "+target+
			". Set replica_dir to where it is now, or "+lowerFirst(fix)),
		code(`, var.replica_dir) :`+"\n"),
		code(`try(local.replica.vg_id, "") != `), str(p.VGID), code(` ? format(`),
		str("vmrep: replica %s holds VG %s, not "+p.VGName+" ("+p.VGID+")"),
		code(`, var.replica_dir, try(local.replica.vg_id, "?")) :`+"\n"),
		code(`length(local.replica_wrong) > 0 ? format(`),
		str("vmrep: replica %s is at %s, not "+target+" that this stack "+made+" (volumes not at it: %s): it was rolled back, moved on or rebuilt. "+fix),
		code(`, var.replica_dir, coalesce(try(local.replica.snapshot_id, ""), "a mix of snapshots"), join(", ", local.replica_wrong)) :`+"\n"),
		code(`length(local.replica_lost) > 0 ? format(`),
		str("vmrep: replica %s lacks the file of volume %s (damaged or deleted). "+fix),
		code(`, var.replica_dir, join(", ", local.replica_lost)) :`+"\n"),
		code(`""`+"\n)"),
	))

	if p.Delta == nil {
		b.AppendNewline()
		return
	}
	sums := make([]hclwrite.ObjectAttrTokens, len(p.Delta.Files))
	for i, f := range p.Delta.Files {
		path := ref("var", "delta_file")
		if f.Name != "" {
			path = hclwrite.TokensForFunctionCall("join", str("/"), tuple(path, str(f.Name)))
		}
		// An object key that is an expression must be in parentheses.
		sums[i] = hclwrite.ObjectAttrTokens{Name: join(code("("), path, code(")")), Value: str(f.SHA256)}
	}
	l.SetAttributeRaw("delta_sha256", hclwrite.TokensForObject(sums))
	l.SetAttributeRaw("delta_changed", code(`[for f, sum in local.delta_sha256 : f if try(filesha256(f), "") != sum]`))
	l.SetAttributeRaw("delta_drift", join(code(`length(local.delta_changed) == 0 ? "" : format(`),
		str("vmrep: delta %s is missing or changed since the stack was generated (digest "+p.Delta.Digest+
			"): restore that delta or generate the stack again from the new one"),
		code(`, join(", ", local.delta_changed))`)))
	b.AppendNewline()
}

// Provider is the vmrep OpenTofu provider a local stack requires for its
// seal: source address and version (tools/terraform-provider-vmrep).
var Provider = [3]string{"vmrep", "vmrep.local/vmrep/vmrep", "0.1.0"}

// sealVolumes adds the seal on the replica's volume files: the
// vmrep_files data source stamps them (size, mtime, ctime, inode) without
// reading them, terraform_data.seal keeps the stamps the steps left, and a
// later plan fails when the files changed since, which is how a damaged
// byte is seen at plan time. The data source waits for the steps when they
// run; the seal is taken again whenever they do.
func sealVolumes(b *hclwrite.Body, p Plan, steps []string) {
	ids := make([]string, len(p.Snapshot.Volumes))
	for i, v := range p.Snapshot.Volumes {
		ids[i] = v.ID
	}
	stepRefs := make([]hclwrite.Tokens, len(steps))
	for i, s := range steps {
		stepRefs[i] = ref("terraform_data", s)
	}
	d := b.AppendNewBlock("data", []string{"vmrep_files", "replica"}).Body()
	d.SetAttributeRaw("paths", join(code(`[for id in`), tuple(strs(ids...)...),
		code(`: "${var.replica_dir}/${id}.img"]`)))
	dependsOn(d, stepRefs)
	b.AppendNewline()

	fix := "Rebuild it with: " + repairCommand(steps)
	if p.Delta != nil {
		fix = fmt.Sprintf("Rebuild it with: vmrep replica create %s --dir %%s && %s", p.snapRef(), repairCommand(steps))
	}
	s := b.AppendNewBlock("resource", []string{"terraform_data", "seal"}).Body()
	s.SetAttributeRaw("input", code(`data.vmrep_files.replica.stamps`))
	s.AppendNewline()
	lc := s.AppendNewBlock("lifecycle", nil).Body()
	lc.SetAttributeRaw("ignore_changes", code(`[input]`))
	if len(stepRefs) > 0 {
		lc.SetAttributeRaw("replace_triggered_by", tuple(stepRefs...))
	}
	post := lc.AppendNewBlock("postcondition", nil).Body()
	post.SetAttributeRaw("condition", code(`self.output == data.vmrep_files.replica.stamps`))
	msgArgs := `, var.replica_dir, join(", ", [for f, st in data.vmrep_files.replica.stamps : f if lookup(self.output, f, "") != st]))`
	if p.Delta != nil {
		msgArgs = `, var.replica_dir, join(", ", [for f, st in data.vmrep_files.replica.stamps : f if lookup(self.output, f, "") != st]), var.replica_dir)`
	}
	post.SetAttributeRaw("error_message", join(code(`format(`),
		str("vmrep: volume files of replica %s changed since this stack wrote them (%s): damaged, moved or written by something else. "+fix),
		code(msgArgs)))
	b.AppendNewline()
}

func repairCommand(steps []string) string {
	var b strings.Builder
	b.WriteString("tofu apply")
	for _, s := range steps {
		b.WriteString(" -replace=terraform_data." + s)
	}
	return b.String()
}

// driftConditions makes the snapshot resource fail the plan on drift: a
// precondition on the delta's files, a postcondition on the replica.
func driftConditions(s *hclwrite.Body, p Plan) {
	lc := s.AppendNewBlock("lifecycle", nil).Body()
	if p.Delta != nil {
		pre := lc.AppendNewBlock("precondition", nil).Body()
		pre.SetAttributeRaw("condition", code(`local.delta_drift == ""`))
		pre.SetAttributeRaw("error_message", code(`local.delta_drift`))
	}
	post := lc.AppendNewBlock("postcondition", nil).Body()
	post.SetAttributeRaw("condition", code(`local.replica_drift == ""`))
	post.SetAttributeRaw("error_message", code(`local.replica_drift`))
}

// code lexes a fixed fragment of HCL written in this package. Plan values
// never go through it: they are joined in as str() tokens.
func code(src string) hclwrite.Tokens {
	toks, diags := hclsyntax.LexExpression([]byte(src), "stackgen", hcl.InitialPos)
	if diags.HasErrors() {
		panic(fmt.Sprintf("stackgen: fixed HCL %q does not lex: %v", src, diags))
	}
	out := make(hclwrite.Tokens, 0, len(toks))
	last := 0
	for _, t := range toks {
		if t.Type == hclsyntax.TokenEOF {
			break
		}
		out = append(out, &hclwrite.Token{Type: t.Type, Bytes: append([]byte(nil), t.Bytes...),
			SpacesBefore: t.Range.Start.Byte - last})
		last = t.Range.End.Byte
	}
	return out
}

func join(parts ...hclwrite.Tokens) hclwrite.Tokens {
	var out hclwrite.Tokens
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

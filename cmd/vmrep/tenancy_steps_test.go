package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	"github.com/zclconf/go-cty/cty/gocty"
)

// stackStep is one local-exec provisioner of an oci stack, its argument
// list evaluated as OpenTofu would: interpreter, then command.
type stackStep struct {
	argv []string
	env  map[string]string
}

// stackResource is a terraform_data resource of an oci stack with the
// steps it runs when created (and, for the power step, destroyed).
type stackResource struct {
	name    string
	trigger string
	create  []stackStep
	destroy []stackStep
}

// ociStackSteps reads the terraform_data resources of the oci stack in dir
// in file order and evaluates their provisioners with vars and the OCIDs
// of the OCI resources (by "type.name"), using the stack's own locals: the
// commands a tofu apply of that stack runs, exactly.
func ociStackSteps(t *testing.T, dir string, vars map[string]cty.Value, ocids map[string]string) []stackResource {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(dir, "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclsyntax.ParseConfig(src, "main.tf", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	types := map[string]map[string]cty.Value{}
	for addr, id := range ocids {
		typ, name, _ := strings.Cut(addr, ".")
		if types[typ] == nil {
			types[typ] = map[string]cty.Value{}
		}
		types[typ][name] = cty.ObjectVal(map[string]cty.Value{"id": cty.StringVal(id)})
	}
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":  cty.ObjectVal(vars),
			"path": cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal(dir)}),
		},
		Functions: map[string]function.Function{
			"concat": stdlib.ConcatFunc, "format": stdlib.FormatFunc, "length": stdlib.LengthFunc,
		},
	}
	for typ, m := range types {
		ctx.Variables[typ] = cty.ObjectVal(m)
	}
	eval := func(e hcl.Expression, c *hcl.EvalContext) cty.Value {
		v, diags := e.Value(c)
		if diags.HasErrors() {
			t.Fatalf("evaluate %s: %v", src[e.Range().Start.Byte:e.Range().End.Byte], diags)
		}
		return v
	}
	body := f.Body.(*hclsyntax.Body)
	for _, b := range body.Blocks {
		if b.Type == "locals" {
			locals := map[string]cty.Value{}
			for name, a := range b.Body.Attributes {
				locals[name] = eval(a.Expr, ctx)
			}
			ctx.Variables["local"] = cty.ObjectVal(locals)
		}
	}
	var out []stackResource
	for _, b := range body.Blocks {
		if b.Type != "resource" || b.Labels[0] != "terraform_data" {
			continue
		}
		r := stackResource{name: b.Labels[1]}
		c := ctx.NewChild()
		c.Variables = map[string]cty.Value{}
		if a := b.Body.Attributes["input"]; a != nil {
			c.Variables["self"] = cty.ObjectVal(map[string]cty.Value{"input": eval(a.Expr, ctx)})
		}
		fromCty(t, eval(b.Body.Attributes["triggers_replace"].Expr, ctx), cty.String, &r.trigger)
		for _, p := range b.Body.Blocks {
			if p.Type != "provisioner" || p.Labels[0] != "local-exec" {
				continue
			}
			var s stackStep
			fromCty(t, eval(p.Body.Attributes["interpreter"].Expr, c), cty.List(cty.String), &s.argv)
			var cmd string
			fromCty(t, eval(p.Body.Attributes["command"].Expr, c), cty.String, &cmd)
			s.argv = append(s.argv, cmd)
			if a := p.Body.Attributes["environment"]; a != nil {
				fromCty(t, eval(a.Expr, c), cty.Map(cty.String), &s.env)
			}
			if w := p.Body.Attributes["when"]; w != nil && hcl.ExprAsKeyword(w.Expr) == "destroy" {
				r.destroy = append(r.destroy, s)
			} else {
				r.create = append(r.create, s)
			}
		}
		out = append(out, r)
	}
	return out
}

// fromCty converts v to typ as OpenTofu does for an argument of that type
// (a tuple to a list, an object to a map) and then into the Go value out.
func fromCty(t *testing.T, v cty.Value, typ cty.Type, out any) {
	t.Helper()
	c, err := convert.Convert(v, typ)
	if err == nil {
		err = gocty.FromCtyValue(c, out)
	}
	if err != nil {
		t.Fatalf("%#v as %s: %v", v, typ.FriendlyName(), err)
	}
}

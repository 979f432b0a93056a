package tfschema

import (
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Built-in functions whose result type is known whatever their arguments.
var (
	stringFuncs = []string{"format", "formatdate", "join", "lower", "upper", "title", "replace", "trimspace", "chomp",
		"indent", "substr", "base64encode", "base64decode", "base64gzip", "jsonencode", "yamlencode", "templatefile",
		"file", "filebase64", "filesha256", "filemd5", "sha256", "sha1", "md5", "uuid", "timestamp", "abspath",
		"basename", "dirname", "pathexpand", "cidrhost", "cidrsubnet", "tostring"}
	numberFuncs = []string{"length", "abs", "ceil", "floor", "max", "min", "parseint", "pow", "sum", "tonumber"}
	boolFuncs   = []string{"fileexists", "can", "contains", "alltrue", "anytrue", "startswith", "endswith", "tobool"}
)

// checkType reports a value at e that cannot become the attribute type
// want. A constant is converted as tofu would (so "12" is a number and 12
// a string); for any other expression the type it is known to have must
// have a conversion to want.
func (m *module) checkType(e hclsyntax.Expression, want cty.Type, at string, rng hcl.Range) {
	if want == cty.DynamicPseudoType {
		return
	}
	if v, diags := e.Value(nil); !diags.HasErrors() && v.IsWhollyKnown() {
		if v.IsNull() {
			return
		}
		if _, err := convert.Convert(v, want); err != nil {
			m.problem(rng, at, "%s is required, but the value is a %s: %v", want.FriendlyName(), v.Type().FriendlyName(), err)
		}
		return
	}
	got := m.exprType(e, 0)
	if !got.Equals(want) && convert.GetConversionUnsafe(got, want) == nil {
		m.problem(rng, at, "%s is required, but the expression is a %s", want.FriendlyName(), got.FriendlyName())
	}
}

// exprType is the type e is known to have, or cty.DynamicPseudoType.
func (m *module) exprType(e hclsyntax.Expression, depth int) cty.Type {
	if depth > 8 {
		return cty.DynamicPseudoType
	}
	switch e := e.(type) {
	case *hclsyntax.LiteralValueExpr:
		return e.Val.Type()
	case *hclsyntax.TemplateExpr:
		return cty.String
	case *hclsyntax.TemplateWrapExpr:
		return m.exprType(e.Wrapped, depth+1)
	case *hclsyntax.ParenthesesExpr:
		return m.exprType(e.Expression, depth+1)
	case *hclsyntax.TupleConsExpr:
		ts := make([]cty.Type, len(e.Exprs))
		for i, x := range e.Exprs {
			ts[i] = m.exprType(x, depth+1)
		}
		return cty.Tuple(ts)
	case *hclsyntax.ObjectConsExpr:
		attrs := make(map[string]cty.Type, len(e.Items))
		for _, it := range e.Items {
			k, diags := it.KeyExpr.Value(nil)
			if diags.HasErrors() || !k.IsKnown() || k.IsNull() || k.Type() != cty.String {
				return cty.DynamicPseudoType
			}
			attrs[k.AsString()] = m.exprType(it.ValueExpr, depth+1)
		}
		return cty.Object(attrs)
	case *hclsyntax.ConditionalExpr:
		a, b := m.exprType(e.TrueResult, depth+1), m.exprType(e.FalseResult, depth+1)
		if a.Equals(b) {
			return a
		}
	case *hclsyntax.FunctionCallExpr:
		switch {
		case slices.Contains(stringFuncs, e.Name):
			return cty.String
		case slices.Contains(numberFuncs, e.Name):
			return cty.Number
		case slices.Contains(boolFuncs, e.Name):
			return cty.Bool
		}
	case *hclsyntax.ScopeTraversalExpr:
		return m.traversalType(e.Traversal, depth)
	}
	return cty.DynamicPseudoType
}

// traversalType is the type of a reference: a variable's type constraint,
// a local's expression, or a resource attribute's schema type.
func (m *module) traversalType(t hcl.Traversal, depth int) cty.Type {
	step := func(i int) string {
		if i < len(t) {
			if a, ok := t[i].(hcl.TraverseAttr); ok {
				return a.Name
			}
		}
		return ""
	}
	switch root := t.RootName(); {
	case len(t) == 2 && root == "var":
		if ty, ok := m.variables[step(1)]; ok {
			return ty
		}
	case len(t) == 2 && root == "local":
		if e, ok := m.locals[step(1)]; ok {
			return m.exprType(e, depth+1)
		}
	case len(t) == 2 && (root == "path" || root == "terraform"):
		return cty.String
	case len(t) == 2 && root == "count" && step(1) == "index":
		return cty.Number
	case len(t) == 2 && root == "each" && step(1) == "key":
		return cty.String
	default:
		d, rest := m.resolve(t)
		if d == nil || d.schema == nil {
			break
		}
		if d.multiple && len(rest) > 0 {
			if _, ok := rest[0].(hcl.TraverseIndex); ok {
				rest = rest[1:]
			}
		}
		if len(rest) == 1 {
			if a, ok := rest[0].(hcl.TraverseAttr); ok {
				if attr, ok := d.schema.Attributes[a.Name]; ok {
					return attr.Type
				}
			}
		}
	}
	return cty.DynamicPseudoType
}

// resolve finds the resource or data source a reference names and the
// steps after its name; d is nil when t names none.
func (m *module) resolve(t hcl.Traversal) (d *declared, rest hcl.Traversal) {
	n := 2
	if t.RootName() == "data" {
		n = 3
	}
	if len(t) < n {
		return nil, nil
	}
	key := t.RootName()
	for _, s := range t[1:n] {
		a, ok := s.(hcl.TraverseAttr)
		if !ok {
			return nil, nil
		}
		key += "." + a.Name
	}
	return m.resources[key], t[n:]
}

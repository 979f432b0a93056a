package tfschema

import (
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// skipRefs lists, per block type, arguments whose expressions are not
// references: provider addresses and keywords.
var skipRefs = map[string][]string{
	"resource":    {"provider"},
	"data":        {"provider"},
	"lifecycle":   {"ignore_changes"},
	"provisioner": {"when", "on_failure"},
	"variable":    {"type"},
}

// noRefs lists the top-level blocks whose references are not checked:
// their contents are addresses rather than expressions, or they are module
// calls, or (check) they declare scoped data sources of their own.
var noRefs = []string{"terraform", "moved", "import", "removed", "module", "check"}

// refsInBlock checks every reference in b: variables and locals are
// declared, resources and data sources are declared, indexed exactly when
// they have count or for_each, and the attribute read exists in their
// schema. scope holds the extra names in scope (dynamic iterators, self).
func (m *module) refsInBlock(b *hclsyntax.Block, where string, scope []string) {
	if slices.Contains(noRefs, b.Type) {
		return
	}
	for _, name := range sortedKeys(b.Body.Attributes) {
		if slices.Contains(skipRefs[b.Type], name) {
			continue
		}
		for _, t := range b.Body.Attributes[name].Expr.Variables() {
			m.checkRef(t, where+"."+name, scope)
		}
	}
	for _, c := range b.Body.Blocks {
		inner := scope
		switch c.Type {
		case "provisioner", "connection":
			inner = append(slices.Clip(scope), "self")
		case "dynamic":
			if len(c.Labels) == 1 {
				m.refsInDynamic(c, where, scope)
				continue
			}
		}
		m.refsInBlock(c, where+"."+c.Type, inner)
	}
}

func (m *module) refsInDynamic(c *hclsyntax.Block, where string, scope []string) {
	iter := c.Labels[0]
	where += "." + iter + "(dynamic)"
	if a, ok := c.Body.Attributes["iterator"]; ok {
		if t, diags := hcl.AbsTraversalForExpr(a.Expr); !diags.HasErrors() && len(t) == 1 {
			iter = t.RootName()
		}
	}
	inner := append(slices.Clip(scope), iter)
	// for_each is read in the enclosing scope, labels once per element.
	for name, sc := range map[string][]string{"for_each": scope, "labels": inner} {
		if a, ok := c.Body.Attributes[name]; ok {
			for _, t := range a.Expr.Variables() {
				m.checkRef(t, where+"."+name, sc)
			}
		}
	}
	for _, cc := range c.Body.Blocks {
		m.refsInBlock(cc, where, inner)
	}
}

func (m *module) checkRef(t hcl.Traversal, where string, scope []string) {
	rng := t.SourceRange()
	root := t.RootName()
	name := ""
	if len(t) > 1 {
		if a, ok := t[1].(hcl.TraverseAttr); ok {
			name = a.Name
		}
	}
	switch {
	case root == "var":
		if _, ok := m.variables[name]; !ok {
			m.problem(rng, where, "reference to undeclared variable var.%s", name)
		}
		return
	case root == "local":
		if _, ok := m.locals[name]; !ok {
			m.problem(rng, where, "reference to undeclared local value local.%s", name)
		}
		return
	case slices.Contains([]string{"path", "terraform", "count", "each", "module"}, root), slices.Contains(scope, root):
		return
	}
	d, rest := m.resolve(t)
	what := root + "." + name
	if root == "data" && len(t) > 2 {
		if a, ok := t[2].(hcl.TraverseAttr); ok {
			what += "." + a.Name
		}
	}
	if d == nil {
		m.problem(rng, where, "reference to %s, which the module does not declare", what)
		return
	}
	if len(rest) == 0 {
		return
	}
	switch rest[0].(type) {
	case hcl.TraverseIndex:
		if !d.multiple {
			m.problem(rng, where, "%s has neither count nor for_each, so it takes no index", what)
			return
		}
		rest = rest[1:]
	case hcl.TraverseAttr:
		if d.multiple {
			m.problem(rng, where, "%s has count or for_each: index it before reading an attribute", what)
			return
		}
	}
	if d.schema == nil || len(rest) == 0 {
		return
	}
	a, ok := rest[0].(hcl.TraverseAttr)
	if !ok {
		return
	}
	_, isAttr := d.schema.Attributes[a.Name]
	_, isBlock := d.schema.BlockTypes[a.Name]
	if !isAttr && !isBlock {
		typ := strings.SplitN(what, ".", 3)
		m.problem(rng, where, "%s has no attribute %q (not in the schema of %s)%s", what, a.Name, typ[len(typ)-2], suggest(a.Name, d.schema.names()))
	}
}

package tfschema

import (
	"fmt"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// meta lists what a block takes besides its schema's arguments and blocks.
type meta struct {
	attrs  []string
	blocks []string
	data   bool // a data source: its lifecycle takes only conditions
}

var (
	resourceMeta    = &meta{attrs: []string{"count", "for_each", "depends_on", "provider"}, blocks: []string{"lifecycle", "provisioner", "connection"}}
	dataMeta        = &meta{attrs: []string{"count", "for_each", "depends_on", "provider"}, blocks: []string{"lifecycle"}, data: true}
	providerMeta    = &meta{attrs: []string{"alias", "version"}}
	provisionerMeta = &meta{blocks: []string{"connection"}}
)

func (nb *NestedBlock) describe() string {
	s := "nesting " + nb.NestingMode
	if nb.MaxItems > 0 {
		s += fmt.Sprintf(", at most %d", nb.MaxItems)
	}
	return s
}

func (s *Block) names() []string {
	out := make([]string, 0, len(s.Attributes)+len(s.BlockTypes))
	for n := range s.Attributes {
		out = append(out, n)
	}
	for n := range s.BlockTypes {
		out = append(out, n)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// checkBody checks body against the block schema s; mt names the
// meta-arguments it also takes (nil for a nested block), hdr is the range
// of the block's header, where problems about missing parts point.
func (m *module) checkBody(body *hclsyntax.Body, s *Block, where string, mt *meta, hdr hcl.Range) {
	for _, name := range sortedKeys(body.Attributes) {
		a := body.Attributes[name]
		at := where + "." + name
		if mt != nil && slices.Contains(mt.attrs, name) {
			m.checkMetaArgument(a, at)
			continue
		}
		if attr, ok := s.Attributes[name]; ok {
			if attr.ComputedOnly() {
				m.problem(a.NameRange, at, "%s is computed by the provider (computed, not optional) and cannot be set", name)
				continue
			}
			if attr.Deprecated {
				m.problem(a.NameRange, at, "%s is deprecated in the provider's schema", name)
			}
			m.checkType(a.Expr, attr.Type, at, a.NameRange)
			continue
		}
		if nb, ok := s.BlockTypes[name]; ok {
			m.problem(a.NameRange, at, "%s is a nested block (%s), not an argument: write %s { ... }", name, nb.describe(), name)
			continue
		}
		m.problem(a.NameRange, at, "unsupported argument %q%s", name, suggest(name, s.names()))
	}

	found := map[string][]*hclsyntax.Block{}
	dynamic := map[string]bool{}
	for _, b := range body.Blocks {
		at := where + "." + b.Type
		switch {
		case mt != nil && slices.Contains(mt.blocks, b.Type):
			m.checkMetaBlock(b, s, at, mt)
			continue
		case b.Type == "dynamic":
			if name := m.checkDynamic(b, s, where); name != "" {
				dynamic[name] = true
			}
			continue
		}
		nb, ok := s.BlockTypes[b.Type]
		if !ok {
			if attr, isAttr := s.Attributes[b.Type]; isAttr {
				m.problem(b.TypeRange, at, "%s is an argument of type %s, not a nested block: write %s = ...", b.Type, attr.Type.FriendlyName(), b.Type)
			} else {
				m.problem(b.TypeRange, at, "unsupported block type %q%s", b.Type, suggest(b.Type, s.names()))
			}
			continue
		}
		found[b.Type] = append(found[b.Type], b)
		m.checkLabels(b, nb, at)
		m.checkBody(b.Body, &nb.Block, at, nil, b.TypeRange)
	}

	for _, name := range sortedKeys(s.Attributes) {
		if !s.Attributes[name].Required {
			continue
		}
		a, ok := body.Attributes[name]
		switch {
		case !ok:
			m.problem(hdr, where, "missing required argument %q", name)
		case isNull(a.Expr):
			m.problem(a.NameRange, where+"."+name, "required argument %q is null", name)
		}
	}
	for _, name := range sortedKeys(s.BlockTypes) {
		nb, bs := s.BlockTypes[name], found[name]
		maxN := nb.MaxItems
		if nb.NestingMode == NestingSingle || nb.NestingMode == NestingGroup {
			maxN = 1
		}
		if maxN > 0 && len(bs) > maxN {
			m.problem(bs[maxN].TypeRange, where+"."+name, "%d %s blocks, but at most %d allowed (%s)", len(bs), name, maxN, nb.describe())
		}
		if !dynamic[name] && len(bs) < nb.MinItems {
			m.problem(hdr, where, "missing required block %q: at least %d needed, %d found", name, nb.MinItems, len(bs))
		}
		if nb.NestingMode == NestingMap {
			m.checkKeys(bs, where+"."+name)
		}
	}
}

// checkKeys reports a key used twice among map-nested blocks.
func (m *module) checkKeys(bs []*hclsyntax.Block, at string) {
	seen := map[string]bool{}
	for _, b := range bs {
		if len(b.Labels) != 1 {
			continue
		}
		if seen[b.Labels[0]] {
			m.problem(b.LabelRanges[0], at, "key %q used by two %s blocks", b.Labels[0], b.Type)
		}
		seen[b.Labels[0]] = true
	}
}

// checkLabels checks that a map-nested block has one label (its key) and
// that blocks of other modes have none.
func (m *module) checkLabels(b *hclsyntax.Block, nb *NestedBlock, at string) {
	want := 0
	if nb.NestingMode == NestingMap {
		want = 1
	}
	if len(b.Labels) != want {
		m.problem(b.TypeRange, at, "a %s block (%s) takes %d labels, found %d", b.Type, nb.describe(), want, len(b.Labels))
	}
}

func isNull(e hclsyntax.Expression) bool {
	v, diags := e.Value(nil)
	return !diags.HasErrors() && v.IsNull()
}

// checkDynamic checks a dynamic block and returns the block type it makes,
// or "" when that type is not in s.
func (m *module) checkDynamic(b *hclsyntax.Block, s *Block, where string) string {
	if len(b.Labels) != 1 {
		m.problem(b.TypeRange, where+".dynamic", "a dynamic block takes one label, the block type it makes")
		return ""
	}
	name := b.Labels[0]
	at := where + "." + name + "(dynamic)"
	nb, ok := s.BlockTypes[name]
	if !ok {
		if attr, isAttr := s.Attributes[name]; isAttr {
			m.problem(b.LabelRanges[0], at, "%s is an argument of type %s, not a nested block, so no dynamic block can make it", name, attr.Type.FriendlyName())
		} else {
			m.problem(b.LabelRanges[0], at, "unsupported block type %q%s", name, suggest(name, s.names()))
		}
		return ""
	}
	for _, an := range sortedKeys(b.Body.Attributes) {
		switch an {
		case "for_each", "iterator":
		case "labels":
			if nb.NestingMode != NestingMap {
				m.problem(b.Body.Attributes[an].NameRange, at, "labels given, but %s blocks take none (%s)", name, nb.describe())
			}
		default:
			m.problem(b.Body.Attributes[an].NameRange, at, "unsupported argument %q in a dynamic block (for_each, iterator, labels, content)", an)
		}
	}
	if _, ok := b.Body.Attributes["for_each"]; !ok {
		m.problem(b.TypeRange, at, "a dynamic block needs for_each")
	}
	if _, ok := b.Body.Attributes["labels"]; !ok && nb.NestingMode == NestingMap {
		m.problem(b.TypeRange, at, "%s blocks are keyed (%s): the dynamic block needs labels", name, nb.describe())
	}
	contents := 0
	for _, c := range b.Body.Blocks {
		if c.Type != "content" {
			m.problem(c.TypeRange, at, "unsupported block %q in a dynamic block (only content)", c.Type)
			continue
		}
		contents++
		m.checkBody(c.Body, &nb.Block, at, nil, c.TypeRange)
	}
	if contents != 1 {
		m.problem(b.TypeRange, at, "a dynamic block needs exactly one content block, found %d", contents)
	}
	return name
}

// checkMetaBlock checks lifecycle and provisioner blocks; s is the schema
// of the resource they belong to. Connection blocks depend on the
// connection type and are not checked.
func (m *module) checkMetaBlock(b *hclsyntax.Block, s *Block, at string, mt *meta) {
	switch b.Type {
	case "lifecycle":
		m.checkBody(b.Body, lifecycleSchema(mt.data), at, nil, b.TypeRange)
		if a, ok := b.Body.Attributes["ignore_changes"]; ok {
			m.checkIgnoreChanges(a, s, at)
		}
	case "provisioner":
		if len(b.Labels) != 1 {
			m.problem(b.TypeRange, at, "a provisioner block takes one label, its type")
			return
		}
		ps := provisionerSchemas()
		p, ok := ps[b.Labels[0]]
		if !ok {
			m.problem(b.LabelRanges[0], at, "unknown provisioner %q%s", b.Labels[0], suggest(b.Labels[0], sortedKeys(ps)))
			return
		}
		at += "." + b.Labels[0]
		m.checkBody(b.Body, p, at, provisionerMeta, b.TypeRange)
		m.checkKeyword(b.Body, "when", at, "create", "destroy")
		m.checkKeyword(b.Body, "on_failure", at, "continue", "fail")
	}
}

// checkMetaArgument checks the values of count, depends_on and alias;
// for_each takes a map or a set, which no single type says.
func (m *module) checkMetaArgument(a *hclsyntax.Attribute, at string) {
	switch a.Name {
	case "count":
		m.checkType(a.Expr, cty.Number, at, a.NameRange)
	case "alias":
		if v, diags := a.Expr.Value(nil); diags.HasErrors() || v.Type() != cty.String {
			m.problem(a.NameRange, at, "alias takes a constant string")
		}
	case "depends_on":
		exprs, diags := hcl.ExprList(a.Expr)
		if diags.HasErrors() {
			m.problem(a.NameRange, at, "depends_on takes a list of references to resources, data sources or modules")
			return
		}
		for _, e := range exprs {
			t, diags := hcl.AbsTraversalForExpr(e)
			if diags.HasErrors() {
				m.problem(e.Range(), at, "depends_on takes references, not expressions")
				continue
			}
			if d, rest := m.resolve(t); d != nil && len(rest) > 0 {
				if _, ok := rest[0].(hcl.TraverseAttr); ok {
					m.problem(e.Range(), at, "depends_on names a whole resource or data source, not one of its attributes")
				}
			}
		}
	}
}

func (m *module) checkKeyword(body *hclsyntax.Body, name, at string, allowed ...string) {
	a, ok := body.Attributes[name]
	if !ok {
		return
	}
	t, diags := hcl.AbsTraversalForExpr(a.Expr)
	if diags.HasErrors() || len(t) != 1 || !slices.Contains(allowed, t.RootName()) {
		m.problem(a.NameRange, at+"."+name, "%s takes one of the keywords %v", name, allowed)
	}
}

// checkIgnoreChanges checks that ignore_changes is `all` or a list of
// names of the resource's arguments and blocks.
func (m *module) checkIgnoreChanges(a *hclsyntax.Attribute, s *Block, at string) {
	at += ".ignore_changes"
	if t, diags := hcl.AbsTraversalForExpr(a.Expr); !diags.HasErrors() && len(t) == 1 && t.RootName() == "all" {
		return
	}
	exprs, diags := hcl.ExprList(a.Expr)
	if diags.HasErrors() {
		m.problem(a.NameRange, at, "ignore_changes takes `all` or a list of argument names")
		return
	}
	for _, e := range exprs {
		t, diags := hcl.RelTraversalForExpr(e)
		if diags.HasErrors() || len(t) == 0 {
			m.problem(e.Range(), at, "ignore_changes takes argument names, not expressions")
			continue
		}
		root, ok := t[0].(hcl.TraverseAttr)
		if !ok {
			m.problem(e.Range(), at, "ignore_changes takes argument names")
			continue
		}
		_, isAttr := s.Attributes[root.Name]
		_, isBlock := s.BlockTypes[root.Name]
		if !isAttr && !isBlock {
			m.problem(e.Range(), at, "ignore_changes names %q, which the resource does not have%s", root.Name, suggest(root.Name, s.names()))
		}
	}
}

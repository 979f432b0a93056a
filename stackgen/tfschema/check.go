package tfschema

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Checker checks the .tf files of one module against provider schemas.
type Checker struct {
	// Providers maps a provider's local name, the prefix of its type
	// names ("oci" for oci_core_volume), to its schema. The built-in
	// provider of terraform_data is always there.
	Providers map[string]*Provider
	// Unchecked lists resource and data source types of providers that
	// have no schema here and are accepted without a check. Any other type
	// without a schema is a problem.
	Unchecked []string
}

// Problem is one place where the configuration does not fit the schema.
type Problem struct {
	Range hcl.Range
	Where string // e.g. resource.oci_core_volume.v.source_details
	Msg   string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d,%d: %s: %s", p.Range.Filename, p.Range.Start.Line, p.Range.Start.Column, p.Where, p.Msg)
}

// topLevel lists the blocks a module may hold.
var topLevel = []string{"terraform", "provider", "variable", "output", "locals", "module",
	"resource", "data", "moved", "import", "check", "removed"}

// Check parses files (name to content; names not ending in .tf are
// skipped) as one module and returns every problem, ordered by position.
// A file that is not valid HCL is an error.
func (c *Checker) Check(files map[string][]byte) ([]Problem, error) {
	m := &module{c: c, resources: map[string]*declared{}, variables: map[string]cty.Type{},
		locals: map[string]hclsyntax.Expression{}, sources: map[string]string{}, used: map[string]hcl.Range{}}
	names := make([]string, 0, len(files))
	for name := range files {
		if strings.HasSuffix(name, ".tf") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	p := hclparse.NewParser()
	var bodies []*hclsyntax.Body
	for _, name := range names {
		f, diags := p.ParseHCL(files[name], name)
		if diags.HasErrors() {
			return nil, fmt.Errorf("tfschema: %w", diags)
		}
		bodies = append(bodies, f.Body.(*hclsyntax.Body))
	}
	for _, b := range bodies {
		m.declare(b)
	}
	for _, b := range bodies {
		m.checkFile(b)
	}
	m.checkSources()
	slices.SortFunc(m.problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Range.Filename, b.Range.Filename),
			cmp.Compare(a.Range.Start.Byte, b.Range.Start.Byte), cmp.Compare(a.Msg, b.Msg))
	})
	return m.problems, nil
}

// declared is a resource or data source of the module.
type declared struct {
	schema   *Block // nil when its provider has no schema here
	multiple bool   // it has count or for_each, so references need a key
}

type module struct {
	c         *Checker
	resources map[string]*declared // "TYPE.NAME", "data.TYPE.NAME"
	variables map[string]cty.Type
	locals    map[string]hclsyntax.Expression
	sources   map[string]string    // required_providers: local name to source
	used      map[string]hcl.Range // local names of providers with a schema, where first used
	problems  []Problem
}

func (m *module) problem(rng hcl.Range, where, format string, args ...any) {
	m.problems = append(m.problems, Problem{Range: rng, Where: where, Msg: fmt.Sprintf(format, args...)})
}

// provider returns the schema of a resource's provider: the local name in
// its provider meta-argument, or else the prefix of its type name.
func (m *module) provider(typ string, body *hclsyntax.Body) (local string, p *Provider) {
	local, _, _ = strings.Cut(typ, "_")
	if a, ok := body.Attributes["provider"]; ok {
		if t, diags := hcl.AbsTraversalForExpr(a.Expr); !diags.HasErrors() {
			local = t.RootName()
		}
	}
	if local == "terraform" {
		return local, builtinProvider()
	}
	return local, m.c.Providers[local]
}

func (m *module) schemaOf(mode, typ string, body *hclsyntax.Body) *Block {
	_, p := m.provider(typ, body)
	if p == nil {
		return nil
	}
	if mode == "data" {
		return p.DataSources[typ]
	}
	return p.Resources[typ]
}

// declare records the module's resources, data sources, variables and
// locals, which references and types are checked against.
func (m *module) declare(file *hclsyntax.Body) {
	for _, b := range file.Blocks {
		switch {
		case (b.Type == "resource" || b.Type == "data") && len(b.Labels) == 2:
			key := b.Labels[0] + "." + b.Labels[1]
			if b.Type == "data" {
				key = "data." + key
			}
			_, count := b.Body.Attributes["count"]
			_, each := b.Body.Attributes["for_each"]
			m.resources[key] = &declared{schema: m.schemaOf(b.Type, b.Labels[0], b.Body), multiple: count || each}
		case b.Type == "variable" && len(b.Labels) == 1:
			m.variables[b.Labels[0]] = variableType(b.Body)
		case b.Type == "locals":
			for name, a := range b.Body.Attributes {
				m.locals[name] = a.Expr
			}
		case b.Type == "terraform":
			m.declareSources(b.Body)
		}
	}
}

// variableType is a variable's type constraint, or its default's type, or
// any type.
func variableType(b *hclsyntax.Body) cty.Type {
	if a, ok := b.Attributes["type"]; ok {
		if t, diags := typeexpr.TypeConstraint(a.Expr); !diags.HasErrors() {
			return t
		}
	}
	if a, ok := b.Attributes["default"]; ok {
		if v, diags := a.Expr.Value(nil); !diags.HasErrors() && !v.IsNull() {
			return v.Type()
		}
	}
	return cty.DynamicPseudoType
}

func (m *module) checkFile(file *hclsyntax.Body) {
	for name, a := range file.Attributes {
		m.problem(a.NameRange, name, "an argument is not allowed at the top level of a module")
	}
	for _, b := range file.Blocks {
		where := strings.Join(append([]string{b.Type}, b.Labels...), ".")
		switch b.Type {
		case "resource", "data":
			m.checkResource(b, where)
		case "provider":
			m.checkProvider(b, where)
		default:
			if !slices.Contains(topLevel, b.Type) {
				m.problem(b.TypeRange, where, "unknown top-level block %q", b.Type)
				continue
			}
		}
		m.refsInBlock(b, where, nil)
	}
}

func (m *module) checkResource(b *hclsyntax.Block, where string) {
	if len(b.Labels) != 2 {
		m.problem(b.TypeRange, where, "a %s block needs two labels, a type and a name", b.Type)
		return
	}
	typ := b.Labels[0]
	data := b.Type == "data"
	local, p := m.provider(typ, b.Body)
	kind := "resource type"
	if data {
		kind = "data source"
	}
	if p == nil {
		if !slices.Contains(m.c.Unchecked, typ) {
			m.problem(b.LabelRanges[0], where, "%s %s: provider %q has no schema here", kind, typ, local)
		}
		return
	}
	m.use(local, b.LabelRanges[0])
	s := p.Resources[typ]
	if data {
		s = p.DataSources[typ]
	}
	if s == nil {
		m.problem(b.LabelRanges[0], where, "%s %s does not exist in provider %s%s", kind, typ, p.Source, suggest(typ, keys(p.Resources, p.DataSources, data)))
		return
	}
	_, count := b.Body.Attributes["count"]
	_, each := b.Body.Attributes["for_each"]
	if count && each {
		m.problem(b.Body.Attributes["for_each"].NameRange, where, "count and for_each cannot both be set")
	}
	meta := resourceMeta
	if data {
		meta = dataMeta
	}
	m.checkBody(b.Body, s, where, meta, b.TypeRange)
}

func (m *module) checkProvider(b *hclsyntax.Block, where string) {
	if len(b.Labels) != 1 {
		m.problem(b.TypeRange, where, "a provider block needs one label, the provider's local name")
		return
	}
	p, ok := m.c.Providers[b.Labels[0]]
	if !ok {
		if b.Labels[0] != "terraform" {
			m.problem(b.LabelRanges[0], where, "provider %q has no schema here", b.Labels[0])
		}
		return
	}
	m.use(b.Labels[0], b.LabelRanges[0])
	m.checkBody(b.Body, p.Config, where, providerMeta, b.TypeRange)
}

func (m *module) use(local string, rng hcl.Range) {
	if _, ok := m.used[local]; !ok && local != "terraform" {
		m.used[local] = rng
	}
}

// declareSources records the sources in required_providers; the short
// form `name = "version"` leaves the source at its default.
func (m *module) declareSources(tf *hclsyntax.Body) {
	for _, rp := range tf.Blocks {
		if rp.Type != "required_providers" {
			continue
		}
		for name, a := range rp.Body.Attributes {
			v, diags := a.Expr.Value(nil)
			if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() || !v.Type().IsObjectType() || !v.Type().HasAttribute("source") {
				continue
			}
			if src := v.GetAttr("source"); src.Type() == cty.String && !src.IsNull() {
				m.sources[name] = src.AsString()
			}
		}
	}
}

// checkSources checks that each provider the module uses with a schema
// is required from the source the schema was taken from: without a
// required_providers entry tofu looks for hashicorp/NAME.
func (m *module) checkSources() {
	for _, local := range sortedKeys(m.used) {
		p := m.c.Providers[local]
		src, ok := m.sources[local]
		if !ok {
			src = "hashicorp/" + local
		}
		if !sameProvider(src, p.Source) {
			how := "its required_providers entry names"
			if !ok {
				how = "with no required_providers entry tofu installs"
			}
			m.problem(m.used[local], "terraform.required_providers."+local,
				"provider %q has the schema of %s, but %s %q", local, p.Source, how, src)
		}
	}
}

// sameProvider compares provider source addresses by namespace and type;
// the registry host does not change the provider.
func sameProvider(a, b string) bool {
	tail := func(s string) string {
		parts := strings.Split(strings.ToLower(s), "/")
		if len(parts) > 2 {
			parts = parts[len(parts)-2:]
		}
		return strings.Join(parts, "/")
	}
	return tail(a) == tail(b)
}

func keys(res, data map[string]*Block, isData bool) []string {
	src := res
	if isData {
		src = data
	}
	out := make([]string, 0, len(src))
	for k := range src {
		out = append(out, k)
	}
	return out
}

// suggest returns `; did you mean "x"?` for the closest of names, when it
// is within an edit distance of a third of name's length (at least 2), or
// "".
func suggest(name string, names []string) string {
	best, bestD := "", max(2, len(name)/3)+1
	slices.Sort(names)
	for _, n := range names {
		if d := editDistance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, sub)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

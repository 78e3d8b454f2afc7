package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// This file turns a YAML node tree into a Config. yaml.v3's own decoder is
// not used because it cannot report unknown fields and type errors by field
// path, does not interpolate, and stops at the first error; walking the
// nodes ourselves gives every problem its path and line, and records where
// each field was written for validation.

const (
	nullTag  = "!!null"
	strTag   = "!!str"
	mergeTag = "!!merge"
)

// maxValues bounds the values decoded from one file, aliases expanded, so
// that a small file of nested aliases cannot make decoding take long. A
// config with thousands of deployments has tens of thousands of values.
const maxValues = 1 << 17

var (
	durationType = reflect.TypeFor[time.Duration]()
	secretType   = reflect.TypeFor[Secret]()
)

// positions is what decoding learned about the file, keyed by field path
// (deployments[2].limits.tpm). Validation uses it to point at lines.
type positions struct {
	// lines holds the line of each field's key and each list item.
	lines map[string]int
	// given holds fields written with a non-null value; defaults apply to
	// the others.
	given map[string]bool
	// source holds the text as written of values that used the
	// environment; messages show it instead of the value.
	source map[string]string
	// bad holds fields that already have a problem, so validation does not
	// add a second one about the zero value left behind.
	bad map[string]bool
}

func newPositions() *positions {
	return &positions{
		lines:  map[string]int{},
		given:  map[string]bool{},
		source: map[string]string{},
		bad:    map[string]bool{},
	}
}

// line returns the line of path, or of its nearest ancestor that has one.
func (p *positions) line(path string) int {
	for ; path != ""; path = parent(path) {
		if l, ok := p.lines[path]; ok {
			return l
		}
	}
	return 0
}

// isBad reports whether path or one of its ancestors (up to the root, "")
// has a problem.
func (p *positions) isBad(path string) bool {
	for ; path != ""; path = parent(path) {
		if p.bad[path] {
			return true
		}
	}
	return p.bad[""]
}

// parent strips the last .field or [index] from path.
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// join appends a field name to a path.
func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// parseYAML parses data into a node tree and returns the root value, nil
// for an empty file.
func parseYAML(data []byte, file string) (root *yaml.Node, probs Problems) {
	defer func() {
		// yaml.v3 reports errors by panicking internally and recovers
		// only its own; a config reload must not take the process down.
		if r := recover(); r != nil {
			root, probs = nil, Problems{{File: file, Message: fmt.Sprintf("yaml parser failed: %v", r)}}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, Problems{syntaxProblem(file, err)}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, Problems{{File: file, Line: next.Line, Message: "a second YAML document; want one per file"}}
	case !errors.Is(err, io.EOF):
		return nil, Problems{syntaxProblem(file, err)}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

var yamlLine = regexp.MustCompile(`(?s)^line (\d+): (.*)$`)

// syntaxProblem turns "yaml: line 3: could not find expected ':'" into a
// Problem at line 3.
func syntaxProblem(file string, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	p := Problem{File: file, Message: "yaml: " + msg}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Message = "yaml: " + m[2]
	}
	return p
}

// decoder walks nodes into Go values by their yaml tags.
type decoder struct {
	file   string
	lookup func(string) (string, bool)
	pos    *positions
	probs  Problems
	// done caches each scalar's interpolation: a node reached through
	// several aliases is expanded, and its problems reported, once.
	done map[*yaml.Node]expansion
	// limit is the most values to decode (maxValues); budget counts down
	// from it.
	limit, budget int
}

func newDecoder(file string, lookup func(string) (string, bool)) *decoder {
	return &decoder{
		file:   file,
		lookup: lookup,
		pos:    newPositions(),
		done:   map[*yaml.Node]expansion{},
		limit:  maxValues,
		budget: maxValues,
	}
}

func (d *decoder) problem(line int, path, format string, args ...any) {
	d.probs = append(d.probs, Problem{File: d.file, Line: line, Field: path, Message: fmt.Sprintf(format, args...)})
}

// spend takes one value from the budget and reports whether any was left.
func (d *decoder) spend(line int) bool {
	if d.budget <= 0 {
		return false
	}
	d.budget--
	if d.budget == 0 {
		d.problem(line, "", "more than %d values after expanding aliases", d.limit)
		return false
	}
	return true
}

// exhausted reports whether decoding stopped early.
func (d *decoder) exhausted() bool { return d.budget <= 0 }

// deref follows an alias to its anchored node.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// decode stores n in v. Null leaves v at its zero value. The recursion is
// bounded by the depth of the Go types, so alias cycles cannot loop.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	line := n.Line // an alias's own line, not its anchor's
	if !d.spend(line) {
		return
	}
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == nullTag {
		return
	}
	d.pos.given[path] = true
	d.value(n, line, v, path)
}

func (d *decoder) value(n *yaml.Node, line int, v reflect.Value, path string) {
	switch {
	case v.Type() == durationType:
		d.duration(n, line, v, path)
	case v.Kind() == reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		d.value(n, line, p.Elem(), path)
		v.Set(p)
	case v.Kind() == reflect.Interface:
		d.anyValue(n, line, v, path)
	case v.Kind() == reflect.Struct:
		d.structure(n, line, v, path)
	case v.Kind() == reflect.Map:
		d.dict(n, line, v, path)
	case v.Kind() == reflect.Slice:
		d.list(n, line, v, path)
	default:
		d.scalar(n, line, v, path)
	}
}

func (d *decoder) typeError(n *yaml.Node, line int, path string, t reflect.Type, quoted bool) {
	got := describe(n)
	if quoted && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 && !strings.Contains(n.Value, "${") {
		got += " in quotes"
	}
	d.problem(line, path, "want %s, got %s", want(t), got)
	d.pos.bad[path] = true // also marks the root, "", when the file is not a mapping
}

// describe names a node for a type error: scalars as written (so a value
// from the environment shows as "${VAR}"), collections by kind.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return quote(n.Value)
}

// want names what a Go type takes in YAML.
func want(t reflect.Type) string {
	switch {
	case t == durationType:
		return `a duration such as "30s"`
	case t.Kind() == reflect.Pointer:
		return want(t.Elem())
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a string"
}

// quote quotes s for a message, shortened if long.
func quote(s string) string {
	const max = 64
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max]) + "..."
	}
	return strconv.Quote(s)
}

// text interpolates a scalar. It returns false if the environment could
// not supply it; the problem is then already reported.
func (d *decoder) text(n *yaml.Node, path string, secret bool) (string, bool) {
	x, ok := d.done[n]
	if !ok {
		x = expand(n.Value, d.lookup, secret)
		d.done[n] = x
		for _, m := range x.problems {
			d.problem(n.Line, path, "%s", m)
		}
	}
	if len(x.problems) > 0 {
		d.pos.bad[path] = true
		return "", false
	}
	if x.env {
		d.pos.source[path] = n.Value
	}
	return x.value, true
}

func (d *decoder) duration(n *yaml.Node, line int, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.typeError(n, line, path, v.Type(), false)
		return
	}
	s, ok := d.text(n, path, false)
	if !ok {
		return
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		d.typeError(n, line, path, v.Type(), false)
		return
	}
	v.SetInt(int64(dur))
}

// scalar decodes strings, integers, numbers and booleans. Numbers and
// booleans must be written as such: "5" in quotes is a string, unless it
// came from the environment, where everything is a string.
func (d *decoder) scalar(n *yaml.Node, line int, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.typeError(n, line, path, v.Type(), false)
		return
	}
	s, ok := d.text(n, path, v.Type() == secretType)
	if !ok {
		return
	}
	if v.Kind() == reflect.String {
		v.SetString(s)
		return
	}
	typed := n.ShortTag() != strTag || strings.Contains(n.Value, "${")
	if !typed || !setScalar(v, s) {
		d.typeError(n, line, path, v.Type(), true)
	}
}

// setScalar parses s into a bool, integer or float v.
func setScalar(v reflect.Value, s string) bool {
	switch v.Kind() {
	case reflect.Bool:
		switch s {
		case "true", "True", "TRUE":
			v.SetBool(true)
		case "false", "False", "FALSE":
			v.SetBool(false)
		default:
			return false
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := parseInt(s, v.Type().Bits())
		if err != nil {
			return false
		}
		v.SetInt(i)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), v.Type().Bits())
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
		v.SetFloat(f)
	default:
		panic("config: no decoder for " + v.Type().String())
	}
	return true
}

// parseInt parses a YAML integer: decimal (a leading 0 does not make it
// octal), 0x hex, 0o octal or 0b binary, with optional _ separators.
func parseInt(s string, bits int) (int64, error) {
	s = strings.ReplaceAll(s, "_", "")
	digits := strings.TrimLeft(s, "+-")
	base := 10
	if len(digits) > 1 && digits[0] == '0' && strings.IndexByte("xXoObB", digits[1]) >= 0 {
		base = 0
	}
	return strconv.ParseInt(s, base, bits)
}

func (d *decoder) list(n *yaml.Node, line int, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.typeError(n, line, path, v.Type(), false)
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, e := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.pos.lines[p] = e.Line
		d.decode(e, s.Index(i), p)
	}
	v.Set(s)
}

func (d *decoder) dict(n *yaml.Node, line int, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.typeError(n, line, path, v.Type(), false)
		return
	}
	m := reflect.MakeMap(v.Type())
	seen := map[string]int{}
	for _, p := range d.pairs(n, path, map[*yaml.Node]bool{}) {
		name, ok := d.key(p, seen, path)
		if !ok {
			continue
		}
		fp := join(path, name)
		d.pos.lines[fp] = p.key.Line
		e := reflect.New(v.Type().Elem()).Elem()
		d.decode(p.value, e, fp)
		m.SetMapIndex(reflect.ValueOf(name).Convert(v.Type().Key()), e)
	}
	v.Set(m)
}

func (d *decoder) structure(n *yaml.Node, line int, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.typeError(n, line, path, v.Type(), false)
		return
	}
	fields := yamlFields(v.Type())
	seen := map[string]int{}
	var misspelt []string
	for _, p := range d.pairs(n, path, map[*yaml.Node]bool{}) {
		name, ok := d.key(p, seen, path)
		if !ok {
			continue
		}
		if path == "" && strings.HasPrefix(name, "x-") {
			continue // a place for anchors, as in Compose files
		}
		i, known := fields[name]
		if !known {
			s := suggest(name, fields)
			d.problem(p.key.Line, path, "unknown field %s%s", quote(name), didYouMean(s))
			if s != "" {
				misspelt = append(misspelt, join(path, s))
			}
			continue
		}
		fp := join(path, name)
		d.pos.lines[fp] = p.key.Line
		f := v.Field(i)
		f.SetZero() // a key overriding a merged one replaces it whole
		d.decode(p.value, f, fp)
	}
	// "api_kye: x" need not also report api_key as missing.
	for _, fp := range misspelt {
		if !d.pos.given[fp] {
			d.pos.bad[fp] = true
		}
	}
	if f := v.FieldByName("Line"); f.IsValid() && f.Kind() == reflect.Int {
		f.SetInt(int64(d.pos.lines[path]))
	}
}

// yamlFields maps the yaml keys of struct t to field indexes.
func yamlFields(t reflect.Type) map[string]int {
	fields := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		fields[name] = i
	}
	return fields
}

// suggest returns the known field closest to name, if one or two edits
// away, or "".
func suggest(name string, fields map[string]int) string {
	best, bestDist := "", 3
	for f := range fields {
		if dist := editDistance(name, f); dist < bestDist || dist == bestDist && f < best {
			best, bestDist = f, dist
		}
	}
	return best
}

func didYouMean(field string) string {
	if field == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", field)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// pair is one key: value of a mapping. own is false for pairs brought in
// by a merge key (<<), which the mapping's own keys override.
type pair struct {
	key, value *yaml.Node
	own        bool
}

// key returns the name of a pair's key, reporting non-scalar and repeated
// keys.
func (d *decoder) key(p pair, seen map[string]int, path string) (string, bool) {
	k := deref(p.key)
	if k.Kind != yaml.ScalarNode {
		d.problem(p.key.Line, path, "want a field name, got %s", describe(k))
		return "", false
	}
	if !p.own {
		return k.Value, true
	}
	if first, dup := seen[k.Value]; dup {
		d.problem(p.key.Line, join(path, k.Value), "repeated (first at line %d)", first)
		return "", false
	}
	seen[k.Value] = p.key.Line
	return k.Value, true
}

// pairs lists a mapping's pairs with merge keys expanded: merged pairs
// first, so that the mapping's own keys, decoded later, win. merging holds
// the mappings being merged, to catch a merge that includes itself.
func (d *decoder) pairs(n *yaml.Node, path string, merging map[*yaml.Node]bool) []pair {
	var merged, own []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == mergeTag {
			merged = append(merged, d.merge(v, path, merging)...)
			continue
		}
		own = append(own, pair{key: k, value: v, own: true})
	}
	return append(merged, own...)
}

// merge returns the pairs a merge key brings in: those of a mapping, or of
// a list of mappings where earlier ones win.
func (d *decoder) merge(v *yaml.Node, path string, merging map[*yaml.Node]bool) []pair {
	line := v.Line
	if !d.spend(line) {
		return nil
	}
	n := deref(v)
	switch n.Kind {
	case yaml.MappingNode:
		if merging[n] {
			d.problem(line, path, "merge (<<) of a mapping into itself")
			return nil
		}
		merging[n] = true
		defer delete(merging, n)
		ps := d.pairs(n, path, merging)
		for i := range ps {
			ps[i].own = false
		}
		return ps
	case yaml.SequenceNode:
		var ps []pair
		for i := len(n.Content) - 1; i >= 0; i-- {
			if e := deref(n.Content[i]); e.Kind != yaml.MappingNode {
				d.problem(n.Content[i].Line, path, "merge (<<) wants mappings, got %s", describe(e))
				continue
			}
			ps = append(ps, d.merge(n.Content[i], path, merging)...)
		}
		return ps
	}
	d.problem(line, path, "merge (<<) wants a mapping or a list of mappings, got %s", describe(n))
	return nil
}

// anyValue decodes free-form YAML (an inline JSON Schema) as maps, slices
// and scalars.
func (d *decoder) anyValue(n *yaml.Node, line int, v reflect.Value, path string) {
	var x any
	if err := n.Decode(&x); err != nil {
		d.problem(line, path, "%s: %v", path, err)
		return
	}
	if x != nil {
		v.Set(reflect.ValueOf(x))
	}
}

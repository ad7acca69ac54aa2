package manifest

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// decoder decodes a yaml.Node tree into the manifest's Go types strictly:
// unknown keys, duplicate keys, aliases, wrong kinds and bad scalars are
// problems, and decoding goes on after each one so that all are reported.
//
// It walks nodes against the struct types by reflection (yaml tags,
// including ",inline"), records where every written value sits in pos, and
// never follows an alias, so a hostile file cannot make it expand.
type decoder struct {
	l    *loader
	file string
	// recording is set while decoding defaults:; every node visited is
	// then recorded in l.origin. Later, when the same nodes are decoded as
	// part of an app, their problems are not reported again and their
	// positions keep their defaults.* path.
	recording bool
}

// where returns where n was written, and whether its problems were already
// reported while decoding defaults:.
func (d *decoder) where(n *yaml.Node, path string) (loc, bool) {
	if o, ok := d.l.origin[n]; ok && !d.recording {
		return o, true
	}
	return loc{file: d.file, line: n.Line, col: n.Column, path: path}, false
}

// visit records n at path: its origin while recording, its position if it
// holds a value.
func (d *decoder) visit(n *yaml.Node, path string) {
	if d.recording {
		d.l.origin[n] = loc{file: d.file, line: n.Line, col: n.Column, path: path}
	}
	if !isNull(n) {
		d.l.pos[path], _ = d.where(n, path)
	}
}

func (d *decoder) problem(n *yaml.Node, path, msg string) {
	l, seen := d.where(n, path)
	if seen {
		return
	}
	d.l.probs = append(d.l.probs, Problem{File: l.file, Line: l.line, Col: l.col, Path: l.path, Msg: msg})
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// scalarSetter is a mapping type that may also be written as one scalar,
// its main field (a route as its template alone).
type scalarSetter interface{ SetScalar(string) error }

// value decodes n into v, which is settable.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	d.visit(n, path)
	if n.Kind == yaml.AliasNode {
		d.problem(n, path, aliasMsg)
		return
	}
	if tag := n.ShortTag(); !strings.HasPrefix(tag, "!!") {
		d.problem(n, path, fmt.Sprintf("YAML tag %s is not supported", tag))
		return
	}
	if isNull(n) {
		// An explicit null unsets the key, including one set under defaults:.
		v.SetZero()
		return
	}
	if v.Kind() == reflect.Pointer {
		p := reflect.New(v.Type().Elem())
		d.value(n, p.Elem(), path)
		v.Set(p)
		return
	}
	if v.Addr().Type().Implements(unmarshalerType) {
		if err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			d.problem(n, path, err.Error())
		}
		return
	}
	if sc, ok := v.Addr().Interface().(scalarSetter); ok && n.Kind == yaml.ScalarNode {
		if err := sc.SetScalar(n.Value); err != nil {
			d.problem(n, path, err.Error())
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.mapping(n, v, path)
	case reflect.Slice:
		d.sequence(n, v, path)
	case reflect.Map:
		d.dict(n, v, path)
	default:
		d.scalar(n, v, path)
	}
}

// mapping decodes a mapping node into struct v.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.problem(n, path, fmt.Sprintf("expected a mapping, got a %s", kindName(n)))
		return
	}
	fields := fieldsOf(v.Type())
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		kp := path // a key that is not a string is reported on its mapping
		if k.Kind == yaml.ScalarNode {
			kp = keyPath(path, k.Value)
		}
		if d.recording {
			d.l.origin[k] = loc{file: d.file, line: k.Line, col: k.Column, path: kp}
		}
		if msg := keyProblem(k, seen); msg != "" {
			d.problem(k, kp, msg)
			continue
		}
		idx, ok := fields[k.Value]
		if !ok {
			d.problem(k, kp, unknownKey(k.Value, fieldNames(fields)))
			continue
		}
		d.value(val, v.FieldByIndex(idx), kp)
	}
}

// dict decodes a mapping node with keys of the user's choosing (HTTP
// header names) into map v, whose keys are strings.
func (d *decoder) dict(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.problem(n, path, fmt.Sprintf("expected a mapping, got a %s", kindName(n)))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		kp := path
		if k.Kind == yaml.ScalarNode {
			kp = keyPath(path, k.Value)
		}
		if msg := keyProblem(k, seen); msg != "" {
			d.problem(k, kp, msg)
			continue
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		d.value(val, elem, kp)
		m.SetMapIndex(reflect.ValueOf(k.Value), elem)
	}
	v.Set(m)
}

// sequence decodes a sequence node into slice v.
func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.problem(n, path, fmt.Sprintf("expected a list such as [a, b], got a %s", kindName(n)))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, c := range n.Content {
		d.value(c, s.Index(i), indexPath(path, i))
	}
	v.Set(s)
}

// scalar decodes a scalar node into a string, int or bool.
func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.problem(n, path, fmt.Sprintf("expected %s, got a %s", scalarName(v.Kind()), kindName(n)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(n.Value)
	case reflect.Int:
		i, err := strconv.ParseInt(n.Value, 10, 0)
		if err != nil {
			d.problem(n, path, fmt.Sprintf("%q is not an integer", n.Value))
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.problem(n, path, fmt.Sprintf("%q is not a number", n.Value))
			return
		}
		v.SetFloat(f)
	case reflect.Bool:
		b, ok := parseBool(n.Value)
		if !ok {
			d.problem(n, path, fmt.Sprintf("%q is not a boolean (use true or false)", n.Value))
			return
		}
		v.SetBool(b)
	default:
		panic(fmt.Sprintf("manifest: no decoder for %s at %s", v.Type(), path))
	}
}

func scalarName(k reflect.Kind) string {
	switch k {
	case reflect.Int:
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean"
	}
	return "a string"
}

// parseBool accepts YAML 1.2's booleans only: no yes/no/on/off.
func parseBool(s string) (bool, bool) {
	switch s {
	case "true", "True", "TRUE":
		return true, true
	case "false", "False", "FALSE":
		return false, true
	}
	return false, false
}

// fieldsOf maps the yaml keys of struct type t to field index paths,
// flattening ",inline" fields.
func fieldsOf(t reflect.Type) map[string][]int {
	if f, ok := fieldsCache.Load(t); ok {
		return f.(map[string][]int)
	}
	out := map[string][]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if opts == "inline" {
			for k, idx := range fieldsOf(f.Type) {
				out[k] = append([]int{i}, idx...)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = []int{i}
	}
	fieldsCache.Store(t, out)
	return out
}

// fieldsCache holds fieldsOf's answer per type: a manifest of many apps
// decodes the same few struct types once per app. Callers do not modify
// the maps.
var fieldsCache sync.Map

func fieldNames(fields map[string][]int) []string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// unknownKey says key is unknown, suggesting the closest of known.
func unknownKey(key string, known []string) string {
	best, dist := "", 3
	for _, k := range known {
		// Close enough: at most two edits, and not most of a short key.
		d := editDistance(strings.ToLower(key), k)
		if d < dist && 2*d <= len(key) {
			best, dist = k, d
		}
	}
	if best == "" {
		return "unknown key"
	}
	return fmt.Sprintf("unknown key (did you mean %s?)", best)
}

// editDistance is the Levenshtein distance between a and b, capped: keys
// longer than 64 bytes are never close to a manifest key.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
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

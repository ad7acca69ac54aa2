package manifest

import (
	"reflect"

	"gopkg.in/yaml.v3"
)

// globalKeys are the keys of the process-wide settings (admin, metrics,
// state, drain), allowed only under defaults:.
var globalKeys = fieldsOf(reflect.TypeFor[Global]())

// merge lays app over base, the defaults: mapping: mappings merge key by
// key at every depth with the app's value winning; lists, scalars and
// nulls replace the base value as a whole. Neither input is modified; the
// result shares their nodes, so positions and origins stay those of the
// file that wrote each value.
func merge(base, app *yaml.Node) *yaml.Node {
	switch {
	case base == nil || base.Kind != yaml.MappingNode:
		return app
	case app == nil || app.Kind != yaml.MappingNode:
		return app
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: app.Line, Column: app.Column}
	have := map[string]bool{}
	baseValues := values(base)
	for i := 0; i+1 < len(app.Content); i += 2 {
		k, v := app.Content[i], app.Content[i+1]
		if !have[k.Value] {
			if bv := baseValues[k.Value]; bv != nil {
				v = merge(bv, v)
			}
		}
		have[k.Value] = true
		out.Content = append(out.Content, k, v)
	}
	for i := 0; i+1 < len(base.Content); i += 2 {
		if k := base.Content[i]; !have[k.Value] {
			out.Content = append(out.Content, k, base.Content[i+1])
		}
	}
	return out
}

// values maps each string key of mapping m to the value of its first pair,
// so that a merge looks each key up once (a long list of keys on both
// sides stays linear).
func values(m *yaml.Node) map[string]*yaml.Node {
	out := make(map[string]*yaml.Node, len(m.Content)/2)
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode {
			if _, dup := out[k.Value]; !dup {
				out[k.Value] = m.Content[i+1]
			}
		}
	}
	return out
}

// withoutKeys returns mapping m without the pairs whose key is in keys,
// calling drop for each one left out. Non-mappings are returned as is.
func withoutKeys(m *yaml.Node, keys map[string][]int, drop func(k *yaml.Node)) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return m
	}
	out := *m
	out.Content = nil
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if _, ok := keys[k.Value]; ok && k.Kind == yaml.ScalarNode {
			if drop != nil {
				drop(k)
			}
			continue
		}
		out.Content = append(out.Content, k, m.Content[i+1])
	}
	return &out
}

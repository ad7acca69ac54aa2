package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// part is a top-level section of one file: defaults: or one app under apps:.
type part struct {
	file       string
	key, value *yaml.Node
}

func (p *part) at() loc {
	return loc{file: p.file, line: p.key.Line, col: p.key.Column}
}

// readFile parses one file and files its defaults: and apps: under l.
func (l *loader) readFile(file string, data []byte) {
	l.files = append(l.files, file)
	root := l.parseYAML(file, data)
	if root == nil {
		return
	}
	if root.Kind != yaml.MappingNode {
		l.add(file, root, "", fmt.Sprintf("expected a mapping with defaults: and apps:, got a %s", kindName(root)))
		return
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if !l.checkKey(file, k, "", seen) {
			continue
		}
		switch k.Value {
		case "defaults":
			l.addDefaults(&part{file: file, key: k, value: v})
		case "apps":
			if l.appsKey == nil {
				l.appsKey = &part{file: file, key: k, value: v}
			}
			l.addApps(file, v)
		default:
			l.add(file, k, keyPath("", k.Value), unknownKey(k.Value, []string{"apps", "defaults"}))
		}
	}
}

// parseYAML returns the root node of the single document in data, nil
// when there is none or it cannot be parsed.
func (l *loader) parseYAML(file string, data []byte) *yaml.Node {
	if line, col, msg := badText(data); msg != "" {
		l.probs = append(l.probs, Problem{File: file, Line: line, Col: col, Msg: msg})
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			l.probs = append(l.probs, syntaxProblem(file, err))
		}
		return nil
	}
	if !l.onlyDocument(file, dec) || len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil
	}
	return doc.Content[0]
}

// onlyDocument reports whether the rest of dec holds no other document
// with content (an empty one, as after a trailing ---, is fine).
func (l *loader) onlyDocument(file string, dec *yaml.Decoder) bool {
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		switch {
		case errors.Is(err, io.EOF):
			return true
		case err != nil:
			l.probs = append(l.probs, syntaxProblem(file, err))
			return false
		case len(next.Content) > 0 && !isNull(next.Content[0]):
			l.add(file, next.Content[0], "", "a file holds one YAML document; move the second one to its own file")
			return false
		}
	}
}

// badText finds the first byte sequence YAML does not allow: invalid UTF-8
// or a control character. The parser reports those without a position.
func badText(data []byte) (line, col int, msg string) {
	line, col = 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return line, col, "invalid UTF-8"
		case !allowedRune(r):
			return line, col, fmt.Sprintf("control character %U is not allowed", r)
		case r == '\n':
			line, col = line+1, 0
		}
		i += size
		col++
	}
	return 0, 0, ""
}

// allowedRune is YAML 1.2's printable set (c-printable).
func allowedRune(r rune) bool {
	switch {
	case r == '\t', r == '\n', r == '\r', r == 0x85:
		return true
	case r >= 0x20 && r <= 0x7e:
		return true
	case r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd, r >= 0x10000 && r <= 0x10ffff:
		return true
	}
	return false
}

func (l *loader) addDefaults(p *part) {
	if l.defaults != nil {
		l.add(p.file, p.key, "defaults", fmt.Sprintf("defaults: may appear in one file only (also at %s)", l.defaults.at()))
		return
	}
	l.defaults = p
}

func (l *loader) addApps(file string, apps *yaml.Node) {
	if isNull(apps) {
		return
	}
	if apps.Kind != yaml.MappingNode {
		l.add(file, apps, "apps", fmt.Sprintf("expected a mapping of app names to apps, got a %s", kindName(apps)))
		return
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(apps.Content); i += 2 {
		k, v := apps.Content[i], apps.Content[i+1]
		if !l.checkKey(file, k, "apps", seen) {
			continue
		}
		p := &part{file: file, key: k, value: v}
		if prev, ok := l.apps[k.Value]; ok {
			l.add(file, k, keyPath("apps", k.Value), fmt.Sprintf("app %q is also defined at %s", k.Value, prev.at()))
			continue
		}
		l.apps[k.Value] = p
	}
}

// checkKey reports a mapping key that is not a plain string or repeats one
// in seen, and reports whether the pair should be used.
func (l *loader) checkKey(file string, k *yaml.Node, parent string, seen map[string]*yaml.Node) bool {
	if msg := keyProblem(k, seen); msg != "" {
		path := parent
		if k.Kind == yaml.ScalarNode {
			path = keyPath(parent, k.Value)
		}
		l.add(file, k, path, msg)
		return false
	}
	return true
}

// keyProblem is what is wrong with mapping key k, "" if nothing. It records
// k in seen.
func keyProblem(k *yaml.Node, seen map[string]*yaml.Node) string {
	switch {
	case k.Kind == yaml.AliasNode:
		return aliasMsg
	case k.Kind != yaml.ScalarNode:
		return fmt.Sprintf("a key must be a string, not a %s", kindName(k))
	case k.ShortTag() == "!!merge":
		return "merge keys (<<) are not supported; put shared settings under defaults:"
	}
	if first, dup := seen[k.Value]; dup {
		return fmt.Sprintf("duplicate key (first at line %d)", first.Line)
	}
	seen[k.Value] = k
	return ""
}

const aliasMsg = "YAML aliases are not supported; put shared settings under defaults:"

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// add records a problem at node n of file.
func (l *loader) add(file string, n *yaml.Node, path, msg string) {
	l.probs = append(l.probs, Problem{File: file, Line: n.Line, Col: n.Column, Path: path, Msg: msg})
}

// Package manifest loads migrate's app manifest: YAML decoded strictly
// (unknown keys are errors), `defaults:` merged under every app, built-in
// defaults applied, then validated as a whole.
//
// Every problem found on the way is reported, not just the first, each
// placed at file:line:col with its dotted key path:
//
//	migrate.yaml:12:28: apps.bobbarker.new.backends[1]: "htp://x" is not an http(s) URL
//
// Load, Parse and Validate return such problems as a Problems error; the
// CLI prints them and exits 2. The package emits nothing else: no logs, no
// metrics.
package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"

	"gopkg.in/yaml.v3"
)

// Load reads the manifest at path: a YAML file, or a directory whose *.yaml
// and *.yml files are read in name order as one manifest. Problems with the
// manifest are returned as Problems; I/O errors are wrapped. A path that is
// neither a regular file nor a directory (a named pipe, a device) is
// refused with ErrNotRegular rather than read, which could block or never
// end.
func Load(path string) (*Manifest, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	if !info.IsDir() {
		data, err := readRegular(path, info)
		if err != nil {
			return nil, fmt.Errorf("reading manifest: %w", err)
		}
		return load(path, []source{{path, data}})
	}
	srcs, err := readDir(path)
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	return load(path, srcs)
}

// Parse decodes, defaults and validates one manifest file held in memory;
// file names it in problems and anchors its relative paths.
func Parse(file string, data []byte) (*Manifest, error) {
	return load(file, []source{{file, data}})
}

// AdminHosts are the names the manifest reaches its admin listener by, for
// the listener's Host check: the host of admin.listen, admin.hosts, and
// the hosts of the apps' logs.sink.admin and fallback.admin URLs (a
// manifest shared by the hosts of a move names their listeners there).
func (m *Manifest) AdminHosts() []string {
	hosts := []string{}
	if h, _, err := net.SplitHostPort(m.Global.Admin.Listen); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	hosts = append(hosts, m.Global.Admin.Hosts...)
	for _, name := range m.AppNames() {
		a := m.Apps[name]
		urls := []string{a.Fallback.Admin}
		if a.Logs.Sink != nil {
			urls = append(urls, a.Logs.Sink.Admin)
		}
		for _, s := range urls {
			if u, err := url.Parse(s); err == nil && u.Hostname() != "" {
				hosts = append(hosts, u.Hostname())
			}
		}
	}
	return hosts
}

// AppNames returns the names of m's apps, sorted.
func (m *Manifest) AppNames() []string {
	names := make([]string, 0, len(m.Apps))
	for name := range m.Apps {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

type source struct {
	name string
	data []byte
}

func readDir(dir string) ([]source, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var srcs []source
	for _, e := range entries { // ReadDir sorts by name
		ext := filepath.Ext(e.Name())
		if ext != ".yaml" && ext != ".yml" {
			continue
		}
		name := filepath.Join(dir, e.Name())
		info, err := os.Stat(name) // through a symbolic link
		if err != nil {
			return nil, err
		}
		if info.IsDir() {
			continue
		}
		data, err := readRegular(name, info)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, source{name, data})
	}
	return srcs, nil
}

// ErrNotRegular is a manifest path that is neither a regular file nor a
// directory.
var ErrNotRegular = errors.New("not a regular file")

// readRegular reads the file name, which info describes, if it is a regular
// file: reading a named pipe blocks until a writer comes, and a device
// may never end.
func readRegular(name string, info fs.FileInfo) ([]byte, error) {
	if err := CheckRegular(name, info); err != nil {
		return nil, err
	}
	return os.ReadFile(name)
}

// CheckRegular returns an error wrapping ErrNotRegular, which names what
// the file is, when info, the file name's, is not a regular file.
func CheckRegular(name string, info fs.FileInfo) error {
	if info.Mode().IsRegular() {
		return nil
	}
	return fmt.Errorf("%s is a %s: %w", name, fileKind(info.Mode()), ErrNotRegular)
}

// fileKind names the type of a file that is not regular.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// loader holds the state of one load: the parts read so far, the problems
// found and where every value was written.
type loader struct {
	files    []string
	defaults *part
	appsKey  *part // the first apps: key read
	apps     map[string]*part
	probs    Problems
	pos      positions
	origin   map[*yaml.Node]loc // nodes of defaults: and where they were written
}

// load reads srcs as one manifest; name stands for all of them in a
// problem that belongs to no file.
func load(name string, srcs []source) (*Manifest, error) {
	l := &loader{apps: map[string]*part{}, pos: positions{}, origin: map[*yaml.Node]loc{}}
	for _, s := range srcs {
		l.readFile(s.name, s.data)
	}
	m := l.decode()
	if len(m.Apps) == 0 && len(l.probs) == 0 {
		l.probs = append(l.probs, l.noApps(name, len(srcs)))
	}
	m.applyDefaults()
	probs := l.probs
	var vp Problems
	if errors.As(m.Validate(), &vp) {
		probs = append(probs, vp.without(l.probs)...)
	}
	if len(probs) > 0 {
		return nil, probs.tidy()
	}
	return m, nil
}

// noApps reports a manifest without apps: at its apps: key, else on the
// first line of its only file, else on the directory.
func (l *loader) noApps(name string, files int) Problem {
	p := Problem{File: name, Path: "apps", Msg: "no apps defined"}
	switch {
	case l.appsKey != nil:
		at := l.appsKey.at()
		p.File, p.Line, p.Col = at.file, at.line, at.col
	case files == 0:
		p.Msg += " (no *.yaml or *.yml files)"
	case files == 1:
		p.Line = 1
	}
	return p
}

// decode turns the parts read into a Manifest with defaults: merged under
// every app but no built-in defaults yet.
func (l *loader) decode() *Manifest {
	m := &Manifest{Files: l.files, Apps: map[string]*App{}, pos: l.pos}
	var base *yaml.Node
	if p := l.defaults; p != nil {
		d := &decoder{l: l, file: p.file, recording: true}
		d.value(p.value, reflect.ValueOf(&m.Defaults).Elem(), "defaults")
		l.pos["defaults"] = loc{file: p.file, line: p.key.Line, col: p.key.Column, path: "defaults"}
		base = withoutKeys(p.value, globalKeys, nil)
	}
	m.Global = m.Defaults.Global
	for _, name := range sortedKeys(l.apps) {
		m.Apps[name] = l.decodeApp(name, l.apps[name], base)
	}
	return m
}

// decodeApp decodes one app with base, the defaults: mapping, under it.
func (l *loader) decodeApp(name string, p *part, base *yaml.Node) *App {
	path := keyPath("apps", name)
	node := p.value
	if isNull(node) {
		// An app with no settings of its own takes every default.
		node = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: p.key.Line, Column: p.key.Column}
	}
	node = withoutKeys(node, globalKeys, func(k *yaml.Node) {
		l.add(p.file, k, keyPath(path, k.Value), "process-wide setting; set it under defaults")
	})
	app := &App{}
	d := &decoder{l: l, file: p.file}
	d.value(merge(base, node), reflect.ValueOf(app).Elem(), path)
	app.Name = name
	l.pos[path] = loc{file: p.file, line: p.key.Line, col: p.key.Column, path: path}
	return app
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

package manifest

import "testing"

func TestPaths(t *testing.T) {
	tests := []struct {
		name, path, parent string
	}{
		{"key", "apps.web.old.backends", "apps.web.old"},
		{"index", "apps.web.old.backends[1]", "apps.web.old.backends"},
		{"quoted key", `apps["Bob Barker"]`, "apps"},
		{"under a quoted key", `apps["Bob Barker"].old`, `apps["Bob Barker"]`},
		{"quoted key with brackets and quotes", `apps["a[\"b"]`, "apps"},
		{"top", "apps", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parentPath(tt.path); got != tt.parent {
				t.Errorf("parentPath(%q) = %q, want %q", tt.path, got, tt.parent)
			}
		})
	}
}

func TestKeyPath(t *testing.T) {
	tests := []struct {
		parent, key, want string
	}{
		{"", "apps", "apps"},
		{"apps", "web", "apps.web"},
		{"apps", "Bob Barker", `apps["Bob Barker"]`},
		{"apps.web", "a.b", `apps.web["a.b"]`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := keyPath(tt.parent, tt.key); got != tt.want {
				t.Errorf("keyPath(%q, %q) = %q, want %q", tt.parent, tt.key, got, tt.want)
			}
		})
	}
}

// TestMissingValuePosition checks that a problem about a value nobody
// wrote is placed at the nearest mapping the app itself wrote, not at one
// it inherits from defaults:.
func TestMissingValuePosition(t *testing.T) {
	data := "defaults:\n  old: {balance: least_conn}\napps:\n  web:\n    new: {backends: [http://b]}\n"
	_, err := Parse("m.yaml", []byte(data))
	want := "m.yaml:4:3: apps.web.old.backends: at least one backend is required"
	if err == nil || err.Error() != want {
		t.Errorf("Parse() = %v, want %q", err, want)
	}
}

package logship

import "testing"

// TestNewFailsWithNilParser: a log_format that does not compile gives an
// error and a nil Parser, not a nil *nginxParser in a non-nil Parser.
func TestNewFailsWithNilParser(t *testing.T) {
	p, err := New("nginx", Options{LogFormat: "$ bad"})
	if err == nil {
		t.Fatal("New() with a bad log_format succeeded")
	}
	if p != nil {
		t.Errorf("New() = %#v with %v, want a nil Parser", p, err)
	}
}

package manifest_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/manifest"
)

// TestDNSCheckWatchDefault checks dns_check.watch: true by default for an
// app with dns: records, unset without them, and kept when written.
func TestDNSCheckWatchDefault(t *testing.T) {
	const head = "apps:\n  web:\n    old: {backends: [http://127.0.0.1:3000]}\n    new: {backends: [http://127.0.0.1:4000]}\n"
	const records = "    dns: [{name: web.example.com, type: a, expect: [203.0.113.10]}]\n"
	tests := []struct {
		name string
		yaml string
		want *bool
	}{
		{"records, watch unset", head + records, ptr(true)},
		{"records, watch false", head + records + "    dns_check: {watch: false}\n", ptr(false)},
		{"records, watch true", head + records + "    dns_check: {watch: true}\n", ptr(true)},
		{"no records", head, nil},
		{"no records, watch true", head + "    dns_check: {watch: true}\n", ptr(true)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := manifest.Parse("test.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := m.Apps["web"].DNSCheck.Watch
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("dns_check.watch (-got +want):\n%s", diff)
			}
		})
	}
}

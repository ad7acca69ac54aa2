package telemetry

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

// recordLogship records one value of each shipper series, for the lint.
func recordLogship(m *Metrics) {
	l := m.Logship("bobbarker", SideOld)
	l.Lines(1, 120)
	l.Delivered(1)
	l.ParseError("invalid utf-8")
	l.SplitLine()
	l.Unterminated()
	l.Rotation()
	l.Truncation()
	l.Unreadable()
	l.CheckpointLag(4096)
}

func TestLogship(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	recordLogship(m)
	m.Logship("bobbarker", SideOld).Lines(1, 30)
	var nilRec *Logship
	nilRec.Lines(1, 1) // records nothing, does not panic

	labels := map[string]string{"app": "bobbarker", "side": "old"}
	tests := []struct {
		name   string
		series string
		labels map[string]string
		want   float64
	}{
		{"lines", "migrate_logship_lines_total", labels, 2},
		{"bytes", "migrate_logship_bytes_total", labels, 150},
		{"delivered", "migrate_logship_delivered_total", labels, 1},
		{"parse errors by reason", "migrate_logship_parse_errors_total", map[string]string{"app": "bobbarker", "side": "old", "reason": "invalid utf-8"}, 1},
		{"split", "migrate_logship_split_lines_total", labels, 1},
		{"unterminated", "migrate_logship_unterminated_total", labels, 1},
		{"rotations", "migrate_logship_rotations_total", labels, 1},
		{"truncations", "migrate_logship_truncations_total", labels, 1},
		{"unreadable", "migrate_logship_unreadable_files_total", labels, 1},
		{"lag", "migrate_logship_checkpoint_lag_bytes", labels, 4096},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Read(reg, tt.series, tt.labels)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("%s (-got +want):\n%s", tt.series, diff)
			}
		})
	}
}

package manifest_test

import (
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/migratekit/migrate/manifest"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    manifest.Duration
		wantErr string
	}{
		{in: "30s", want: manifest.Duration(30 * time.Second)},
		{in: "1m30s", want: manifest.Duration(90 * time.Second)},
		{in: " 500ms ", want: manifest.Duration(500 * time.Millisecond)},
		{in: "0", want: 0},
		{in: "30", wantErr: `"30" is not a duration (use a Go duration such as 500ms, 30s, 10m)`},
		{in: "soon", wantErr: `"soon" is not a duration (use a Go duration such as 500ms, 30s, 10m)`},
		{in: "", wantErr: `"" is not a duration (use a Go duration such as 500ms, 30s, 10m)`},
		{in: "-1s", wantErr: `"-1s" is negative`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := manifest.ParseDuration(tt.in)
			checkParse(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestParsePercent(t *testing.T) {
	tests := []struct {
		in      string
		want    manifest.Percent
		wantErr string
	}{
		{in: "2%", want: 0.02},
		{in: "0.5 %", want: 0.005},
		{in: "100%", want: 1},
		{in: "0%", want: 0},
		{in: "0.02", want: 0.02},
		{in: "1", want: 1},
		{in: "101%", wantErr: `"101%" is out of range (0% to 100%)`},
		{in: "2", wantErr: `"2" is out of range (0% to 100%)`},
		{in: "-1%", wantErr: `"-1%" is out of range (0% to 100%)`},
		{in: "NaN", wantErr: `"NaN" is not a percentage (use 2% or a fraction such as 0.02)`},
		{in: "%", wantErr: `"%" is not a percentage (use 2% or a fraction such as 0.02)`},
		{in: "half", wantErr: `"half" is not a percentage (use 2% or a fraction such as 0.02)`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := manifest.ParsePercent(tt.in)
			checkParse(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    manifest.Size
		wantErr string
	}{
		{in: "4096", want: 4096},
		{in: "100B", want: 100},
		{in: "512KB", want: 512000},
		{in: "1MiB", want: 1 << 20},
		{in: "1.5 KiB", want: 1536},
		{in: "2GiB", want: 2 << 30},
		{in: "1GB", want: 1e9},
		{in: "lots", wantErr: `"lots" is not a size (use bytes or a unit: 512KB, 1MiB, 2GiB)`},
		{in: "KiB", wantErr: `"KiB" is not a size (use bytes or a unit: 512KB, 1MiB, 2GiB)`},
		{in: "-1KB", wantErr: `"-1KB" is negative`},
		{in: "1e30GiB", wantErr: `"1e30GiB" is too large`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := manifest.ParseSize(tt.in)
			checkParse(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func checkParse[T comparable](t *testing.T, got T, err error, want T, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || err.Error() != wantErr {
			t.Errorf("error = %v, want %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestPercentString(t *testing.T) {
	for _, tt := range []struct {
		in   manifest.Percent
		want string
	}{{0.02, "2%"}, {1, "100%"}, {0.005, "0.5%"}} {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestMarshalRoundTrip checks that the value types marshal to YAML that
// reads back as the same value.
func TestMarshalRoundTrip(t *testing.T) {
	type values struct {
		D manifest.Duration `yaml:"d"`
		P manifest.Percent  `yaml:"p"`
		S manifest.Size     `yaml:"s"`
	}
	in := values{D: manifest.Duration(90 * time.Second), P: 0.025, S: 1 << 20}
	data, err := yaml.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var got values
	if err := yaml.Unmarshal(data, &got); err != nil {
		t.Fatalf("Unmarshal(%q): %v", data, err)
	}
	if got != in {
		t.Errorf("round trip of %+v via %q = %+v", in, data, got)
	}
}

func TestDurationOr(t *testing.T) {
	if got := manifest.Duration(0).Or(time.Second); got != time.Second {
		t.Errorf("Duration(0).Or(1s) = %v, want 1s", got)
	}
	if got := manifest.Duration(time.Minute).Or(time.Second); got != time.Minute {
		t.Errorf("Duration(1m).Or(1s) = %v, want 1m", got)
	}
}

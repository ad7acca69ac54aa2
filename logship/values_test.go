package logship

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want string // RFC 3339 with nanoseconds; "" when it does not parse
	}{
		{"10/Oct/2000:13:55:36 -0700", "2000-10-10T13:55:36-07:00"},
		{"29/Feb/2024:00:00:00 +0530", "2024-02-29T00:00:00+05:30"},
		{"29/Feb/2023:00:00:00 +0000", ""},
		{"10/Foo/2000:13:55:36 -0700", ""},
		{"10/Oct/2000:24:00:00 -0700", ""},
		{"10/Oct/2000:13:55:36 -07000", ""},
		{"10/Oct/2000:13:55:36 +2500", ""},
		{"2026-11-25T13:55:36Z", "2026-11-25T13:55:36Z"},
		{"2026-11-25T13:55:36.000001+01:00", "2026-11-25T13:55:36.000001+01:00"},
		{"2026-11-25T13:55:36.1234567891234-0100", "2026-11-25T13:55:36.123456789-01:00"},
		{"2026-11-25 13:55:36", "2026-11-25T13:55:36Z"},
		{"2026-11-25t13:55:36z", "2026-11-25T13:55:36Z"},
		{"2026-11-25T13:55:36.Z", ""},
		{"2026-11-25T13:55:36 UTC", ""},
		{"2026-13-25T13:55:36Z", ""},
		{"2026-11-25X13:55:36Z", ""},
		{"1795614936", "2026-11-25T13:55:36Z"},
		{"1795614936.5", "2026-11-25T13:55:36.5Z"},
		{"1795614936123", "2026-11-25T13:55:36.123Z"},
		{"1795614936123456", "2026-11-25T13:55:36.123456Z"},
		{"1795614936123456789", "2026-11-25T13:55:36.123456789Z"},
		{"99999999999999999999", ""},
		{"-1", ""},
		{"", ""},
		{"yesterday", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var z zoneCache
			got, ok := parseTime([]byte(tt.in), &z)
			gotS := ""
			if ok {
				gotS = got.Format(time.RFC3339Nano)
			}
			if gotS != tt.want {
				t.Errorf("parseTime(%q) = %q, want %q", tt.in, gotS, tt.want)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in     string
		unit   time.Duration
		want   time.Duration
		wantOK bool
	}{
		{"0.123", time.Second, 123 * time.Millisecond, true},
		{"12", time.Second, 12 * time.Second, true},
		{".5", time.Second, 500 * time.Millisecond, true},
		{"0.0000000019", time.Second, 1, true},
		{"1.5e-3", time.Second, 1500 * time.Microsecond, true},
		{"12.5", time.Millisecond, 12500 * time.Microsecond, true},
		{"12ms", time.Second, 12 * time.Millisecond, true},
		{"1m30s", time.Second, 90 * time.Second, true},
		{"3h", time.Second, 3 * time.Hour, true},
		{"-1", time.Second, 0, false},
		{"-1s", time.Second, 0, false},
		{".", time.Second, 0, false},
		{"1.2.3", time.Second, 0, false},
		{"NaN", time.Second, 0, false},
		{"1e300", time.Second, 0, false},
		{"9999999999999", time.Second, 0, false},
		{"", time.Second, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseDurationText([]byte(tt.in), tt.unit)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("parseDurationText(%q, %v) = %v, %v, want %v, %v", tt.in, tt.unit, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestLastUpstream(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0.010", "0.010"},
		{"0.010, 0.020", "0.020"},
		{"0.005, 0.010 : 0.030", "0.030"},
		{"0.010, -", "-"},
		{"-", "-"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := string(lastUpstream([]byte(tt.in))); got != tt.want {
				t.Errorf("lastUpstream(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestUnescape(t *testing.T) {
	tests := []struct{ in, want string }{
		{`plain`, "plain"},
		{`\x22q\x22 \x5C \xC3\xA9`, "\"q\" \\ é"},
		{`\"\\\/\b\f\n\r\t\a\v\'`, "\"\\/\b\f\n\r\t\a\v'"},
		{`\u00e9\u20AC`, "é€"},
		{`\ud83d\ude00`, "😀"},
		{`\ud83d`, "\ufffd"},
		{`\ud83d\u0041`, "\ufffdA"},
		{`\ude00\ud83d`, "\ufffd\ufffd"},
		{`\U0001F600 \U00110000`, "😀 \ufffd"},
		{`\xZZ \u12 \q`, `\xZZ \u12 \q`},
		{`trailing\`, `trailing\`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := string(unescape(nil, []byte(tt.in))); got != tt.want {
				t.Errorf("unescape(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestZoneCacheReusesLocation(t *testing.T) {
	var z zoneCache
	tests := []struct {
		name   string
		offset int
		same   bool // the location is the one returned before
	}{
		{"first offset", 3600, false},
		{"same offset", 3600, true},
		{"utc", 0, false},
		{"back to the offset", 3600, true},
		{"another offset", -7200, false},
	}
	var last *time.Location
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := z.get(tt.offset)
			if _, off := time.Date(2026, 1, 1, 0, 0, 0, 0, loc).Zone(); off != tt.offset {
				t.Errorf("offset = %d, want %d", off, tt.offset)
			}
			if got := loc == last; got != tt.same {
				t.Errorf("same location = %v, want %v", got, tt.same)
			}
			if loc != time.UTC {
				last = loc
			}
		})
	}
}

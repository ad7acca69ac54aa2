package telemetry

import (
	"strings"
	"testing"
)

// FuzzNames checks that any app, reason or backend string becomes one
// statsd-safe name segment.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"bobbarker", "http://10.0.0.5:3000", "https://[::1]:8443/a/b", "a.b:c|d@e#f", "", "%zz", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, got := range []string{token(s), backendToken(s)} {
			if got == "" || strings.HasPrefix(got, "_") || strings.HasSuffix(got, "_") {
				t.Errorf("name of %q = %q: empty or not trimmed", s, got)
			}
			for i := 0; i < len(got); i++ {
				if !isNameByte(got[i]) {
					t.Errorf("name of %q = %q: byte %q is not statsd-safe", s, got, got[i])
				}
			}
		}
		for seg := range strings.SplitSeq(cleanPrefix(s), ".") {
			if seg == "" || seg != token(seg) {
				t.Errorf("prefix %q = %q: segment %q not safe", s, cleanPrefix(s), seg)
			}
		}
	})
}

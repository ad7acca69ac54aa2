package logship

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

// FuzzSinkAnswers feeds any answer to the deliverers' answer parsers: the
// Retry-After header, an Elasticsearch bulk answer and an OTLP partial
// success. None may panic, a wait stays within a day, and every index
// of a partial answer is in the batch, once.
func FuzzSinkAnswers(f *testing.F) {
	f.Add("5", []byte(`{"errors":true,"items":[{"create":{"status":201}},{"create":{"status":409}},{"index":{"status":429}}]}`), 3)
	f.Add("Sun, 01 Mar 2026 12:00:30 GMT", []byte(`{"errors":true,"items":[{"create":{"status":400,"error":{"type":"x","reason":"y"}}}]}`), 1)
	f.Add("", []byte(`{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"m"}}`), 2)
	f.Add("-1", []byte(`{"errors":true,"items":[{}, {"a":{},"b":{"status":503}}]}`), 2)
	f.Fuzz(func(t *testing.T, retryAfter string, body []byte, n int) {
		if n < 0 || n > 1000 {
			return
		}
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		if d := parseRetryAfter(retryAfter, now); d < 0 || d > 24*time.Hour {
			t.Errorf("parseRetryAfter(%q) = %v, want within [0, 24h]", retryAfter, d)
		}
		p := &httpPoster{clock: clockwork.NewFakeClockAt(now)}
		a := &httpAnswer{status: 200, header: http.Header{"Retry-After": {retryAfter}}, body: body}
		checkPartial(t, (&elasticDeliverer{p: p}).items(a, n), n)
		if err := otlpPartial(body, n); err != nil {
			var rej *RejectedError
			if !errors.As(err, &rej) || rej.Index != nil {
				t.Errorf("otlpPartial() = %v, want nil or a rejection of the whole batch", err)
			}
		}
	})
}

// checkPartial checks that a PartialError names events of a batch of n,
// each once, with a reason per rejection.
func checkPartial(t *testing.T, err error, n int) {
	var part *PartialError
	if !errors.As(err, &part) {
		return
	}
	if len(part.Reasons) != len(part.Rejected) {
		t.Errorf("%d reasons for %d rejections", len(part.Reasons), len(part.Rejected))
	}
	seen := make(map[int]bool)
	for _, i := range append(append([]int(nil), part.Rejected...), part.Retry...) {
		if i < 0 || i >= n || seen[i] {
			t.Errorf("index %d out of a batch of %d or repeated: %+v", i, n, part)
		}
		seen[i] = true
	}
}

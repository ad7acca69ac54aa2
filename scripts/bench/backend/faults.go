package main

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// failBody is the answer of a failing request.
var failBody = []byte(`{"ok":false,"error":"injected failure"}` + "\n")

// faults decides which answers fail, for scripts/bench/rollback: from
// failAfter after start on, every answer or a random share failRate of
// them (a new side that breaks at a known time, wholly or partly), and a
// random share errorRate of the others (healthy but noisy traffic). The first failing answer is reported once, with its time, so a
// benchmark can time what follows from it.
type faults struct {
	start     time.Time
	failAfter time.Duration // 0: never break
	failRate  float64       // share failing once broken; 0 or 1: all
	errorRate float64       // 0 to 1
	random    func() float64
	report    func(time.Time)
	first     sync.Once
}

// fail reports whether the answer at now fails, and reports the first one.
func (f *faults) fail(now time.Time) bool {
	if f == nil {
		return false
	}
	failing := f.failAfter > 0 && now.Sub(f.start) >= f.failAfter
	if failing && f.failRate > 0 && f.failRate < 1 {
		failing = f.random() < f.failRate
	}
	if !failing && f.errorRate > 0 {
		failing = f.random() < f.errorRate
	}
	if failing && f.report != nil {
		f.first.Do(func() { f.report(now) })
	}
	return failing
}

// writeFailure answers 500 with failBody.
func writeFailure(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Length"] = []string{strconv.Itoa(len(failBody))}
	h["Content-Type"] = []string{"application/json"}
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write(failBody)
}

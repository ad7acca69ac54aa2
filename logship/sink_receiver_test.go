package logship

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// reply is one answer of a test receiver.
type reply struct {
	status int
	header map[string]string
	body   string
}

// received is one request a test receiver got, its body un-gzipped.
type received struct {
	method, path string
	header       http.Header
	body         []byte
}

// receiver is an HTTP server standing in for Loki, Elasticsearch or an
// OTLP collector: it checks that requests are gzipped, records them and
// answers from a script (then with def). check, when set, answers
// instead of the script for requests it finds malformed (it returns a
// reply with a non-zero status).
type receiver struct {
	*httptest.Server
	def   reply
	check func(r received) reply

	mu      sync.Mutex
	replies []reply
	got     []received
}

func newReceiver(t *testing.T, def reply, replies ...reply) *receiver {
	t.Helper()
	rc := &receiver{def: def, replies: replies}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	req, err := readReceived(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.got = append(rc.got, req)
	rep := rc.def
	if len(rc.replies) > 0 {
		rep, rc.replies = rc.replies[0], rc.replies[1:]
	}
	check := rc.check
	rc.mu.Unlock()
	if check != nil {
		if bad := check(req); bad.status != 0 {
			rep = bad
		}
	}
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

// readReceived reads a request, whose body must be gzipped.
func readReceived(r *http.Request) (received, error) {
	if r.Header.Get("Content-Encoding") != "gzip" {
		return received{}, errors.New("want Content-Encoding: gzip")
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		return received{}, fmt.Errorf("reading gzip body: %w", err)
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		return received{}, fmt.Errorf("reading gzip body: %w", err)
	}
	return received{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: body}, nil
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// outcome describes a Deliverer's answer for comparison in tables.
func outcome(err error) string {
	var (
		re   *RetryableError
		rej  *RejectedError
		part *PartialError
		big  *TooLargeError
	)
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &rej):
		if rej.Index == nil {
			return "rejected all: " + rej.Reason
		}
		return fmt.Sprintf("rejected %v: %s", rej.Index, rej.Reason)
	case errors.As(err, &part):
		return fmt.Sprintf("partial: rejected %v %q, retry %v, status %d after %v",
			part.Rejected, part.Reasons, part.Retry, part.Status, part.After)
	case errors.As(err, &big):
		return "too large"
	case errors.As(err, &re):
		return fmt.Sprintf("retryable: status %d after %v", re.Status, re.After)
	}
	return "other: " + err.Error()
}

package logship

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"
)

// esServer implements the part of Elasticsearch's bulk API the sink uses:
// create actions with an _id, answered per item with 201, 409 when the id
// exists, or a status queued for that id; whole-request replies queued
// in whole come first, and a request of more than maxItems actions gets
// 413.
type esServer struct {
	*httptest.Server
	maxItems int

	mu    sync.Mutex
	whole []reply
	items map[string][]int // id -> statuses to answer, in turn
	docs  map[string]map[string]any
	ids   [][]string // ids of each bulk request
}

func newESServer(t *testing.T) *esServer {
	t.Helper()
	s := &esServer{items: make(map[string][]int), docs: make(map[string]map[string]any)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *esServer) serve(w http.ResponseWriter, r *http.Request) {
	req, err := readReceived(r)
	if err == nil && (req.path != ElasticBulkPath || req.method != http.MethodPost ||
		req.header.Get("Content-Type") != "application/x-ndjson") {
		err = fmt.Errorf("want POST %s with application/x-ndjson, got %s %s %s",
			ElasticBulkPath, req.method, req.path, req.header.Get("Content-Type"))
	}
	var actions []esAction
	if err == nil {
		actions, err = parseBulk(req.body)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		writeJSON(w, 400, map[string]any{"error": map[string]any{"type": "parse_exception", "reason": err.Error()}, "status": 400})
		return
	}
	s.ids = append(s.ids, idsOfActions(actions))
	if len(s.whole) > 0 {
		rep := s.whole[0]
		s.whole = s.whole[1:]
		for k, v := range rep.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(rep.status)
		w.Write([]byte(rep.body))
		return
	}
	if s.maxItems > 0 && len(actions) > s.maxItems {
		http.Error(w, "request entity too large", 413)
		return
	}
	writeJSON(w, 200, s.answer(actions))
}

// answer applies the actions and returns the bulk answer.
func (s *esServer) answer(actions []esAction) map[string]any {
	items := make([]any, len(actions))
	errs := false
	for i, a := range actions {
		status := 201
		if q := s.items[a.id]; len(q) > 0 {
			status, s.items[a.id] = q[0], q[1:]
		} else if _, ok := s.docs[a.id]; ok {
			status = 409
		}
		item := map[string]any{"_index": a.index, "_id": a.id, "status": status}
		switch {
		case status == 201:
			s.docs[a.id] = a.doc
		case status == 409:
			item["error"] = map[string]any{"type": "version_conflict_engine_exception", "reason": "[" + a.id + "]: version conflict, document already exists"}
		case status == 429:
			item["error"] = map[string]any{"type": "es_rejected_execution_exception", "reason": "rejected execution of coordinating operation"}
		default:
			item["error"] = map[string]any{"type": "mapper_parsing_exception", "reason": "failed to parse field [status]"}
		}
		errs = errs || status != 201
		items[i] = map[string]any{"create": item}
	}
	return map[string]any{"took": 3, "errors": errs, "items": items}
}

type esAction struct {
	index, id string
	doc       map[string]any
}

// parseBulk reads NDJSON pairs of a create action and its document.
func parseBulk(body []byte) ([]esAction, error) {
	var out []esAction
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var action struct {
			Create *struct {
				Index string `json:"_index"`
				ID    string `json:"_id"`
			} `json:"create"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil || action.Create == nil || action.Create.ID == "" {
			return nil, fmt.Errorf("line %q: want a create action with an _id", sc.Text())
		}
		if !sc.Scan() {
			return nil, errors.New("action without a document")
		}
		var doc map[string]any
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			return nil, fmt.Errorf("document %q: %w", sc.Text(), err)
		}
		if doc["id"] != action.Create.ID {
			return nil, fmt.Errorf("document id %v, action _id %q", doc["id"], action.Create.ID)
		}
		out = append(out, esAction{index: action.Create.Index, id: action.Create.ID, doc: doc})
	}
	if !bytes.HasSuffix(body, []byte("\n")) {
		return nil, errors.New("the bulk request must be terminated by a newline")
	}
	return out, sc.Err()
}

func idsOfActions(as []esAction) []string {
	ids := make([]string, len(as))
	for i, a := range as {
		ids[i] = a.id
	}
	return ids
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *esServer) storedIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.docs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func TestElasticDeliver(t *testing.T) {
	tests := []struct {
		name   string
		stored []string         // ids already indexed
		items  map[string][]int // per-item statuses
		whole  []reply
		want   string
	}{
		{name: "all created", want: "ok"},
		{name: "all already there (409) counts as delivered", stored: []string{"e0", "e1", "e2", "e3", "e4"}, want: "ok"},
		{name: "mixed items: 409, 400, 429, 201, 503", stored: []string{"e0"},
			items: map[string][]int{"e1": {400}, "e2": {429}, "e4": {503}},
			want:  `partial: rejected [1] ["elasticsearch: status 400: mapper_parsing_exception: failed to parse field [status]"], retry [2 4], status 429 after 0s`},
		{name: "only rejections", items: map[string][]int{"e3": {400}},
			want: `partial: rejected [3] ["elasticsearch: status 400: mapper_parsing_exception: failed to parse field [status]"], retry [], status 0 after 0s`},
		{name: "whole 429 with retry-after", whole: []reply{{status: 429, header: map[string]string{"Retry-After": "5"}}},
			want: "retryable: status 429 after 5s"},
		{name: "whole 503", whole: []reply{{status: 503, body: `{"error":"unavailable_shards_exception"}`}}, want: "retryable: status 503 after 0s"},
		{name: "413 too large", whole: []reply{{status: 413}}, want: "too large"},
		{name: "whole 400 rejects the batch", whole: []reply{{status: 400, body: `{"error":{"type":"illegal_argument_exception"}}`}},
			want: `rejected all: elasticsearch: status 400: {"error":{"type":"illegal_argument_exception"}}`},
		{name: "unreadable 200 answer is retried", whole: []reply{{status: 200, body: "<html>proxy</html>"}},
			want: "retryable: status 200 after 0s"},
		{name: "answer with too few items is retried", whole: []reply{{status: 200, body: `{"errors":true,"items":[]}`}},
			want: "retryable: status 200 after 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es := newESServer(t)
			for _, id := range tt.stored {
				es.docs[id] = map[string]any{}
			}
			es.items, es.whole = tt.items, tt.whole
			if es.items == nil {
				es.items = map[string][]int{}
			}
			d, err := NewElasticDeliverer(HTTPOptions{URL: es.URL, Clock: clockwork.NewFakeClockAt(sinkClockTime)}, "")
			if err != nil {
				t.Fatal(err)
			}
			defer d.(interface{ Close() error }).Close()
			got := outcome(d.Deliver(t.Context(), sinkEvents(5)))
			if got != tt.want {
				t.Errorf("Deliver() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestElasticDocument(t *testing.T) {
	es := newESServer(t)
	d, err := NewElasticDeliverer(HTTPOptions{URL: es.URL, Headers: map[string]string{"Authorization": "ApiKey abc"}}, "logs-web-prod")
	if err != nil {
		t.Fatal(err)
	}
	defer d.(interface{ Close() error }).Close()
	evs := sinkEvents(1)
	if err := d.Deliver(t.Context(), evs); err != nil {
		t.Fatalf("Deliver() = %v", err)
	}
	var want map[string]any
	if err := json.Unmarshal(AppendEvent(nil, &evs[0]), &want); err != nil {
		t.Fatal(err)
	}
	want["@timestamp"] = "2026-03-01T12:30:45.123456789Z"
	es.mu.Lock()
	got := es.docs["e0"]
	es.mu.Unlock()
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("document (-got +want):\n%s", diff)
	}
}

// TestElasticSink sends through NewSink: the rejected item is
// dead-lettered, only the 429 and 503 items are sent again, a 413 halves
// the batch, and every other event ends up indexed once.
func TestElasticSink(t *testing.T) {
	es := newESServer(t)
	es.docs["e0"] = map[string]any{}
	es.items = map[string][]int{"e1": {400}, "e2": {429, 503}, "e4": {503}}
	clock := newWaitClock()
	d, err := NewElasticDeliverer(HTTPOptions{URL: es.URL, Clock: clock}, "")
	if err != nil {
		t.Fatal(err)
	}
	dl := NewDeadLetter(filepath.Join(t.TempDir(), "dl.jsonl"))
	s := NewSink(d, SinkOptions{DeadLetter: dl, Clock: clock})
	defer s.Close()
	if err := sendAdvancing(t.Context(), t, clock, s, sinkEvents(5)); err != nil {
		t.Fatalf("Send() = %v", err)
	}
	es.mu.Lock()
	es.maxItems = 2
	es.mu.Unlock()
	if err := sendAdvancing(t.Context(), t, clock, s, sinkEvents(10)[5:]); err != nil {
		t.Fatalf("Send() = %v", err)
	}
	es.mu.Lock()
	gotReqs := es.ids
	es.mu.Unlock()
	wantReqs := [][]string{
		{"e0", "e1", "e2", "e3", "e4"}, {"e2", "e4"}, {"e2"}, // the partial retries
		{"e5", "e6", "e7", "e8", "e9"}, {"e5", "e6"}, {"e7", "e8", "e9"}, {"e7"}, {"e8", "e9"}, // 413 halving
	}
	if diff := cmp.Diff(gotReqs, wantReqs); diff != "" {
		t.Errorf("bulk requests (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(es.storedIDs(), []string{"e0", "e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9"}); diff != "" {
		t.Errorf("indexed (-got +want):\n%s", diff)
	}
	var dead []string
	for _, l := range readDeadLetters(t, dl.Path()) {
		dead = append(dead, l.Event.ID+": "+l.Reason)
	}
	if diff := cmp.Diff(dead, []string{"e1: elasticsearch: status 400: mapper_parsing_exception: failed to parse field [status]"}); diff != "" {
		t.Errorf("dead letters (-got +want):\n%s", diff)
	}
	if got := len(clock.recorded()); got != 2 {
		t.Errorf("waits = %d, want 2 (one per partial retry, none for a split)", got)
	}
}

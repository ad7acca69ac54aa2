package logship

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"
)

// otlpRequest is an ExportLogsServiceRequest in OTLP/JSON, decoded
// strictly.
type otlpRequest struct {
	ResourceLogs []struct {
		Resource struct {
			Attributes []otlpKV `json:"attributes"`
		} `json:"resource"`
		ScopeLogs []struct {
			Scope struct {
				Name string `json:"name"`
			} `json:"scope"`
			LogRecords []otlpRecord `json:"logRecords"`
		} `json:"scopeLogs"`
	} `json:"resourceLogs"`
}

type otlpRecord struct {
	TimeUnixNano         string `json:"timeUnixNano"`
	ObservedTimeUnixNano string `json:"observedTimeUnixNano"`
	SeverityNumber       int    `json:"severityNumber"`
	SeverityText         string `json:"severityText"`
	Body                 struct {
		StringValue string `json:"stringValue"`
	} `json:"body"`
	Attributes []otlpKV `json:"attributes"`
}

type otlpKV struct {
	Key   string `json:"key"`
	Value struct {
		StringValue *string  `json:"stringValue"`
		IntValue    *string  `json:"intValue"`
		DoubleValue *float64 `json:"doubleValue"`
		BoolValue   *bool    `json:"boolValue"`
	} `json:"value"`
}

// attrs flattens attributes to key=value strings.
func attrs(kvs []otlpKV) map[string]string {
	m := make(map[string]string)
	for _, kv := range kvs {
		v := kv.Value
		switch {
		case v.StringValue != nil:
			m[kv.Key] = *v.StringValue
		case v.IntValue != nil:
			m[kv.Key] = "int:" + *v.IntValue
		case v.DoubleValue != nil:
			m[kv.Key] = "double:" + strconv.FormatFloat(*v.DoubleValue, 'g', -1, 64)
		case v.BoolValue != nil:
			m[kv.Key] = "bool:" + strconv.FormatBool(*v.BoolValue)
		default:
			m[kv.Key] = "?"
		}
	}
	return m
}

func decodeOTLP(body []byte) (otlpRequest, error) {
	var req otlpRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("decoding ExportLogsServiceRequest: %w", err)
	}
	return req, nil
}

// checkOTLP answers 400 to what a collector would refuse.
func checkOTLP(r received) reply {
	if r.method != http.MethodPost || r.path != OTLPLogsPath {
		return reply{status: 404}
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		return reply{status: 415, body: "unsupported content type " + ct}
	}
	if _, err := decodeOTLP(r.body); err != nil {
		return reply{status: 400, body: `{"code":3,"message":"` + err.Error() + `"}`}
	}
	return reply{}
}

func TestOTLPDeliver(t *testing.T) {
	partial := func(n string) reply {
		return reply{status: 200, body: `{"partialSuccess":{"rejectedLogRecords":` + n + `,"errorMessage":"log record too old"}}`}
	}
	tests := []struct {
		name    string
		replies []reply
		want    string
	}{
		{"200 empty", []reply{{status: 200}}, "ok"},
		{"200 empty object", []reply{{status: 200, body: "{}"}}, "ok"},
		{"200 partial success, count as a string", []reply{partial(`"2"`)},
			"rejected all: otlp partial success: 2 of 3 log records rejected: log record too old"},
		{"200 partial success, count as a number", []reply{partial(`1`)},
			"rejected all: otlp partial success: 1 of 3 log records rejected: log record too old"},
		{"200 partial success with no rejection is a warning", []reply{partial(`0`)}, "ok"},
		{"429 with retry-after", []reply{{status: 429, header: map[string]string{"Retry-After": "4"}}}, "retryable: status 429 after 4s"},
		{"502", []reply{{status: 502}}, "retryable: status 502 after 0s"},
		{"503 with retry-after date", []reply{{status: 503, header: map[string]string{
			"Retry-After": sinkClockTime.Add(time.Minute).Format(http.TimeFormat)}}}, "retryable: status 503 after 1m0s"},
		{"504", []reply{{status: 504}}, "retryable: status 504 after 0s"},
		{"400 rejected", []reply{{status: 400, body: `{"code":3,"message":"bad"}`}},
			`rejected all: otlp: status 400: {"code":3,"message":"bad"}`},
		{"500 is not retryable per the specification", []reply{{status: 500, body: "boom"}},
			"rejected all: otlp: status 500: boom"},
		{"403 waits for a fixed key", []reply{{status: 403}}, "retryable: status 403 after 0s"},
		{"413 too large", []reply{{status: 413}}, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, reply{status: 200}, tt.replies...)
			rc.check = checkOTLP
			d, err := NewOTLPDeliverer(HTTPOptions{URL: rc.URL, Clock: clockwork.NewFakeClockAt(sinkClockTime)})
			if err != nil {
				t.Fatal(err)
			}
			defer d.(interface{ Close() error }).Close()
			if got := outcome(d.Deliver(t.Context(), sinkEvents(3))); got != tt.want {
				t.Errorf("Deliver() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestOTLPRequestBody(t *testing.T) {
	rc := newReceiver(t, reply{status: 200})
	rc.check = checkOTLP
	d, err := NewOTLPDeliverer(HTTPOptions{URL: rc.URL, Headers: map[string]string{"Api-Key": "k"},
		Clock: clockwork.NewFakeClockAt(sinkClockTime)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.(interface{ Close() error }).Close()
	evs := sinkEvents(2)
	evs[0].Record = Record{Raw: []byte(`{"level":"warn","msg":"slow","user":"u1"}`), Level: "warn",
		Message: []byte("slow"), Fields: map[string]string{"user": "u1"}, Duration: 1500 * time.Millisecond,
		Present: HasDuration}
	evs[0].Split = true
	evs[1].Host = "h2"
	evs[1].Record.Bytes, evs[1].Record.Present = 512, HasBytes
	if err := d.Deliver(t.Context(), evs); err != nil {
		t.Fatalf("Deliver() = %v", err)
	}
	reqs := rc.requests()
	if len(reqs) != 1 || reqs[0].header.Get("Api-Key") != "k" {
		t.Fatalf("requests = %d, Api-Key %q; want 1 with the header", len(reqs), reqs[0].header.Get("Api-Key"))
	}
	req, err := decodeOTLP(reqs[0].body)
	if err != nil {
		t.Fatal(err)
	}
	type flat struct {
		Resource map[string]string
		Scope    string
		Time     string
		Observed string
		Severity string
		Body     string
		Attrs    map[string]string
	}
	var got []flat
	for _, rl := range req.ResourceLogs {
		for _, sl := range rl.ScopeLogs {
			for _, r := range sl.LogRecords {
				got = append(got, flat{attrs(rl.Resource.Attributes), sl.Scope.Name, r.TimeUnixNano,
					r.ObservedTimeUnixNano, fmt.Sprintf("%d %s", r.SeverityNumber, r.SeverityText),
					r.Body.StringValue, attrs(r.Attributes)})
			}
		}
	}
	ns := func(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }
	want := []flat{
		{
			Resource: map[string]string{"service.name": "web", "migrate.side": "old", "host.name": "h1"},
			Scope:    "migrate/logship", Time: ns(evs[0].Time), Observed: ns(sinkClockTime), Severity: "13 warn",
			Body: `{"level":"warn","msg":"slow","user":"u1"}`,
			Attrs: map[string]string{"log.file.path": "/var/log/app.log", "log.record.uid": "e0", "migrate.offset": "int:0",
				"migrate.duration_seconds": "double:1.5", "migrate.message": "slow", "migrate.split": "bool:true", "user": "u1"},
		},
		{
			Resource: map[string]string{"service.name": "web", "migrate.side": "old", "host.name": "h2"},
			Scope:    "migrate/logship", Time: ns(evs[1].Time), Observed: ns(sinkClockTime), Severity: "0 ",
			Body: "line 1",
			Attrs: map[string]string{"log.file.path": "/var/log/app.log", "log.record.uid": "e1", "migrate.offset": "int:10",
				"http.request.method": "GET", "url.path": "/p", "http.response.status_code": "int:200",
				"http.response.body.size": "int:512"},
		},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("log records (-got +want):\n%s", diff)
	}
}

func TestOTLPSeverity(t *testing.T) {
	tests := []struct {
		level string
		want  int
	}{
		{"trace", 1}, {"DEBUG", 5}, {"info", 9}, {"Warning", 13}, {"error", 17}, {"ERR", 17},
		{"fatal", 21}, {"panic", 21}, {"verbose", 0},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			if got := otlpSeverity(tt.level); got != tt.want {
				t.Errorf("otlpSeverity(%q) = %d, want %d", tt.level, got, tt.want)
			}
		})
	}
}

// TestOTLPSink sends through NewSink: a 503 is retried after its
// Retry-After; a partial success dead-letters the whole batch.
func TestOTLPSink(t *testing.T) {
	rc := newReceiver(t, reply{status: 200},
		reply{status: 503, header: map[string]string{"Retry-After": "9"}}, reply{status: 200},
		reply{status: 200, body: `{"partialSuccess":{"rejectedLogRecords":"1","errorMessage":"too old"}}`})
	rc.check = checkOTLP
	clock := newWaitClock()
	d, err := NewOTLPDeliverer(HTTPOptions{URL: rc.URL, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	dl := NewDeadLetter(filepath.Join(t.TempDir(), "dl.jsonl"))
	s := NewSink(d, SinkOptions{DeadLetter: dl, Clock: clock})
	defer s.Close()
	for _, batch := range [][]Event{sinkEvents(2), sinkEvents(4)[2:]} {
		if err := sendAdvancing(t.Context(), t, clock, s, batch); err != nil {
			t.Fatalf("Send() = %v", err)
		}
	}
	if diff := cmp.Diff(clock.recorded(), []time.Duration{9 * time.Second}); diff != "" {
		t.Errorf("waits (-got +want):\n%s", diff)
	}
	var dead []string
	for _, l := range readDeadLetters(t, dl.Path()) {
		dead = append(dead, l.Event.ID+": "+l.Reason)
	}
	reason := "otlp partial success: 1 of 2 log records rejected: too old"
	if diff := cmp.Diff(dead, []string{"e2: " + reason, "e3: " + reason}); diff != "" {
		t.Errorf("dead letters (-got +want):\n%s", diff)
	}
}

package rollback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The Prometheus HTTP API, as much of it as the source needs: instant
// queries and the names of known metrics.

// maxPromBody bounds what is read of a Prometheus answer. The queries are
// aggregated to one series, so an answer is small; a larger one is cut and
// fails to decode rather than filling memory.
const maxPromBody = 4 << 20

// ErrNoData is returned when a query answers with an empty vector: no series
// matched (an unknown metric, a wrong label, a target not scraped yet). It is
// never read as zero. A query for a stack whose error series may be absent
// can end in `or vector(0)` to mean zero.
var ErrNoData = errors.New("no data: the query returned an empty vector")

// APIError is an answer of Prometheus that is not a result: an error status
// of its API (errorType bad_data for a query that does not parse, execution,
// timeout, ...) or an HTTP error without one.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Type is the API's errorType; empty when the answer was not the API's.
	Type string
	// Message is the API's error, or the start of the body.
	Message string
}

func (e *APIError) Error() string {
	if e.Type == "" {
		return fmt.Sprintf("prometheus answered HTTP %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("prometheus answered HTTP %d, %s: %s", e.Status, e.Type, e.Message)
}

// BadQuery reports whether Prometheus rejected the query itself (bad_data):
// bad PromQL, which no retry will fix.
func (e *APIError) BadQuery() bool { return e.Type == "bad_data" }

// apiResponse is the envelope of every answer of the HTTP API.
type apiResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
}

// queryData is the data of an instant query.
type queryData struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

// vectorSample is one series of an instant vector; Value is [time, "value"].
type vectorSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// promAPI calls one Prometheus server.
type promAPI struct {
	base    *url.URL
	http    *http.Client
	timeout time.Duration
}

// get calls path with params and decodes the envelope; it returns the data
// and the server's warnings, or the server's error.
func (a *promAPI) get(ctx context.Context, path string, params url.Values) (json.RawMessage, []string, error) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	u := a.base.JoinPath(path)
	u.RawQuery = params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		// The URL in a *url.Error repeats the query, which the caller names.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, nil, fmt.Errorf("calling prometheus at %s: %w", a.base.Redacted(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPromBody))
	if err != nil {
		return nil, nil, fmt.Errorf("reading prometheus answer: %w", err)
	}
	return decodeEnvelope(resp.StatusCode, body)
}

// decodeEnvelope reads an answer of the API: its data on success, an
// *APIError on an error status or an HTTP error.
func decodeEnvelope(status int, body []byte) (json.RawMessage, []string, error) {
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil || r.Status == "" {
		if status/100 != 2 {
			return nil, nil, &APIError{Status: status, Message: snippet(body)}
		}
		return nil, nil, fmt.Errorf("decoding prometheus answer (HTTP %d): not the JSON of its API: %q", status, snippet(body))
	}
	if r.Status != "success" {
		return nil, r.Warnings, &APIError{Status: status, Type: r.ErrorType, Message: r.Error}
	}
	return r.Data, r.Warnings, nil
}

// snippet is the start of a body, for an error message.
func snippet(body []byte) string {
	const max = 200
	s := strings.TrimSpace(string(body))
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}

// query runs an instant query at t and returns its single value.
func (a *promAPI) query(ctx context.Context, promql string, t time.Time) (float64, []string, error) {
	params := url.Values{
		"query":   {promql},
		"time":    {promTime(t)},
		"timeout": {promDuration(a.timeout)},
	}
	data, warnings, err := a.get(ctx, "api/v1/query", params)
	if err != nil {
		return 0, warnings, err
	}
	v, err := singleValue(data)
	return v, warnings, err
}

// singleValue reads the one value of an instant query's data: a scalar, or
// a vector of exactly one series.
func singleValue(data json.RawMessage) (float64, error) {
	var d queryData
	if err := json.Unmarshal(data, &d); err != nil {
		return 0, fmt.Errorf("decoding query result: %w", err)
	}
	switch d.ResultType {
	case "scalar":
		var v [2]any
		if err := json.Unmarshal(d.Result, &v); err != nil {
			return 0, fmt.Errorf("decoding scalar: %w", err)
		}
		return sampleValue(v)
	case "vector":
		var vec []vectorSample
		if err := json.Unmarshal(d.Result, &vec); err != nil {
			return 0, fmt.Errorf("decoding vector: %w", err)
		}
		switch len(vec) {
		case 0:
			return 0, ErrNoData
		case 1:
			return sampleValue(vec[0].Value)
		}
		return 0, fmt.Errorf("reading vector: %d series where one is needed (aggregate them, with sum for instance)", len(vec))
	}
	return 0, fmt.Errorf("reading query result: type %q where an instant vector or a scalar is needed", d.ResultType)
}

// sampleValue parses the value of a [time, "value"] pair; "NaN", "+Inf"
// and "-Inf" are numbers too.
func sampleValue(v [2]any) (float64, error) {
	s, ok := v[1].(string)
	if !ok {
		return 0, fmt.Errorf("reading sample value: %v is not a string", v[1])
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("reading sample value: %w", err)
	}
	return f, nil
}

// metricKnown reports whether Prometheus holds any series whose metric name
// matches matcher (a __name__ matcher such as `="x"` or `=~"migrate_.+"`),
// over all the time it stores.
func (a *promAPI) metricKnown(ctx context.Context, matcher string) (bool, error) {
	params := url.Values{"match[]": {"{__name__" + matcher + "}"}}
	data, _, err := a.get(ctx, "api/v1/label/__name__/values", params)
	if err != nil {
		return false, err
	}
	var names []string
	if err := json.Unmarshal(data, &names); err != nil {
		return false, fmt.Errorf("decoding metric names: %w", err)
	}
	return len(names) > 0, nil
}

// promTime formats t for the API: Unix seconds with milliseconds.
func promTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}

// promDuration formats d as a PromQL duration: whole seconds ("30s") when
// it is one, else milliseconds ("1500ms"), at least 1ms.
func promDuration(d time.Duration) string {
	if d%time.Second == 0 && d > 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	ms := int64(math.Ceil(float64(d) / float64(time.Millisecond)))
	return strconv.FormatInt(max(ms, 1), 10) + "ms"
}

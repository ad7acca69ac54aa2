package logship

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// The Elasticsearch deliverer posts to the bulk API, POST <url>/_bulk, a
// gzipped NDJSON body with one create action per event, the event's id as
// the document id:
//
//	{"create":{"_index":"<index>","_id":"<event id>"}}
//	{"@timestamp":"...", <the event's JSON, see AppendEvent>}
//
// create (not index) makes a resent event a 409 conflict instead of a
// second copy, and is what data streams require; @timestamp is the
// event time.
//
// Answers: a 2xx with "errors": false accepts the batch. With
// "errors": true each item has its own status: 2xx and 409 (already
// there) are accepted, 429 and 5xx are sent again (only those, through a
// *PartialError), any other is a rejection of that event with the
// item's error type and reason. A whole-request 429 or 5xx is retryable,
// honouring Retry-After; 413 splits the batch; another 4xx rejects it.

// ElasticBulkPath is the path of Elasticsearch's bulk API.
const ElasticBulkPath = "/_bulk"

// DefaultElasticIndex is the index (or data stream) of an Elasticsearch
// sink that names none.
const DefaultElasticIndex = "migrate-logs"

// elasticDeliverer is the Deliverer of NewElasticDeliverer.
type elasticDeliverer struct {
	p     *httpPoster
	index string
	body  []byte
}

// NewElasticDeliverer returns a Deliverer for the bulk API of the
// Elasticsearch at opts.URL, creating documents in index
// (DefaultElasticIndex when empty).
func NewElasticDeliverer(opts HTTPOptions, index string) (Deliverer, error) {
	p, err := newHTTPPoster("elasticsearch", ElasticBulkPath, opts)
	if err != nil {
		return nil, err
	}
	if index == "" {
		index = DefaultElasticIndex
	}
	return &elasticDeliverer{p: p, index: index}, nil
}

// Deliver implements Deliverer.
func (d *elasticDeliverer) Deliver(ctx context.Context, batch []Event) error {
	d.body = d.appendBulk(d.body[:0], batch)
	a, err := d.p.post(ctx, d.body, "application/x-ndjson", nil)
	if err != nil {
		return err
	}
	if err := d.p.classify("elasticsearch", a, func(s int) bool {
		return s == http.StatusTooManyRequests || s >= 500 || s == http.StatusRequestTimeout
	}); err != nil {
		return err
	}
	return d.items(a, len(batch))
}

// appendBulk appends the NDJSON body of batch.
func (d *elasticDeliverer) appendBulk(dst []byte, batch []Event) []byte {
	for i := range batch {
		e := &batch[i]
		dst = append(dst, `{"create":{"_index":`...)
		dst = encString(dst, d.index)
		dst = encKey(dst, ',', "_id")
		dst = encString(dst, e.ID)
		dst = append(dst, "}}\n"...)
		dst = encKey(dst, '{', "@timestamp")
		dst = append(dst, '"')
		dst = e.Time.AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"', ',')
		n := len(dst)
		dst = AppendEvent(dst, e)
		dst = append(dst[:n], dst[n+1:]...) // drop the event's '{'
		dst = append(dst, '\n')
	}
	return dst
}

// bulkAnswer is the part of a bulk answer the deliverer reads.
type bulkAnswer struct {
	Errors bool                  `json:"errors"`
	Items  []map[string]bulkItem `json:"items"`
}

type bulkItem struct {
	Status int `json:"status"`
	Error  *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

// items reads a 2xx bulk answer for a batch of n events.
func (d *elasticDeliverer) items(a *httpAnswer, n int) error {
	var ans bulkAnswer
	if err := json.Unmarshal(a.body, &ans); err != nil {
		return &RetryableError{Status: a.status, Err: fmt.Errorf("elasticsearch: reading bulk answer: %w: %s", err, snippet(a.body))}
	}
	if !ans.Errors {
		return nil
	}
	if len(ans.Items) != n {
		return &RetryableError{Status: a.status, Err: fmt.Errorf("elasticsearch: bulk answer has %d items for %d events", len(ans.Items), n)}
	}
	part := &PartialError{After: d.p.retryAfter(a)}
	for i, item := range ans.Items {
		if len(item) != 1 {
			return &RetryableError{Status: a.status, Err: fmt.Errorf("elasticsearch: bulk answer item %d has %d actions, want 1", i, len(item))}
		}
		for _, it := range item {
			d.item(part, i, it)
		}
	}
	if len(part.Rejected) == 0 && len(part.Retry) == 0 {
		return nil
	}
	return part
}

// item sorts the answer for event i into part.
func (d *elasticDeliverer) item(part *PartialError, i int, it bulkItem) {
	switch s := it.Status; {
	case s >= 200 && s < 300, s == http.StatusConflict:
	case s == http.StatusTooManyRequests || s >= 500:
		part.Retry = append(part.Retry, i)
		if part.Status != http.StatusTooManyRequests {
			part.Status = s
		}
	default:
		reason := "status " + strconv.Itoa(s)
		if it.Error != nil {
			reason += ": " + it.Error.Type + ": " + it.Error.Reason
		}
		part.Rejected = append(part.Rejected, i)
		part.Reasons = append(part.Reasons, "elasticsearch: "+reason)
	}
}

// Close implements io.Closer.
func (d *elasticDeliverer) Close() error { return d.p.Close() }

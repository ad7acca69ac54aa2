package logship

import (
	"context"
	"net/http"
	"strconv"
)

// The Loki deliverer posts to Loki's push API, POST <url>/loki/api/v1/push,
// a gzipped JSON body:
//
//	{"streams":[{"stream":{"app":"web","side":"old","host":"h1"},
//	             "values":[["<unix ns>","<line>"], ...]}, ...]}
//
// Streams are labelled by app, side and host only, to keep Loki's index
// small; the line is the event's JSON (AppendEvent: file, id, offset and
// the parsed fields), which LogQL reads with `| json`. An event sent again
// after a restart has the same timestamp and line, which Loki drops as a
// duplicate. With a tenant, X-Scope-OrgID carries it.
//
// Answers: 204 or 200 accept the push; 429 and 5xx are retryable,
// honouring Retry-After; 413 splits the batch; 400 (out of order, too
// old, line too long, invalid labels) rejects it. Loki answers for the
// whole push without saying which entries it refused, so a 400
// dead-letters the whole batch: some of its entries may also be in Loki,
// none is lost.

// LokiPushPath is the path of Loki's push API.
const LokiPushPath = "/loki/api/v1/push"

// lokiDeliverer is the Deliverer of NewLokiDeliverer.
type lokiDeliverer struct {
	p      *httpPoster
	header http.Header
	body   []byte
	line   []byte
	groups streamGroups
}

// NewLokiDeliverer returns a Deliverer for Loki's push API at opts.URL;
// tenant, when set, is sent as X-Scope-OrgID.
func NewLokiDeliverer(opts HTTPOptions, tenant string) (Deliverer, error) {
	p, err := newHTTPPoster("loki", LokiPushPath, opts)
	if err != nil {
		return nil, err
	}
	d := &lokiDeliverer{p: p, header: make(http.Header)}
	if tenant != "" {
		d.header.Set("X-Scope-OrgID", tenant)
	}
	return d, nil
}

// Deliver implements Deliverer.
func (d *lokiDeliverer) Deliver(ctx context.Context, batch []Event) error {
	d.body = d.appendPush(d.body[:0], batch)
	a, err := d.p.post(ctx, d.body, "application/json", d.header)
	if err != nil {
		return err
	}
	return d.p.classify("loki", a, func(s int) bool {
		return s == http.StatusTooManyRequests || s >= 500 || s == http.StatusRequestTimeout
	})
}

// appendPush appends the push request of batch.
func (d *lokiDeliverer) appendPush(dst []byte, batch []Event) []byte {
	d.groups.group(batch)
	dst = append(dst, `{"streams":[`...)
	for gi, g := range d.groups.list {
		if gi > 0 {
			dst = append(dst, ',')
		}
		e := &batch[g.idx[0]]
		dst = encKey(dst, '{', "stream")
		dst = encKey(dst, '{', "app")
		dst = encString(dst, e.App)
		dst = encField(dst, "side", e.Side)
		dst = encField(dst, "host", e.Host)
		dst = append(dst, '}')
		dst = append(encKey(dst, ',', "values"), '[')
		for i, ei := range g.idx {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '[')
			dst = append(dst, '"')
			dst = strconv.AppendInt(dst, batch[ei].Time.UnixNano(), 10)
			dst = append(dst, '"', ',')
			dst = d.appendLine(dst, &batch[ei])
			dst = append(dst, ']')
		}
		dst = append(dst, ']', '}')
	}
	return append(dst, ']', '}')
}

// appendLine appends the event's JSON as a JSON string.
func (d *lokiDeliverer) appendLine(dst []byte, e *Event) []byte {
	d.line = AppendEvent(d.line[:0], e)
	return encBytes(dst, d.line)
}

// Close implements io.Closer.
func (d *lokiDeliverer) Close() error { return d.p.Close() }

// streamKey is what a stream (Loki) or a resource (OTLP) is labelled by.
type streamKey struct{ app, side, host string }

// streamGroup lists the events of one stream by index in the batch.
type streamGroup struct {
	key streamKey
	idx []int
}

// streamGroups groups a batch's events by stream, in order of first
// appearance, reusing its memory from batch to batch.
type streamGroups struct {
	list []streamGroup
	at   map[streamKey]int
}

func (g *streamGroups) group(batch []Event) {
	if g.at == nil {
		g.at = make(map[streamKey]int)
	}
	clear(g.at)
	g.list = g.list[:0]
	for i := range batch {
		k := streamKey{batch[i].App, batch[i].Side, batch[i].Host}
		n, ok := g.at[k]
		if !ok {
			n = len(g.list)
			g.at[k] = n
			if n < cap(g.list) {
				g.list = g.list[:n+1]
				g.list[n].key, g.list[n].idx = k, g.list[n].idx[:0]
			} else {
				g.list = append(g.list, streamGroup{key: k})
			}
		}
		g.list[n].idx = append(g.list[n].idx, i)
	}
}

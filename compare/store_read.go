package compare

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Sample is one stored example of a differing field: the exchange as it was
// captured, with secrets redacted, bodies decoded and capped.
type Sample struct {
	// ID names the example (Store.Example); IDs are never reused.
	ID        int64
	App       string
	Direction Direction
	Endpoint  string
	// Field is the field this is an example of.
	Field   string
	At      time.Time
	Outcome Outcome
	Request Request
	// RequestTruncated says Request.Body is not the whole body.
	RequestTruncated bool
	Primary          Response
	Candidate        Response
	// Diffs are the pair's differences, at most a few per field.
	Diffs []Difference
	Noisy []string
}

// ErrNoSample is returned by Example for an ID the store does not hold.
var ErrNoSample = errors.New("no such sample")

const selectSample = `SELECT e.id, e.app, e.direction, e.endpoint, e.field, p.at, p.outcome, p.method, p.host, p.path, p.query,
	p.req_header, p.req_body, p.req_truncated, p.primary_meta, p.primary_body, p.candidate_meta,
	p.candidate_body, p.diffs, p.noisy
	FROM examples e JOIN pairs p ON p.id = e.pair_id`

// Examples returns an endpoint's examples in direction dir (empty:
// old_to_new) by field, newest first.
func (s *Store) Examples(ctx context.Context, app string, dir Direction, endpoint string) (map[string][]Sample, error) {
	samples, err := s.query(ctx, selectSample+` WHERE e.app = ? AND e.direction = ? AND e.endpoint = ?
		ORDER BY e.field, e.at DESC, e.id DESC`, app, dir.Norm(), endpoint)
	if err != nil {
		return nil, fmt.Errorf("reading examples of %s %s %s: %w", app, dir.Norm(), endpoint, err)
	}
	out := make(map[string][]Sample)
	for _, sm := range samples {
		out[sm.Field] = append(out[sm.Field], sm)
	}
	return out, nil
}

// Examples holds one example per direction, endpoint and field: a
// Report's Examples.
type Examples map[Direction]map[string]map[string]Sample

// Get returns the example of an endpoint's field in direction dir (empty:
// old_to_new).
func (ex Examples) Get(dir Direction, endpoint, field string) (Sample, bool) {
	s, ok := ex[dir.Norm()][endpoint][field]
	return s, ok
}

// add keeps s unless its place holds an example already.
func (ex Examples) add(s Sample) {
	eps := ex[s.Direction]
	if eps == nil {
		eps = make(map[string]map[string]Sample)
		ex[s.Direction] = eps
	}
	fields := eps[s.Endpoint]
	if fields == nil {
		fields = make(map[string]Sample)
		eps[s.Endpoint] = fields
	}
	if _, ok := fields[s.Field]; !ok {
		fields[s.Field] = s
	}
}

// LatestExamples returns the newest example of every direction, endpoint
// and field of an app.
func (s *Store) LatestExamples(ctx context.Context, app string) (Examples, error) {
	samples, err := s.query(ctx, selectSample+` WHERE e.app = ?
		ORDER BY e.direction, e.endpoint, e.field, e.at DESC, e.id DESC`, app)
	if err != nil {
		return nil, fmt.Errorf("reading examples of %s: %w", app, err)
	}
	out := make(Examples)
	for _, sm := range samples {
		out.add(sm)
	}
	return out, nil
}

// Example returns the example with the given ID, or ErrNoSample.
func (s *Store) Example(ctx context.Context, id int64) (Sample, error) {
	samples, err := s.query(ctx, selectSample+` WHERE e.id = ?`, id)
	if err != nil {
		return Sample{}, fmt.Errorf("reading example %d: %w", id, err)
	}
	if len(samples) == 0 {
		return Sample{}, fmt.Errorf("reading example %d: %w", id, ErrNoSample)
	}
	return samples[0], nil
}

func (s *Store) query(ctx context.Context, q string, args ...any) ([]Sample, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Sample
	for rows.Next() {
		sm, err := scanSample(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sm)
	}
	return out, rows.Err()
}

func scanSample(rows *sql.Rows) (Sample, error) {
	var sm Sample
	var r pairRow
	err := rows.Scan(&sm.ID, &sm.App, &sm.Direction, &sm.Endpoint, &sm.Field, &r.at, &r.outcome, &r.method, &r.host,
		&r.path, &r.query, &r.reqHeader, &r.reqBody, &r.reqTruncated, &r.primaryMeta, &r.primaryBody,
		&r.candidateMeta, &r.candidateBody, &r.diffs, &r.noisy)
	if err != nil {
		return sm, err
	}
	if err := decodeSample(&sm, &r); err != nil {
		return sm, fmt.Errorf("decoding example %d: %w", sm.ID, err)
	}
	return sm, nil
}

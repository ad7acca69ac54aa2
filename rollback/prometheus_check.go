package rollback

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ownPrefix starts the names of migrate's own metrics.
const ownPrefix = "migrate_"

// Check runs every query of app once, for both sides, so that a rule that
// cannot be evaluated fails the controller's start rather than every
// evaluation. The error joins what cannot work, each naming the query, the
// side and the PromQL: an unreachable server, bad PromQL (bad_data), a
// result that is not one value, a metric Prometheus has never stored. The
// warnings are what may heal: a query with no data yet, the server's own
// warnings, and migrate's own metrics missing while Prometheus has no
// migrate metric at all (it has not scraped a started migrate yet).
//
// Metric names are found in the PromQL as the names before a { or a [;
// a bare name (sum(up)) is not looked up, and its empty result is a
// warning.
func (p *PromSource) Check(ctx context.Context, app string, window time.Duration) (warnings []string, err error) {
	at := p.clock.Now()
	var errs []error
	for _, q := range []promQuery{p.errors, p.total, p.p99} {
		for _, side := range []string{"old", "new"} {
			w, err := p.checkQuery(ctx, q, queryVars{App: app, Side: side, Window: promDuration(window)}, at)
			warnings = append(warnings, w...)
			if err != nil {
				errs = append(errs, err)
				break // the other side's query fails alike
			}
		}
	}
	return warnings, errors.Join(errs...)
}

// checkQuery runs one query and sorts what it finds into warnings and an
// error.
func (p *PromSource) checkQuery(ctx context.Context, q promQuery, v queryVars, at time.Time) ([]string, error) {
	promql, err := q.render(v)
	if err != nil {
		return nil, &QueryError{Query: q.key, Side: v.Side, PromQL: q.tmpl.Root.String(), Err: err}
	}
	f, warnings, err := p.api.query(ctx, promql, at)
	for i, w := range warnings {
		warnings[i] = fmt.Sprintf("prometheus warns about %s of side %s: %s; query: %s", q.key, v.Side, w, promql)
	}
	switch {
	case errors.Is(err, ErrNoData):
		w, err := p.checkNames(ctx, q, v, promql)
		return append(warnings, w...), err
	case err != nil:
		return warnings, &QueryError{Query: q.key, Side: v.Side, PromQL: promql, Err: err}
	}
	if q.key != queryP99 {
		if _, err := toCount(f); err != nil {
			return warnings, &QueryError{Query: q.key, Side: v.Side, PromQL: promql, Err: err}
		}
	}
	return warnings, nil
}

// checkNames explains an empty result: an error for a metric Prometheus has
// never stored, else a warning.
func (p *PromSource) checkNames(ctx context.Context, q promQuery, v queryVars, promql string) ([]string, error) {
	noData := fmt.Sprintf("%s of side %s has no data yet; query: %s", q.key, v.Side, promql)
	var errs []error
	for _, name := range metricNames(promql) {
		known, err := p.api.metricKnown(ctx, `="`+name+`"`)
		if err != nil {
			return nil, &QueryError{Query: q.key, Side: v.Side, PromQL: promql, Err: fmt.Errorf("looking up metric %s: %w", name, err)}
		}
		if known {
			continue
		}
		if strings.HasPrefix(name, ownPrefix) {
			scraped, err := p.api.metricKnown(ctx, `=~"`+ownPrefix+`.+"`)
			if err != nil {
				return nil, &QueryError{Query: q.key, Side: v.Side, PromQL: promql, Err: fmt.Errorf("looking up migrate metrics: %w", err)}
			}
			if !scraped {
				return []string{noData + " (prometheus has no migrate metric yet: is it scraping migrate?)"}, nil
			}
		}
		errs = append(errs, &QueryError{Query: q.key, Side: v.Side, PromQL: promql,
			Err: fmt.Errorf("unknown metric %s: prometheus has no series of it", name)})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return []string{noData}, nil
}

// metricNames returns the metric names of a PromQL query: the identifiers
// written just before a { or a [, outside strings, label matchers and
// ranges. It is a scanner, not a parser: good enough to name a misspelt
// metric, not a validation.
func metricNames(q string) []string {
	var names []string
	seen := map[string]bool{}
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(q, i)
		case c == '{' || c == '[':
			i = skipBlock(q, i)
		case isIdentStart(c):
			j := i
			for j < len(q) && isIdent(q[j]) {
				j++
			}
			k := j
			for k < len(q) && (q[k] == ' ' || q[k] == '\t' || q[k] == '\n') {
				k++
			}
			if name := q[i:j]; k < len(q) && (q[k] == '{' || q[k] == '[') && !seen[name] {
				seen[name] = true
				names = append(names, name)
			}
			i = j
		case c >= '0' && c <= '9' || c == '.':
			for i < len(q) && (isIdent(q[i]) || q[i] == '.') {
				i++
			}
		default:
			i++
		}
	}
	return names
}

// skipString returns the index after the string literal starting at i.
func skipString(q string, i int) int {
	quote := q[i]
	for j := i + 1; j < len(q); j++ {
		switch q[j] {
		case '\\':
			if quote != '`' {
				j++
			}
		case quote:
			return j + 1
		}
	}
	return len(q)
}

// skipBlock returns the index after the {...} or [...] starting at i,
// skipping the strings inside.
func skipBlock(q string, i int) int {
	end := byte('}')
	if q[i] == '[' {
		end = ']'
	}
	for j := i + 1; j < len(q); {
		switch q[j] {
		case '"', '\'', '`':
			j = skipString(q, j)
		case end:
			return j + 1
		default:
			j++
		}
	}
	return len(q)
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdent(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

package dashboards

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/state"
)

// Remote reads a running instance through its admin API: the status, the
// Prometheus series of /metrics, the JSON diff report (whose examples
// carry no bodies) and the events.
type Remote struct {
	// BaseURL is the admin API: "http://127.0.0.1:9090" or "127.0.0.1:9090".
	BaseURL string
	// Token is sent as a bearer token when set (reads from a non-loopback
	// address need it).
	Token string
	// App keeps one app; empty keeps every app.
	App string
	// HTTP is the client used; nil means one with a 10 s timeout.
	HTTP *http.Client
}

var _ Source = (*Remote)(nil)

func (r *Remote) base() string {
	b := strings.TrimRight(r.BaseURL, "/")
	if !strings.Contains(b, "://") {
		b = "http://" + b
	}
	return b
}

func (r *Remote) client() *admin.Client {
	return &admin.Client{BaseURL: r.BaseURL, Token: r.Token, HTTP: r.http()}
}

func (r *Remote) http() *http.Client {
	if r.HTTP != nil {
		return r.HTTP
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// Apps implements Source.
func (r *Remote) Apps(ctx context.Context) ([]admin.AppStatus, error) {
	if r.App != "" {
		st, err := r.client().App(ctx, r.App)
		if err != nil {
			return nil, err
		}
		return []admin.AppStatus{st}, nil
	}
	return r.client().Apps(ctx)
}

// Gather implements Source: it reads /metrics in the text format.
func (r *Remote) Gather(ctx context.Context) ([]*dto.MetricFamily, error) {
	body, err := r.get(ctx, "/metrics")
	if err != nil {
		return nil, err
	}
	defer body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(io.LimitReader(body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("parsing %s/metrics: %w", r.base(), err)
	}
	out := make([]*dto.MetricFamily, 0, len(fams))
	for _, f := range fams {
		out = append(out, f)
	}
	return out, nil
}

// Diffs implements Source, from the JSON diff report.
func (r *Remote) Diffs(ctx context.Context, app string) (DiffView, bool, error) {
	raw, err := r.client().Diffs(ctx, app, compare.FormatJSON)
	if admin.IsNotFound(err) {
		return DiffView{}, false, nil
	}
	if err != nil {
		return DiffView{}, false, err
	}
	v, err := decodeReport(raw)
	if err != nil {
		return DiffView{}, false, fmt.Errorf("decoding the diff report of %s: %w", app, err)
	}
	return v, true, nil
}

// Events implements Source.
func (r *Remote) Events(ctx context.Context, after string, limit int) ([]state.Event, error) {
	q := url.Values{}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	body, err := r.get(ctx, "/api/v1/events?"+q.Encode())
	if err != nil {
		return nil, err
	}
	defer body.Close()
	var evs []state.Event
	if err := json.NewDecoder(io.LimitReader(body, 8<<20)).Decode(&evs); err != nil {
		return nil, fmt.Errorf("decoding events: %w", err)
	}
	return evs, nil
}

func (r *Remote) get(ctx context.Context, path string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base()+path, nil)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	resp, err := r.http().Do(req)
	if err != nil {
		return nil, fmt.Errorf("reaching the admin API at %s: %w", r.base(), err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("reading %s%s: %s", r.base(), path, resp.Status)
	}
	return resp.Body, nil
}

// Handler serves the dashboard under Prefix and passes the page's admin
// API calls (/api/v1/, the actions with their token) to the instance.
func (r *Remote) Handler(d *Dashboard) (http.Handler, error) {
	target, err := url.Parse(r.base())
	if err != nil {
		return nil, fmt.Errorf("parsing the admin API address %q: %w", r.BaseURL, err)
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = target.Host
	}}
	mux := http.NewServeMux()
	mux.Handle(Prefix, d.Handler())
	mux.Handle("/dashboard", d.Handler())
	mux.Handle("/api/v1/", proxy)
	mux.Handle("GET /{$}", http.RedirectHandler(Prefix, http.StatusFound))
	return mux, nil
}

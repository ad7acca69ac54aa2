package dnscheck

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// FallbackStatus is what a running `migrate fallback` says about the
// stragglers still reaching the old host, at GET
// /api/v1/apps/{app}/fallback of its admin URL.
type FallbackStatus struct {
	App               string  `json:"app"`
	RequestsPerMinute float64 `json:"requests_per_minute"`
	ClientsLastHour   uint64  `json:"clients_last_hour"`
	// BelowSince is when arrivals went under RetireBelow; nil while above.
	BelowSince         *time.Time `json:"below_since"`
	RetireBelow        float64    `json:"retire_below"`
	RetireAfterSeconds float64    `json:"retire_after_seconds"`
	// URL is the admin URL it came from (not part of the answer).
	URL string `json:"-"`
}

// FetchFallback asks the fallback at baseURL about app. A nil client is
// http.DefaultClient with the context's deadline.
func FetchFallback(ctx context.Context, hc *http.Client, baseURL, app string) (FallbackStatus, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	u := strings.TrimSuffix(baseURL, "/") + "/api/v1/apps/" + url.PathEscape(app) + "/fallback"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return FallbackStatus{}, fmt.Errorf("asking the fallback %s: %w", baseURL, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return FallbackStatus{}, fmt.Errorf("asking the fallback %s: %w", baseURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return FallbackStatus{}, fmt.Errorf("reading the answer of the fallback %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return FallbackStatus{}, fmt.Errorf("asking the fallback %s: %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	var st FallbackStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return FallbackStatus{}, fmt.Errorf("decoding the answer of the fallback %s: %w", u, err)
	}
	if st.App != app {
		return FallbackStatus{}, fmt.Errorf("the fallback %s answered for app %q, not %q", u, st.App, app)
	}
	st.URL = baseURL
	return st, nil
}

// Advice says whether the old host can be retired, and why not.
type Advice struct {
	Safe    bool     `json:"safe"`
	Reasons []string `json:"reasons,omitempty"` // what still stands in the way
}

// String is the advice in one line.
func (a Advice) String() string {
	if a.Safe {
		return "safe to retire the old host: DNS propagated everywhere, its ETA passed, and the fallback's arrivals stayed low long enough"
	}
	return "not yet safe to retire the old host: " + strings.Join(a.Reasons, "; ")
}

// Retire decides whether the old host can be retired at now: every record
// propagated on every server, every ETA (worst case included) passed, and
// every fallback's arrivals under its threshold since at least its
// retire_after. fbErrs are the fallbacks that could not be asked.
func Retire(now time.Time, reps []Report, fbs []FallbackStatus, fbErrs []error) Advice {
	var why []string
	for _, r := range reps {
		rec := r.Name + " " + r.Type
		switch {
		case !r.Done():
			why = append(why, fmt.Sprintf("%s not propagated (%.0f%% of resolvers, %.0f%% of authoritative servers)", rec, r.Propagated*100, r.Agreement*100))
		case !r.ETA.Passed(now):
			why = append(why, fmt.Sprintf("%s: worst-case ETA not passed (%s)", rec, r.ETA.WorstCase.Sub(now).Round(time.Second)))
		}
	}
	if len(reps) == 0 {
		why = append(why, "no DNS record checked")
	}
	for _, err := range fbErrs {
		why = append(why, err.Error())
	}
	for _, f := range fbs {
		after := time.Duration(f.RetireAfterSeconds * float64(time.Second))
		switch {
		case f.BelowSince == nil:
			why = append(why, fmt.Sprintf("fallback %s: %.1f requests per minute, not under %g", f.URL, f.RequestsPerMinute, f.RetireBelow))
		case now.Sub(*f.BelowSince) < after:
			why = append(why, fmt.Sprintf("fallback %s: under %g requests per minute for %s of %s", f.URL, f.RetireBelow, now.Sub(*f.BelowSince).Round(time.Second), after))
		}
	}
	if len(fbs) == 0 && len(fbErrs) == 0 {
		why = append(why, "no fallback to count the stragglers (--fallback URL)")
	}
	return Advice{Safe: len(why) == 0, Reasons: why}
}

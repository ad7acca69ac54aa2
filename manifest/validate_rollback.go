package manifest

import (
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// telemetryWindowMax is how far back the in-process telemetry keeps its
// per-second numbers (telemetry.DefaultWindowMax).
const telemetryWindowMax = 5 * time.Minute

func (c *checker) rollback(path string, r *Rollback) {
	if r.MinRequests < 0 {
		c.addf(path+".min_requests", "%d is negative", r.MinRequests)
	}
	if r.MaxP99Increase != "" {
		c.check(path+".max_p99_increase", p99Increase(r.MaxP99Increase))
	}
	if r.Window > 0 && r.Interval > r.Window {
		c.addf(path+".interval", "%s is longer than the window (%s)", r.Interval.D(), r.Window.D())
	}
	if r.Confidence != nil && (*r.Confidence < 0.5 || *r.Confidence >= 1) {
		c.addf(path+".confidence", "%s is not between 50%% and 100%% (exclusive)", *r.Confidence)
	}
	if r.Breaches < 1 {
		c.addf(path+".breaches", "%d is less than 1", r.Breaches)
	}
	if r.FastBreaker.MinRequests < 1 {
		c.addf(path+".fast_breaker.min_requests", "%d is less than 1", r.FastBreaker.MinRequests)
	}
	c.check(path+".source", choice(r.Source, "telemetry", "prometheus", "logs"))
	if r.Source == "telemetry" && r.Window.D() > telemetryWindowMax {
		c.addf(path+".window", "%s is longer than the %s the in-process telemetry keeps; use source prometheus for longer windows", r.Window.D(), telemetryWindowMax)
	}
	c.check(path+".on_no_data", choice(r.OnNoData, "hold", "rollback"))
	c.check(path+".to", choice(r.To, "zero", "last_good"))
	c.promSource(path, r)
	for i, h := range r.Hooks {
		if len(h.Command) == 0 || h.Command[0] == "" {
			c.addf(indexPath(path+".hooks", i)+".command", "a hook needs a command, such as [/usr/local/bin/page-oncall, --app, shop]")
		}
	}
}

// p99Increase checks a latency allowance: a ratio ("50%", "0.5") or a
// duration ("200ms").
func p99Increase(s string) string {
	if _, err := ParsePercentOrRatio(s); err == nil {
		return ""
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return ""
	}
	return fmt.Sprintf("%q is neither a ratio (50%%) nor a duration (200ms)", s)
}

// ParsePercentOrRatio parses "50%" or "0.5" as 0.5 without the upper
// bound of ParsePercent: "200%" is 2.
func ParsePercentOrRatio(s string) (float64, error) {
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(t, "%")), 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a ratio", s)
	}
	if pct {
		f /= 100
	}
	return f, nil
}

func (c *checker) promSource(path string, r *Rollback) {
	p := r.Prometheus
	if r.Source == "prometheus" && p == nil {
		c.addf(path+".prometheus", "source prometheus needs prometheus: {url: http://127.0.0.1:9090}")
		return
	}
	if p == nil {
		return
	}
	c.check(path+".prometheus.url", httpURL(p.URL))
	for key, q := range map[string]string{"errors": p.Errors, "total": p.Total, "p99": p.P99} {
		if _, err := template.New(key).Option("missingkey=error").Parse(q); err != nil {
			c.addf(path+".prometheus."+key, "not a query template: %v", err)
		}
	}
}

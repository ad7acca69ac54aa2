package manifest

import (
	"fmt"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"
)

// starterTemplate is the manifest `migrate init` writes. Its placeholders
// are, in order: the app name, the old URL and the new URL.
const starterTemplate = `# migrate manifest: check it with "migrate validate".
# Durations are Go durations (30s, 10m); rates are percentages (2%%) or fractions.
defaults:
  listen: 127.0.0.1:8080          # or :443 with tls: {cert: ..., key: ...}
  admin: {listen: 127.0.0.1:9090, token_env: MIGRATE_ADMIN_TOKEN}
  shadow: {sample: 100%%, methods: [GET, HEAD], timeout: 5s, max_body: 1MiB}

apps:
  %s:
    # hosts: [www.example.com]    # Host headers routed here; none: every request
    # a side may add health: {path: /healthz} for active health checks
    old: {backends: [%s]}
    new: {backends: [%s]}
    cutover: {weight: 0, sticky: ip, plan: [5, 25, 50, 100], step_min: 10m}
    shadow:
      ignore: {headers: [Date, X-Request-Id]}
    rollback: {max_error_rate: 2%%, max_error_rate_increase: 1%%, min_requests: 50, window: 30s}
    # dns: [{name: www.example.com, type: A, expect: [203.0.113.10]}]
    # notify: {webhook: https://hooks.example.com/...}
`

// Starter returns a commented starter manifest for one app, as written by
// `migrate init`. Parse accepts it whenever app is a valid app name and the
// URLs are valid backend URLs.
func Starter(app, oldURL, newURL string) []byte {
	return fmt.Appendf(nil, starterTemplate, yamlScalar(app), yamlScalar(oldURL), yamlScalar(newURL))
}

// plainSafe are the strings that may be written unquoted: no indicators,
// spaces or comment marks.
var plainSafe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~:/?&=%+@-]*$`)

// yamlScalar writes s as a YAML scalar that reads back as the string s,
// plain when it safely can (in a flow list and as a key), else quoted.
func yamlScalar(s string) string {
	if plainSafe.MatchString(s) && readsBack(s) {
		return s
	}
	return strconv.Quote(s)
}

// readsBack reports whether plain s reads back as the string s, both in a
// flow list and as a mapping key (not as a number, a boolean or null).
func readsBack(s string) bool {
	for _, doc := range []string{"[" + s + "]", s + ": x"} {
		var n yaml.Node
		if yaml.Unmarshal([]byte(doc), &n) != nil || len(n.Content) != 1 {
			return false
		}
		c := n.Content[0]
		if len(c.Content) < 1 || c.Content[0].ShortTag() != "!!str" || c.Content[0].Value != s {
			return false
		}
	}
	return true
}

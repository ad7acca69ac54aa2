package compare

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// curlSkippedHeaders are not repeated in a curl line: hop-by-hop headers,
// and those curl computes itself.
var curlSkippedHeaders = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	"Content-Length", "Host",
}

// shellVar matches a base URL given as a shell variable: $NAME or ${NAME}.
var shellVar = regexp.MustCompile(`^\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)$`)

// CurlCommand returns a shell command (POSIX sh) that sends req again to
// baseURL (scheme://host[:port], or a shell variable such as $OLD_URL to
// expand when the line runs): curl -i with -X for a method curl would not
// pick itself (-I for HEAD), -H for the Host and each header (hop-by-hop
// ones and Content-Length left out; redacted ones kept with their
// "[redacted]" placeholder, to be filled in by hand), and --data-binary
// for a body. Every argument is single-quoted as needed, so no part of the
// request is ever read by the shell. A body that is not text (a NUL, or
// not UTF-8) or starts with "@" (curl would read a file) is piped in
// through printf.
func CurlCommand(req Request, baseURL string) string {
	args := []string{"curl", "-i"}
	args = append(args, curlMethod(req)...)
	if req.Host != "" {
		args = append(args, "-H", quoteShell("Host: "+req.Host))
	}
	args = append(args, curlHeaders(req.Header)...)
	prefix := ""
	if len(req.Body) > 0 {
		if curlInlineBody(req.Body) {
			args = append(args, "--data-binary", quoteShell(string(req.Body)))
		} else {
			prefix = "printf " + quoteShell(printfFormat(req.Body)) + " | "
			args = append(args, "--data-binary", "@-")
		}
	}
	args = append(args, curlURL(req, baseURL))
	return prefix + strings.Join(args, " ")
}

// curlMethod returns the arguments that make curl use req's method.
func curlMethod(req Request) []string {
	m := req.Method
	if m == "" {
		m = http.MethodGet
	}
	switch {
	case m == http.MethodGet && len(req.Body) == 0:
		return nil
	case m == http.MethodHead && len(req.Body) == 0:
		return []string{"-I"}
	case m == http.MethodPost && len(req.Body) > 0:
		return nil
	}
	return []string{"-X", quoteShell(m)}
}

func curlHeaders(h http.Header) []string {
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	slices.Sort(names)
	var args []string
	for _, name := range names {
		if slices.Contains(curlSkippedHeaders, http.CanonicalHeaderKey(name)) {
			continue
		}
		for _, v := range h[name] {
			args = append(args, "-H", quoteShell(name+": "+v))
		}
	}
	return args
}

func curlURL(req Request, baseURL string) string {
	path := req.Path
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	if req.RawQuery != "" {
		path += "?" + req.RawQuery
	}
	base := strings.TrimRight(baseURL, "/")
	if shellVar.MatchString(base) {
		return `"` + base + `"` + quoteShell(path)
	}
	return quoteShell(base + path)
}

// curlInlineBody reports whether a body can be a plain argument.
func curlInlineBody(b []byte) bool {
	return utf8.Valid(b) && !slices.Contains(b, 0) && b[0] != '@'
}

// quoteShell returns s as one POSIX shell word: as is when it has only
// characters the shell never interprets, else in single quotes, where a
// single quote is written as quote, backslash, quote, quote (close, an
// escaped quote, reopen).
func quoteShell(s string) string {
	if s != "" && strings.IndexFunc(s, notShellSafe) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func notShellSafe(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return false
	}
	return !strings.ContainsRune("@%+=:,./-_", r)
}

// printfFormat returns a printf(1) format that prints b exactly: printable
// ASCII as is (with % and \ escaped), every other byte in octal.
func printfFormat(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		switch {
		case c == '%':
			sb.WriteString("%%")
		case c == '\\':
			sb.WriteString(`\\`)
		case c >= 0x20 && c < 0x7f:
			sb.WriteByte(c)
		default:
			fmt.Fprintf(&sb, `\%03o`, c)
		}
	}
	return sb.String()
}

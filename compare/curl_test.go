package compare

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCurlCommand(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		base string
		want string
	}{
		{"plain GET", Request{Method: "GET", Path: "/users/7", RawQuery: "a=1&b=2"}, "http://10.0.0.5:3000",
			`curl -i 'http://10.0.0.5:3000/users/7?a=1&b=2'`},
		{"no method, empty path, base with slash", Request{}, "http://old/", `curl -i http://old/`},
		{"HEAD", Request{Method: "HEAD", Path: "/x"}, "http://old", `curl -i -I http://old/x`},
		{"POST with body", Request{Method: "POST", Path: "/x", Body: []byte(`{"a":1}`)}, "http://old",
			`curl -i --data-binary '{"a":1}' http://old/x`},
		{"DELETE", Request{Method: "DELETE", Path: "/x"}, "http://old", `curl -i -X DELETE http://old/x`},
		{"GET with body", Request{Method: "GET", Path: "/x", Body: []byte("q")}, "http://old",
			`curl -i -X GET --data-binary q http://old/x`},
		{"headers sorted, hop-by-hop and length dropped, host kept", Request{Path: "/", Host: "shop.example.com", Header: http.Header{
			"X-B": {"2", "3"}, "Accept": {"*/*"}, "Connection": {"close"}, "Content-Length": {"9"}, "Authorization": {Redacted},
			"Transfer-Encoding": {"chunked"},
		}}, "http://old",
			`curl -i -H 'Host: shop.example.com' -H 'Accept: */*' -H 'Authorization: [redacted]' -H 'X-B: 2' -H 'X-B: 3' http://old/`},
		{"base as a shell variable", Request{Path: "/a b", RawQuery: "x=$y"}, "$OLD_URL", `curl -i "$OLD_URL"'/a b?x=$y'`},
		{"base as a braced variable", Request{Path: "/"}, "${NEW}", `curl -i "${NEW}"/`},
		{"not a variable", Request{Path: "/"}, "$(reboot)", `curl -i '$(reboot)/'`},
		{"binary body piped", Request{Method: "PUT", Path: "/b", Body: []byte("a\x00%\\'\xff")}, "http://old",
			`printf 'a\000%%\\'\''\377' | curl -i -X PUT --data-binary @- http://old/b`},
		{"body naming a file piped", Request{Method: "POST", Path: "/", Body: []byte("@/etc/passwd")}, "http://old",
			`printf @/etc/passwd | curl -i --data-binary @- http://old/`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CurlCommand(tt.req, tt.base); got != tt.want {
				t.Errorf("CurlCommand() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestCurlCommandShellSafe runs curl lines built from hostile requests in
// sh, with curl replaced by a function that prints its arguments and its
// standard input, and checks that curl would get exactly the request.
func TestCurlCommandShellSafe(t *testing.T) {
	hostile := "it's \"quoted\" $(touch pwned) `id` $HOME \\ ; & | > < * ? [a] ~ # !\n\tnext line\r"
	tests := []struct {
		name string
		req  Request
		base string
		want []string // curl's arguments, then its standard input
	}{
		{"hostile everywhere", Request{
			Method: "PATCH" + hostile, Path: "/p" + hostile, RawQuery: "q=" + hostile, Host: "h" + hostile,
			Header: http.Header{"X-Evil": {hostile}},
			Body:   []byte(hostile),
		}, "http://old", []string{
			"-i", "-X", "PATCH" + hostile, "-H", "Host: h" + hostile, "-H", "X-Evil: " + hostile,
			"--data-binary", hostile, "http://old/p" + hostile + "?q=" + hostile, "",
		}},
		{"hostile binary body", Request{Method: "POST", Path: "/", Body: []byte("\x00" + hostile + "\xfe\n")}, "$BASE",
			[]string{"-i", "--data-binary", "@-", "http://base.test/", "\x00" + hostile + "\xfe\n"}},
		{"only quotes", Request{Method: "POST", Path: "/'", Body: []byte("''''")}, "http://o",
			[]string{"-i", "--data-binary", "''''", "http://o/'", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := CurlCommand(tt.req, tt.base)
			got := runWithFakeCurl(t, line)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("curl got (-got +want):\n%s\nline: %s", diff, line)
			}
		})
	}
}

// runWithFakeCurl runs line in sh in a fresh directory with curl printing
// each argument NUL-terminated; it returns them and then what curl read on
// its standard input (when given "@-").
func runWithFakeCurl(t *testing.T, line string) []string {
	t.Helper()
	dir, stdinFile := t.TempDir(), filepath.Join(t.TempDir(), "stdin")
	script := `curl() {
	stdin=
	for a; do printf '%s\0' "$a"; [ "$a" = @- ] && stdin=1; done
	[ -n "$stdin" ] && cat >"$STDIN_FILE"
	return 0
}
BASE=http://base.test
` + line + "\n"
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "STDIN_FILE="+stdinFile)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("sh: %v: %s", err, errOut.String())
	}
	if files, _ := exec.Command("ls", "-A", dir).Output(); len(files) > 0 {
		t.Errorf("the line created files: %s", files)
	}
	args := strings.Split(out.String(), "\x00")
	stdin, err := os.ReadFile(stdinFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return append(args[:len(args)-1], string(stdin))
}

//go:build linux

package lb

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestLoopLingeringClose checks that an answer given before the request
// body was read survives the client sending the rest of its body: the
// proxy shuts its side for writing and drops what still comes, instead of
// closing with unread bytes (the kernel would reset the connection, which
// fails the client's writes and can destroy the answer before it is read).
func TestLoopLingeringClose(t *testing.T) {
	forEachPath(t, testLoopLingeringClose)
}

func testLoopLingeringClose(t *testing.T, path dataPath) {
	b := newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "early")
	})
	r := start(t, path, oneApp(testApp(b, b)), Options{})
	c := dialRaw(t, r)
	const size, first = 3 << 20, maxRetryBody + 64<<10 // past the MiB read before the backend is
	c.send(t, fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size))
	c.send(t, strings.Repeat("z", first))

	// The answer has come once its first byte can be read; the rest stays
	// in the kernel's buffer, where a reset would drop it.
	var one [1]byte
	if _, err := io.ReadFull(c.Conn, one[:]); err != nil {
		t.Fatalf("waiting for the answer: %v", err)
	}
	_, werr := io.WriteString(c.Conn, strings.Repeat("z", size-first))
	br := bufio.NewReader(io.MultiReader(bytes.NewReader(one[:]), c.Conn))
	res, err := http.ReadResponse(br, &http.Request{Method: http.MethodPost})
	if err != nil {
		t.Fatalf("reading the answer after sending the rest of the body: %v (write: %v)", err, werr)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK || string(body) != "early" || !res.Close {
		t.Errorf("got %d %q close=%v (%v), want 200 \"early\" with Connection: close", res.StatusCode, body, res.Close, err)
	}
	if werr != nil {
		t.Errorf("sending the rest of the body after the answer: %v, want it dropped by the proxy", werr)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after the answer: %v, want end of stream (the proxy shut its side)", err)
	}
}

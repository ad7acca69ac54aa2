package lb

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/migratekit/migrate/manifest"
)

// TestClientBodyErrorsSpareBackends: a request body that breaks off (the
// client leaves halfway) or that is malformed is the client's failure, not
// the backend's. The client gets 400 where an answer can still reach it,
// and no backend is counted as failing, let alone ejected, however many
// such clients come: otherwise any client could take a healthy backend out
// of rotation with a few broken uploads.
func TestClientBodyErrorsSpareBackends(t *testing.T) {
	forEachPath(t, testClientBodyErrorsSpareBackends)
}

func testClientBodyErrorsSpareBackends(t *testing.T, path dataPath) {
	b := newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%d %v", n, err)
	})
	metrics, reg := newMetrics(t)
	app := testApp(b, b)
	passive := manifest.Passive{MaxFails: 2, Cooldown: manifest.Duration(time.Hour)}
	app.Old.Passive, app.New.Passive = passive, passive
	r := start(t, path, oneApp(app), Options{Metrics: metrics})
	part := strings.Repeat("x", 64<<10)
	tests := []struct {
		name  string
		req   string
		leave bool // the client closes after sending req
	}{
		{"Content-Length body cut off", fmt.Sprintf("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", 2<<20, part), true},
		{"chunked body cut off", fmt.Sprintf("POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s", 2<<20, part), true},
		{"chunk size not hex", "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", false},
		{"chunk data longer than its size", "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n", false},
	}
	failed := func() float64 {
		var n float64
		for _, reason := range []string{reasonClientBody, reasonCanceled} {
			n += metricValue(t, reg, "migrate_proxy_errors_total", map[string]string{"app": "web", "side": "old", "reason": reason})
		}
		return n
	}
	sent := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 3 {
				c := dialRaw(t, r)
				c.send(t, tt.req)
				sent++
				if tt.leave {
					c.Close()
					continue
				}
				res, body := c.response(t, http.MethodPost)
				c.Close()
				if res.StatusCode != http.StatusBadRequest {
					t.Errorf("answer %d %q, want 400", res.StatusCode, body)
				}
			}
		})
	}
	// Every broken request has been counted as the client's before the
	// backends are looked at.
	eventually(t, "every broken request counted", func() bool { return failed() >= float64(sent) })
	for _, bs := range r.p.App("web").Backends() {
		if !bs.Healthy || bs.ConsecutiveFails != 0 {
			t.Errorf("backend %+v after broken client bodies; want healthy with no failure counted", bs)
		}
	}
	if got, code := r.get(t, nil); got != "b" || code != http.StatusOK {
		t.Errorf("GET after the broken bodies: %q %d, want b 200", got, code)
	}
}

package lb

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
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

// TestLargeBodies sends bodies larger than the buffered limit both
// ways: an upload streams to the backend, a download to the client.
func TestLargeBodies(t *testing.T) { forEachPath(t, testLargeBodies) }

func testLargeBodies(t *testing.T, path dataPath) {
	const size = 8 << 20
	payload := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	sum := sha256.Sum256(payload)
	var gotUpload atomic.Value
	b := newBackendFunc(t, "big", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			h := sha256.New()
			n, _ := io.Copy(h, r.Body)
			gotUpload.Store(fmt.Sprintf("%d %x", n, h.Sum(nil)))
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.Write(payload)
	})
	other := newBackend(t, "other")
	app := testApp(b, b)
	app.Old.Backends = append(app.Old.Backends, other.URL) // retries are possible: the upload is still not buffered
	r := start(t, path, oneApp(app), Options{})
	for i := range 2 { // the first PUT goes to other (round robin)
		req, _ := http.NewRequest(http.MethodPut, r.base+"/up", bytes.NewReader(payload))
		res, err := r.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("PUT %d: status %d", i, res.StatusCode)
		}
	}
	if want := fmt.Sprintf("%d %x", size, sum); gotUpload.Load() != want {
		t.Errorf("backend got upload %v, want %s", gotUpload.Load(), want)
	}
	for range 2 {
		res, err := r.client.Get(r.base + "/down")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.Header.Get("X-Backend") != "big" {
			continue
		}
		if sha256.Sum256(body) != sum || res.ContentLength != size {
			t.Errorf("download: %d bytes (Content-Length %d), want %d with the same sum", len(body), res.ContentLength, size)
		}
	}
}

// TestChunkedUpload checks that a request body of unknown length (chunked)
// reaches the backend whole, small or large.
func TestChunkedUpload(t *testing.T) { forEachPath(t, testChunkedUpload) }

func testChunkedUpload(t *testing.T, path dataPath) {
	b := newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		fmt.Fprintf(w, "%d %x %v", n, h.Sum(nil), err)
	})
	r := start(t, path, oneApp(testApp(b, b)), Options{})
	for _, size := range []int{10, 3 << 20} {
		payload := bytes.Repeat([]byte("x"), size)
		req, _ := http.NewRequest(http.MethodPost, r.base+"/", io.MultiReader(bytes.NewReader(payload))) // no length: chunked
		res, err := r.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if want := fmt.Sprintf("%d %x <nil>", size, sha256.Sum256(payload)); string(body) != want {
			t.Errorf("chunked upload of %d bytes: backend read %q, want %q", size, body, want)
		}
	}
}

package dashboards

import (
	"net/http/httptest"
	"testing"
)

// FuzzDecodeReport feeds the remote diff report decoder arbitrary JSON:
// it returns a view or an error, and never panics.
func FuzzDecodeReport(f *testing.F) {
	f.Add([]byte(`{"app":"shop","endpoints":[{"endpoint":"/a","requests":2,"diffs":1,"diff_rate":0.5,"fields":[{"path":"/price","kind":"json","count":1,"rate":0.5,"example":{"id":1,"request":{"method":"GET","path":"/a"},"diffs":[{"kind":"json","path":"/price","field":"/price","primary":"1","candidate":"2"}]}}]}]}`))
	f.Add([]byte(`{"endpoints":[{"fields":[{"example":null}]}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		v, err := decodeReport(raw)
		if err != nil {
			return
		}
		for _, e := range v.Endpoints {
			if len(e.Fields) < len(e.EndpointRow.Fields) {
				t.Errorf("endpoint %s names %d top fields of %d", e.Endpoint, len(e.EndpointRow.Fields), len(e.Fields))
			}
		}
	})
}

// FuzzLastEventID: any header value is a frame number or a clear error.
func FuzzLastEventID(f *testing.F) {
	for _, s := range []string{"", "0", "42", " 7 ", "-1", "x", "18446744073709551616"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		r := httptest.NewRequest("GET", "/dashboard/events", nil)
		r.Header.Set("Last-Event-ID", v)
		_, ok, err := lastEventID(r)
		if err != nil && ok {
			t.Errorf("%q: an error and a position", v)
		}
	})
}

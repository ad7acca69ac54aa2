package logship

import (
	"fmt"
	"testing"
)

// BenchmarkParse parses a rotating set of varied lines of each format,
// reusing one Record as a shipper does. It reports lines/s besides the
// MB/s of b.SetBytes; steady state allocates nothing for the nginx formats.
func BenchmarkParse(b *testing.B) {
	for _, format := range []string{"nginx_combined", "nginx", "json", "logfmt", "raw"} {
		b.Run(format, func(b *testing.B) {
			p, err := New(format, Options{LogFormat: benchLogFormat})
			if err != nil {
				b.Fatal(err)
			}
			lines := benchLines(format, 256)
			size := 0
			for _, l := range lines {
				size += len(l)
			}
			b.SetBytes(int64(size / len(lines)))
			b.ReportAllocs()
			var rec Record
			for i := 0; b.Loop(); i++ {
				if err := p.Parse(lines[i%len(lines)], &rec); err != nil {
					b.Fatalf("parsing %q: %v", lines[i%len(lines)], err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

// benchLogFormat is a typical custom format: combined plus timings, host
// and a request id.
const benchLogFormat = CombinedFormat + ` $request_time "$upstream_response_time" $host $request_id`

// benchLines returns n realistic, varied lines of a format.
func benchLines(format string, n int) [][]byte {
	methods := []string{"GET", "GET", "GET", "POST", "HEAD", "PUT"}
	uas := []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
		"curl/8.4.0",
		"Go-http-client/1.1",
	}
	lines := make([][]byte, n)
	for i := range lines {
		ip := fmt.Sprintf("10.%d.%d.%d", i%7, i%13, i%251)
		method, ua := methods[i%len(methods)], uas[i%len(uas)]
		path := fmt.Sprintf("/users/%d/orders/%d", 1000+i*7, i)
		query := fmt.Sprintf("page=%d&sort=desc", i%9)
		status := []int{200, 200, 200, 304, 404, 500}[i%6]
		size := 100 + i*37%5000
		rt := fmt.Sprintf("0.%03d", i*17%1000)
		ts := fmt.Sprintf("%02d/Nov/2026:13:%02d:%02d +0100", 1+i%28, i/60%60, i%60)
		var l string
		switch format {
		case "nginx_combined", "raw":
			l = fmt.Sprintf(`%s - - [%s] "%s %s?%s HTTP/1.1" %d %d "https://shop.example.com/cart" "%s"`,
				ip, ts, method, path, query, status, size, ua)
		case "nginx":
			l = fmt.Sprintf(`%s - - [%s] "%s %s?%s HTTP/1.1" %d %d "https://shop.example.com/cart" "%s" %s "0.010, %s" shop.example.com 7f3c9a%08x`,
				ip, ts, method, path, query, status, size, ua, rt, rt, i)
		case "json":
			l = fmt.Sprintf(`{"time":"2026-11-%02dT13:%02d:%02d.123+01:00","level":"info","msg":"request","method":%q,"path":"%s?%s","status":%d,"bytes":%d,"duration":%s,"remote_addr":%q,"user_agent":%q,"request_id":"7f3c9a%08x","user":{"id":%d}}`,
				1+i%28, i/60%60, i%60, method, path, query, status, size, rt, ip, ua, i, i)
		case "logfmt":
			l = fmt.Sprintf(`time=2026-11-%02dT13:%02d:%02d.123+01:00 level=INFO msg="request done" method=%s path=%s query=%q status=%d bytes=%d duration=%sms remote_addr=%s user_agent=%q request_id=7f3c9a%08x`,
				1+i%28, i/60%60, i%60, method, path, query, status, size, rt[2:], ip, ua, i)
		}
		lines[i] = []byte(l)
	}
	return lines
}

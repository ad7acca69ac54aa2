package logship_test

import (
	"fmt"
	"strings"

	"github.com/migratekit/migrate/logship"
)

func ExampleNew() {
	p, err := logship.New("nginx_combined", logship.Options{})
	if err != nil {
		panic(err)
	}
	var rec logship.Record
	line := `203.0.113.9 - - [25/Nov/2026:13:55:36 +0100] "GET /users/42?tab=orders HTTP/1.1" 200 5123 "-" "curl/8.4.0"`
	if err := p.Parse([]byte(line), &rec); err != nil {
		panic(err)
	}
	fmt.Println(rec.Time.UTC(), rec.Method, string(rec.Path), string(rec.Query), rec.Status, rec.Bytes)
	fmt.Printf("client %s, agent %s, referer %q\n", rec.RemoteAddr, rec.UserAgent, rec.Referer)

	err = p.Parse([]byte(`203.0.113.9 - - [25/Nov/2026:13:55:37 +0100] "\x16\x03\x01" 400 157 "-" "-"`), &rec)
	fmt.Printf("%v; status %d kept\n", err, rec.Status)
	// Output:
	// 2026-11-25 12:55:36 +0000 UTC GET /users/42 tab=orders 200 5123
	// client 203.0.113.9, agent curl/8.4.0, referer ""
	// parsing $request: malformed request line; status 400 kept
}

func ExampleNew_logFormat() {
	p, err := logship.New("nginx", logship.Options{
		LogFormat: logship.CombinedFormat + ` $request_time "$upstream_response_time" $request_id`,
		Template: func(path string) string {
			if strings.HasPrefix(path, "/users/") {
				return "/users/:id"
			}
			return path
		},
	})
	if err != nil {
		panic(err)
	}
	var rec logship.Record
	line := `10.0.0.1 - - [25/Nov/2026:13:55:36 +0000] "GET /users/42 HTTP/1.1" 502 0 "-" "-" 0.350 "0.100, 0.250" 7f3c9a01`
	if err := p.Parse([]byte(line), &rec); err != nil {
		panic(err)
	}
	fmt.Println(rec.Endpoint, rec.Status, rec.Duration, rec.Upstream, rec.Present&logship.HasUpstream != 0, rec.Fields["request_id"])
	// Output:
	// /users/:id 502 350ms 250ms true 7f3c9a01
}

func ExampleNew_json() {
	p, err := logship.New("json", logship.Options{})
	if err != nil {
		panic(err)
	}
	var rec logship.Record
	line := `{"ts":"2026-11-25T13:55:36Z","level":"info","msg":"request","method":"POST","path":"/orders","status":201,"duration":"12ms","user":{"id":7}}`
	if err := p.Parse([]byte(line), &rec); err != nil {
		panic(err)
	}
	fmt.Println(rec.Level, string(rec.Message), rec.Method, string(rec.Path), rec.Status, rec.Duration, rec.Fields)
	// Output:
	// info request POST /orders 201 12ms map[user.id:7]
}

package h1

import (
	"bufio"
	"bytes"
	"net/http"
	"testing"
)

// browserRequest is a typical browser request head: 8 headers, about 400
// bytes.
const browserRequest = "GET /products/shoes?color=blue&size=42 HTTP/1.1\r\n" +
	"Host: shop.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Referer: https://shop.example.com/products\r\n" +
	"Cookie: session=3f9a1c0e7b2d4a58; theme=dark\r\n" +
	"Connection: keep-alive\r\n" +
	"\r\n"

// BenchmarkParseRequest compares ParseRequest with net/http's ReadRequest
// on the same head.
func BenchmarkParseRequest(b *testing.B) {
	in := []byte(browserRequest)
	b.Run("h1", func(b *testing.B) {
		var r Request
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			if err := ParseRequest(in, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("net-http", func(b *testing.B) {
		rd := bytes.NewReader(in)
		br := bufio.NewReader(rd)
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			rd.Reset(in)
			br.Reset(rd)
			if _, err := http.ReadRequest(br); err != nil {
				b.Fatal(err)
			}
		}
	})
}

package h1_test

import (
	"errors"
	"fmt"

	"github.com/migratekit/migrate/internal/h1"
)

func ExampleParseRequest() {
	var r h1.Request
	in := []byte("POST /orders?id=7 HTTP/1.1\r\nHost: shop.example.com\r\nContent-Length: 2\r\n\r\n{}")
	if err := h1.ParseRequest(in, &r); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s %s host=%s body=%d head=%d\n", r.Method, r.Target, r.Host, r.ContentLength, r.HeadLen)

	err := h1.ParseRequest([]byte("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nUpgrade: h2c\r\n\r\n"), &r)
	fmt.Println(errors.Is(err, h1.ErrUnsupported), err)
	// Output:
	// POST /orders?id=7 host=shop.example.com body=2 head=73
	// true parsing at byte 45: Upgrade header not one non-empty value: request head not for the loop path
}

func ExampleChunkScanner() {
	var s h1.ChunkScanner
	var n int
	for _, piece := range []string{"5\r\nhel", "lo\r\n0\r\n", "\r\nGET / HTTP/1.1\r\n"} {
		k, done, err := s.Scan([]byte(piece))
		if err != nil {
			fmt.Println(err)
			return
		}
		if n += k; done {
			fmt.Println("body ends after", n, "bytes")
		}
	}
	// Output:
	// body ends after 15 bytes
}

package manifest

import (
	"fmt"
	"strings"
	"testing"
)

// manyHosts is a valid manifest of one app with n hosts.
func manyHosts(n int) []byte {
	var b strings.Builder
	b.WriteString("apps:\n  shop:\n    old: {backends: [http://127.0.0.1:3001]}\n    new: {backends: [http://127.0.0.1:3002]}\n    hosts:\n")
	for i := range n {
		fmt.Fprintf(&b, "      - h%d.shop.example.com\n", i)
	}
	return []byte(b.String())
}

// manyApps is a valid manifest of n apps sharing one listener, two hosts
// and two backends each.
func manyApps(n int) []byte {
	var b strings.Builder
	b.WriteString("defaults:\n  listen: 127.0.0.1:8080\napps:\n")
	for i := range n {
		fmt.Fprintf(&b, "  app%d:\n    hosts: [a%d.example.com, b%d.example.com]\n", i, i, i)
		fmt.Fprintf(&b, "    old: {backends: [http://10.0.%d.%d:3000, http://10.0.%d.%d:3001]}\n", i/250%250, i%250, i/250%250, i%250)
		fmt.Fprintf(&b, "    new: {backends: [http://10.1.%d.%d:3000]}\n", i/250%250, i%250)
	}
	return []byte(b.String())
}

// BenchmarkParseHosts parses a manifest of one app with many hosts; the
// host checks must stay linear in their number.
func BenchmarkParseHosts(b *testing.B) {
	for _, n := range []int{1000, 8000} {
		data := manyHosts(n)
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Parse("migrate.yaml", data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseApps parses a manifest of many apps on one listener.
func BenchmarkParseApps(b *testing.B) {
	for _, n := range []int{1000, 8000} {
		data := manyApps(n)
		b.Run(fmt.Sprintf("apps=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Parse("migrate.yaml", data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// badHosts is a manifest of one app whose n hosts are each wrong, and
// whose hosts: key is also written n times more under an unknown name.
func badHosts(n int) []byte {
	var b strings.Builder
	b.WriteString("apps:\n  shop:\n    old: {backends: [http://127.0.0.1:3001]}\n    new: {backends: [http://127.0.0.1:3002]}\n")
	for i := range n {
		fmt.Fprintf(&b, "    hostz%d: x\n", i)
	}
	b.WriteString("    hosts:\n")
	for i := range n {
		fmt.Fprintf(&b, "      - h_%d..example.com\n", i)
	}
	return []byte(b.String())
}

// BenchmarkParseProblems parses a manifest with many problems: reporting
// them must stay linear in their number too.
func BenchmarkParseProblems(b *testing.B) {
	for _, n := range []int{1000, 8000, 32000} {
		data := badHosts(n)
		b.Run(fmt.Sprintf("problems=%d", 2*n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Parse("migrate.yaml", data); err == nil {
					b.Fatal("no problems found")
				}
			}
		})
	}
}

package h1

import (
	"bufio"
	"bytes"
	"net/http"
	"testing"
)

func TestCRLFHead(t *testing.T) {
	tests := []struct {
		name, in, want string
		room           int // spare bytes after the input
		state          LFState
	}{
		{"bare LF throughout", "GET / HTTP/1.1\nHost: x\n\n", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 8, LFRewritten},
		{"mixed", "GET / HTTP/1.1\r\nHost: x\nA: b\r\n\n", "GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n\r\n", 8, LFRewritten},
		{"ends in CRLF alone", "GET / HTTP/1.1\nHost: x\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 8, LFRewritten},
		{"body untouched", "POST / HTTP/1.1\nHost: x\nContent-Length: 3\n\na\nb", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\na\nb", 8, LFRewritten},
		{"next request untouched", "GET /a HTTP/1.1\nHost: x\n\nGET /b HTTP/1.1\nHost: x\n\n", "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\nHost: x\n\n", 8, LFRewritten},
		{"empty lines before the request line", "\n\r\nGET / HTTP/1.1\nHost: x\n\n", "\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 8, LFRewritten},
		{"exactly the room needed", "GET / HTTP/1.1\nHost: x\n\n", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 3, LFRewritten},
		{"no room", "GET / HTTP/1.1\nHost: x\n\n", "GET / HTTP/1.1\nHost: x\n\n", 2, LFNoRoom},
		{"head not ended", "GET / HTTP/1.1\nHost: x\n", "GET / HTTP/1.1\nHost: x\n", 8, LFIncomplete},
		{"CRLF head", "GET / HTTP/1.1\r\nHost: x\r\n\r\na\nb", "GET / HTTP/1.1\r\nHost: x\r\n\r\na\nb", 8, LFNone},
		{"CRLF head not ended", "GET / HTTP/1.1\r\nHost: x\r\n", "GET / HTTP/1.1\r\nHost: x\r\n", 8, LFNone},
		{"no line end yet", "GET / HTTP/1.1", "GET / HTTP/1.1", 8, LFNone},
		{"bare CR left to the parser", "GET / HTTP/1.1\r\rHost: x\n\n", "GET / HTTP/1.1\r\rHost: x\r\n\r\n", 8, LFRewritten},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := make([]byte, len(tt.in)+tt.room)
			copy(buf, tt.in)
			n, state := CRLFHead(buf, len(tt.in))
			if state != tt.state || string(buf[:n]) != tt.want {
				t.Errorf("CRLFHead(%q) = %q, %d; want %q, %d", tt.in, buf[:n], state, tt.want, tt.state)
			}
		})
	}
}

// TestCRLFHeadParses: a bare-LF head, rewritten, is one ParseRequest
// takes, as net/http takes the original.
func TestCRLFHeadParses(t *testing.T) {
	in := "POST /up?x=1 HTTP/1.1\nHost: example.com\nContent-Length: 3\nX-A: b\n\nabc"
	buf := make([]byte, 256)
	n, state := CRLFHead(buf, copy(buf, in))
	if state != LFRewritten {
		t.Fatalf("state %d, want LFRewritten", state)
	}
	var r Request
	if err := ParseRequest(buf[:n], &r); err != nil {
		t.Fatalf("ParseRequest(%q): %v", buf[:n], err)
	}
	if got := string(buf[r.HeadLen:n]); got != "abc" {
		t.Errorf("after the head %q, want the body abc", got)
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader([]byte(in))))
	if err != nil {
		t.Fatal(err)
	}
	compareRequest(t, buf[:n], &r, req)
}

// FuzzCRLFHead: a rewritten head differs from the input only by a CR
// before each bare LF of the head, has no bare LF left in it, keeps what
// follows it byte for byte, and when ParseRequest takes it, net/http reads
// the input's head the same way (net/http takes a bare LF as a line end).
func FuzzCRLFHead(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\nHost: x\n\n"))
	f.Add([]byte("POST / HTTP/1.1\nHost: x\nContent-Length: 3\n\na\nb"))
	f.Add([]byte("\nGET / HTTP/1.1\r\nHost: x\nX: a\r\n b\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		buf := make([]byte, 2*len(in)+1)
		copy(buf, in)
		n, state := CRLFHead(buf, len(in))
		out := buf[:n]
		if state != LFRewritten {
			if !bytes.Equal(out, in) {
				t.Fatalf("%q: state %d but changed to %q", in, state, out)
			}
			return
		}
		// The head ends at the first empty line after the leading ones.
		end := 0
		for end+1 < n && out[end] == '\r' && out[end+1] == '\n' {
			end += 2
		}
		k := bytes.Index(out[end:], []byte("\r\n\r\n"))
		if k < 0 {
			t.Fatalf("%q: rewritten %q has no CRLFCRLF", in, out)
		}
		end += k + 4
		head := out[:end]
		for i, c := range head {
			if c == '\n' && (i == 0 || head[i-1] != '\r') {
				t.Fatalf("%q: bare LF left at %d of %q", in, i, head)
			}
		}
		added := n - len(in)
		if !bytes.Equal(out[end:], in[end-added:]) {
			t.Fatalf("%q: what follows the head changed: %q", in, out[end:])
		}
		if got := bytes.ReplaceAll(head, []byte("\r\n"), []byte("\n")); !bytes.Equal(got, bytes.ReplaceAll(in[:end-added], []byte("\r\n"), []byte("\n"))) {
			t.Fatalf("%q: head %q differs by more than CRs before LFs", in, head)
		}
		var r Request
		if ParseRequest(out, &r) != nil {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(in)))
		if err != nil {
			t.Fatalf("%q: the rewritten head parses, but net/http refuses the input: %v", in, err)
		}
		compareRequest(t, out, &r, req)
	})
}

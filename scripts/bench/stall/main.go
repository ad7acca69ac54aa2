// Command stall measures what clients that stall in the middle of a
// request body cost a proxy: it opens -clients connections to -target,
// each sending a request head that declares a body of -declare bytes, then
// -send bytes of it, and nothing more; after -settle it prints how many
// connections the proxy holds to the backend (established TCP connections
// to -backend's port, from /proc/net/tcp), the resident memory of the
// proxy's processes (-pids) and how many clients had an answer.
//
//	go run ./scripts/bench/stall -target 127.0.0.1:8080 -backend 127.0.0.1:9000 -clients 300 -declare 2097152 -send 0
//
// It prints one line: "RESULT backend_conns=N rss_mib=M answered=A".
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	target := flag.String("target", "", "the proxy, host:port")
	backend := flag.String("backend", "", "the backend the proxy forwards to, host:port")
	clients := flag.Int("clients", 300, "stalled clients")
	declare := flag.Int64("declare", 2<<20, "Content-Length each client declares")
	send := flag.Int("send", 0, "body bytes each client sends before it stalls")
	settle := flag.Duration("settle", 3*time.Second, "wait before counting")
	pids := flag.String("pids", "", "comma-separated pids of the proxy's processes (for their memory)")
	flag.Parse()
	if err := run(*target, *backend, *clients, *declare, *send, *settle, *pids); err != nil {
		fmt.Fprintln(os.Stderr, "stall:", err)
		os.Exit(1)
	}
}

func run(target, backend string, clients int, declare int64, send int, settle time.Duration, pids string) error {
	_, port, err := net.SplitHostPort(backend)
	if err != nil {
		return fmt.Errorf("parsing -backend: %w", err)
	}
	head := fmt.Sprintf("POST /upload HTTP/1.1\r\nHost: bench\r\nContent-Length: %d\r\n\r\n", declare)
	body := make([]byte, send)
	conns := make([]net.Conn, 0, clients)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range clients {
		c, err := net.Dial("tcp", target)
		if err != nil {
			return fmt.Errorf("connecting: %w", err)
		}
		conns = append(conns, c)
		if _, err := c.Write(append([]byte(head), body...)); err != nil {
			return fmt.Errorf("sending: %w", err)
		}
	}
	time.Sleep(settle)
	held, err := established(port)
	if err != nil {
		return err
	}
	rss, err := residentMiB(pids)
	if err != nil {
		return err
	}
	fmt.Printf("RESULT backend_conns=%d rss_mib=%.1f answered=%d\n", held, rss, answered(conns))
	return nil
}

// established counts the established TCP connections whose remote port is
// port (the proxy's side of its connections to the backend).
func established(port string) (int, error) {
	p, err := strconv.Atoi(port)
	if err != nil {
		return 0, err
	}
	want := fmt.Sprintf(":%04X", p)
	n := 0
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 3 && f[3] == "01" && strings.HasSuffix(f[2], want) {
				n++
			}
		}
	}
	return n, nil
}

// residentMiB sums VmRSS of the pids.
func residentMiB(pids string) (float64, error) {
	var kib float64
	for _, pid := range strings.Split(pids, ",") {
		if pid = strings.TrimSpace(pid); pid == "" {
			continue
		}
		f, err := os.Open("/proc/" + pid + "/status")
		if err != nil {
			return 0, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
				k, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				kib += k
			}
		}
		f.Close()
	}
	return kib / 1024, nil
}

// answered counts the clients that have bytes to read (an answer).
func answered(conns []net.Conn) int {
	n := 0
	var b [1]byte
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if k, _ := c.Read(b[:]); k > 0 {
			n++
		}
	}
	return n
}

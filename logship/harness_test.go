package logship

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The correctness harness: writers emit numbered lines into four files
// while the test rotates them with Debian logrotate (create mode and
// copytruncate), truncates, deletes and recreates, rotates twice while the
// shipper is slowed, and writes partial and very long lines; the shipper
// runs as a child process, killed with SIGKILL at random points and
// restarted; the receiver refuses everything for 30 s in the middle. At
// the end it must hold every line exactly once after dropping duplicates
// by id, and no shipper may have sent again what the checkpoints it
// started from say was delivered: a kill sends again only what was not
// saved yet (the batch in flight, and what was acknowledged within the
// last checkpoint interval: TestShipperCheckpointCadence).
//
// Lines say what they are, so that the receiver's view can be checked
// without knowing where the shipper cut:
//
//	L <file>.<seq> ....              a whole line
//	P <file>.<seq> a|P <file>.<seq> b  a line written in two writes, the
//	                                 first part possibly shipped alone
//	                                 (Unterminated) after flush_timeout
//	G <file>.<seq> #<block> ...      a line of 64-byte blocks longer than
//	                                 max_line, shipped in parts that each
//	                                 start on a block
const (
	harnessMaxLine   = 1024
	harnessBlock     = 64
	harnessBatch     = 100
	harnessRefuseFor = 30 * time.Second
)

func TestHarness(t *testing.T) {
	logrotate := os.Getenv("MIGRATE_TEST_LOGROTATE")
	if logrotate == "" {
		t.Fatal("MIGRATE_TEST_LOGROTATE is not set: point it at Debian's logrotate binary (scripts/test does)")
	}
	h := newHarness(t, logrotate)
	h.start()
	defer h.stopChild()

	h.sleep(1500 * time.Millisecond)
	h.killAtRandom(time.Second) // 1
	h.sleep(time.Second)
	h.rotate()
	h.killAtRandom(time.Second) // 2
	h.sleep(time.Second)
	h.truncate("c")
	h.sleep(500 * time.Millisecond)
	h.recreate("c")
	h.sleep(500 * time.Millisecond)

	h.recv.setDelay(100 * time.Millisecond) // slowed: about 1,000 lines/s
	h.sleep(700 * time.Millisecond)
	h.rotate()
	h.sleep(time.Second)
	h.rotate()
	h.killAtRandom(time.Second) // 3
	h.recv.setDelay(0)

	refuseEnd := time.Now().Add(harnessRefuseFor)
	h.recv.setRefuse(true)
	h.sleep(time.Duration(2000+rand.IntN(4000)) * time.Millisecond)
	h.killAtRandom(time.Second) // 4
	h.sleep(1500 * time.Millisecond)
	h.rotate()
	h.sleep(time.Duration(2000+rand.IntN(4000)) * time.Millisecond)
	h.killAtRandom(time.Second) // 5
	h.sleep(time.Until(refuseEnd))
	h.recv.setRefuse(false)

	h.sleep(time.Second)
	h.killAtRandom(2 * time.Second) // 6
	h.sleep(time.Second)
	h.stopWriters()
	h.waitAll("every line at the receiver", h.all()...)
	h.stopChild()
	h.check()
}

type harness struct {
	t         *testing.T
	logrotate string
	dir       string // the logs
	dataDir   string
	conf      string // logrotate's config and state
	state     string
	recv      *harnessReceiver
	srv       *httptest.Server
	writers   map[string]*harnessWriter
	wg        sync.WaitGroup
	stop      chan struct{}
	child     *exec.Cmd
	childLog  *os.File
	kills     int
}

func newHarness(t *testing.T, logrotate string) *harness {
	base := t.TempDir()
	h := &harness{
		t: t, logrotate: logrotate,
		dir: filepath.Join(base, "logs"), dataDir: filepath.Join(base, "data"),
		conf: filepath.Join(base, "logrotate.conf"), state: filepath.Join(base, "logrotate.state"),
		recv: newHarnessReceiver(), stop: make(chan struct{}), writers: make(map[string]*harnessWriter),
	}
	if err := os.MkdirAll(h.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`%[1]s/a.log {
	rotate 50
	create
	nocompress
	missingok
}
%[1]s/b.log {
	rotate 50
	copytruncate
	nocompress
	missingok
}
`, h.dir)
	if err := os.WriteFile(h.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(h.recv)
	t.Cleanup(h.srv.Close)
	var err error
	if h.childLog, err = os.Create(filepath.Join(base, "child.log")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.childLog.Close()
		if t.Failed() {
			data, _ := os.ReadFile(h.childLog.Name())
			t.Logf("shipper child's log (last 4KiB):\n%s", lastBytes(data, 4096))
		}
	})
	for _, name := range []string{"a", "b", "c", "d"} {
		h.writers[name] = &harnessWriter{
			name: name, path: filepath.Join(h.dir, name+".log"),
			partial: name != "c", long: name == "a" || name == "d",
			rnd: rand.New(rand.NewPCG(rand.Uint64(), 1)),
		}
	}
	return h
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func (h *harness) sleep(d time.Duration) {
	if d > 0 {
		time.Sleep(d)
	}
}

// start starts the writers and the shipper child.
func (h *harness) start() {
	for _, w := range h.writers {
		if err := w.open(); err != nil {
			h.t.Fatal(err)
		}
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			w.run(h.stop)
		}()
	}
	h.startChild()
}

func (h *harness) startChild() {
	cfg, _ := json.Marshal(harnessConfig{Dir: h.dir, DataDir: h.dataDir, URL: h.srv.URL, MaxLine: harnessMaxLine})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), harnessChildEnv+"="+string(cfg))
	cmd.Stdout, cmd.Stderr = h.childLog, h.childLog
	if err := cmd.Start(); err != nil {
		h.t.Fatalf("starting shipper child: %v", err)
	}
	h.child = cmd
}

// killAtRandom kills the child with SIGKILL within within and restarts it.
func (h *harness) killAtRandom(within time.Duration) {
	h.sleep(time.Duration(rand.Int64N(int64(within))))
	h.child.Process.Kill()
	h.child.Wait()
	cps, err := loadCheckpoints(checkpointPath(h.dataDir, "harness", "old"))
	if err != nil {
		h.t.Fatalf("loading the checkpoints of the killed shipper: %v", err)
	}
	h.recv.restarting(cps.all())
	h.kills++
	fmt.Fprintf(h.childLog, "--- harness: SIGKILL %d\n", h.kills)
	h.startChild()
}

// stopChild stops the child with SIGTERM: it delivers what it read and
// saves its checkpoints.
func (h *harness) stopChild() {
	if h.child == nil {
		return
	}
	h.child.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- h.child.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			h.t.Errorf("shipper child: %v", err)
		}
	case <-time.After(20 * time.Second):
		h.child.Process.Kill()
		<-done
		h.t.Errorf("shipper child did not stop within 20s of SIGTERM")
	}
	h.child = nil
}

// rotate runs logrotate -f: a.log in create mode, b.log copytruncate. The
// writer of b pauses while logrotate runs (lines written between its copy
// and its truncation are lost to any reader); the writer of a reopens a
// little after, as nginx does on USR1, writing meanwhile into the renamed
// file, which the shipper must drain.
func (h *harness) rotate() {
	b := h.writers["b"]
	b.mu.Lock()
	out, err := exec.Command(h.logrotate, "-f", "-s", h.state, h.conf).CombinedOutput()
	b.mu.Unlock()
	if err != nil {
		h.t.Fatalf("logrotate: %v\n%s", err, out)
	}
	a := h.writers["a"]
	time.AfterFunc(time.Duration(50+rand.IntN(250))*time.Millisecond, func() { a.reopen() })
}

// truncate truncates name's file once the receiver has all its lines.
func (h *harness) truncate(name string) {
	w := h.writers[name]
	w.mu.Lock()
	defer w.mu.Unlock()
	h.waitAll("every line of "+name+" at the receiver", w)
	if err := os.Truncate(w.path, 0); err != nil {
		h.t.Fatal(err)
	}
}

// recreate deletes name's file once the receiver has all its lines, and
// the writer creates it again.
func (h *harness) recreate(name string) {
	w := h.writers[name]
	w.mu.Lock()
	defer w.mu.Unlock()
	h.waitAll("every line of "+name+" at the receiver", w)
	if err := os.Remove(w.path); err != nil {
		h.t.Fatal(err)
	}
	w.f.Close()
	if err := w.openLocked(); err != nil {
		h.t.Fatal(err)
	}
}

// waitAll waits until the receiver holds every line the writers ws
// wrote (paused or stopped); it fails when no more of them came for
// stallAfter. The view costs, and holds the lock the receiver needs: it
// is built again only when events came, at most every 50ms.
func (h *harness) waitAll(what string, ws ...*harnessWriter) {
	h.t.Helper()
	checked, at, missing := -1, time.Time{}, []string{"not looked yet"}
	waited := false
	defer func() {
		if !waited {
			h.t.Logf("%d lines missing, the first: %q", len(missing), missing[:min(len(missing), 5)])
		}
	}()
	written := 0
	for _, w := range ws {
		written += len(w.written)
	}
	waitProgress(h.t, what, func() (int, bool) {
		if n := h.recv.received(); n != checked && time.Since(at) >= 50*time.Millisecond {
			checked, at, missing = n, time.Now(), nil
			v := h.recv.view()
			for _, w := range ws {
				missing = append(missing, v.missing(w.written)...)
			}
		}
		return written - len(missing), len(missing) == 0
	})
	waited = true
}

// all is the writers.
func (h *harness) all() []*harnessWriter {
	var out []*harnessWriter
	for _, w := range h.writers {
		out = append(out, w)
	}
	return out
}

func (h *harness) stopWriters() {
	close(h.stop)
	h.wg.Wait()
	for _, w := range h.writers {
		w.f.Close()
	}
}

// check compares the receiver's events, duplicates dropped by id, with
// what the writers wrote, and lists what a shipper sent again from before
// the checkpoints it started from.
func (h *harness) check() {
	t := h.t
	v := h.recv.view()
	total, lines := 0, 0
	for _, w := range h.writers {
		total += len(w.written)
		for _, m := range v.missing(w.written) {
			t.Errorf("%s: %s", w.name, m)
		}
		lines += len(w.written)
	}
	for _, p := range v.problems() {
		t.Error(p)
	}
	early := h.recv.resentSaved()
	for _, e := range early[:min(len(early), 10)] {
		t.Error(e)
	}
	if len(early) > 10 {
		t.Errorf("and %d more events sent again from before their checkpoint", len(early)-10)
	}
	dups := h.recv.received() - len(h.recv.view().byID)
	if h.kills < 5 {
		t.Errorf("%d kills, want at least 5", h.kills)
	}
	t.Logf("%d lines written in 4 files, %d events received, %d duplicates by id over %d kills", lines, h.recv.received(), dups, h.kills)
}

// writer writes numbered lines into one file.
type harnessWriter struct {
	name, path    string
	partial, long bool
	rnd           *rand.Rand

	mu      sync.Mutex // held for each write; held by the test to pause it
	f       *os.File
	seq     int
	written []harnessLine
}

// written is one line as written.
type harnessLine struct {
	kind  byte // L, P or G
	tag   string
	parts int // G: how many parts of max_line
}

func (w *harnessWriter) open() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.openLocked()
}

func (w *harnessWriter) openLocked() error {
	f, err := os.OpenFile(w.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("opening %s: %w", w.path, err)
	}
	w.f = f
	return nil
}

// reopen opens the file by its name again, after a create-mode rotation.
func (w *harnessWriter) reopen() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.f.Close()
	if err := w.openLocked(); err != nil {
		panic(err)
	}
}

// run writes about 200 lines per second until stop; a partial line is
// always finished.
func (w *harnessWriter) run(stop <-chan struct{}) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		w.seq++
		tag := fmt.Sprintf("%s.%06d", w.name, w.seq)
		switch r := w.rnd.IntN(100); {
		case w.partial && r < 2:
			w.write("P " + tag + " a|")
			time.Sleep(time.Duration(w.rnd.IntN(900)) * time.Millisecond) // flush_timeout is 500ms
			w.write("P " + tag + " b\n")
			w.record(harnessLine{kind: 'P', tag: tag})
		case w.long && r < 4:
			blocks := 20 + w.rnd.IntN(80)
			var b strings.Builder
			for i := range blocks {
				blk := fmt.Sprintf("G %s #%04d ", tag, i)
				b.WriteString(blk + strings.Repeat("g", harnessBlock-len(blk)))
			}
			w.write(b.String() + "\n")
			w.record(harnessLine{kind: 'G', tag: tag, parts: (blocks*harnessBlock + harnessMaxLine - 1) / harnessMaxLine})
		default:
			w.write("L " + tag + " " + strings.Repeat("x", 40+w.rnd.IntN(80)) + "\n")
			w.record(harnessLine{kind: 'L', tag: tag})
		}
	}
}

func (w *harnessWriter) write(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.f.WriteString(s); err != nil {
		panic(fmt.Sprintf("writing %s: %v", w.path, err))
	}
}

func (w *harnessWriter) record(l harnessLine) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.written = append(w.written, l)
}

// receiver is the sink's end: it stores events by id, refuses (503) or
// answers slowly when told to.
type harnessReceiver struct {
	mu     sync.Mutex
	byID   map[string]wireEvent
	total  int
	refuse bool
	delay  time.Duration
	// saved are the checkpoints the running shipper started from, and
	// early the events it sent again from before them.
	saved []checkpoint
	early []string
}

// restarting tells the receiver the checkpoints the next shipper starts
// from.
func (r *harnessReceiver) restarting(saved []checkpoint) { r.mu.Lock(); r.saved = saved; r.mu.Unlock() }

// resentSaved lists the events a shipper sent again although the
// checkpoints it started from had them delivered.
func (r *harnessReceiver) resentSaved() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.early)
}

// checkResent records ev, a duplicate, when it is before the checkpoint
// of its generation (the one whose fingerprint gives its id at its
// offset), or when no checkpoint has its generation: a generation is
// saved before its first event goes out. With r.mu held.
func (r *harnessReceiver) checkResent(ev wireEvent) {
	i := slices.IndexFunc(r.saved, func(cp checkpoint) bool { return eventID(cp.FP, ev.Off) == ev.ID })
	head := ev.Raw[:min(len(ev.Raw), 24)]
	switch {
	case i < 0:
		r.early = append(r.early, fmt.Sprintf("%q at %d sent again: its generation is in no checkpoint the shipper started from", head, ev.Off))
	case ev.Off < r.saved[i].Offset:
		r.early = append(r.early, fmt.Sprintf("%q at %d of %s sent again: the checkpoint the shipper started from was at %d",
			head, ev.Off, filepath.Base(r.saved[i].Path), r.saved[i].Offset))
	}
}

func newHarnessReceiver() *harnessReceiver { return &harnessReceiver{byID: make(map[string]wireEvent)} }

func (r *harnessReceiver) setRefuse(b bool) { r.mu.Lock(); r.refuse = b; r.mu.Unlock() }

func (r *harnessReceiver) setDelay(d time.Duration) { r.mu.Lock(); r.delay = d; r.mu.Unlock() }

func (r *harnessReceiver) received() int { r.mu.Lock(); defer r.mu.Unlock(); return r.total }

func (r *harnessReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	refuse, delay := r.refuse, r.delay
	r.mu.Unlock()
	if refuse {
		http.Error(w, "refusing", http.StatusServiceUnavailable)
		return
	}
	var evs []wireEvent
	sc := bufio.NewScanner(req.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev wireEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		evs = append(evs, ev)
	}
	r.mu.Lock()
	for _, ev := range evs {
		r.total++
		if _, dup := r.byID[ev.ID]; dup {
			r.checkResent(ev)
		} else {
			r.byID[ev.ID] = ev
		}
	}
	r.mu.Unlock()
	time.Sleep(delay) // stored, not yet acknowledged: a kill now makes duplicates
}

// view is the receiver's events, duplicates dropped, by what they are.
type harnessView struct {
	byID    map[string]wireEvent
	whole   map[string]int   // L lines, and P lines shipped whole
	partA   map[string]int   // P first parts shipped alone
	partB   map[string]int   // P second parts
	parts   map[string][]int // G: count per part
	unknown []string
}

func (r *harnessReceiver) view() *harnessView {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := &harnessView{byID: r.byID, whole: map[string]int{}, partA: map[string]int{}, partB: map[string]int{}, parts: map[string][]int{}}
	for _, ev := range r.byID {
		v.add(ev)
	}
	return v
}

func (v *harnessView) add(ev wireEvent) {
	f := strings.Fields(ev.Raw)
	if len(f) < 2 {
		v.unknown = append(v.unknown, ev.Raw)
		return
	}
	tag := f[1]
	switch {
	case f[0] == "L" && !ev.Split && !ev.Unterm:
		v.whole["L "+tag]++
	case f[0] == "P" && ev.Raw == "P "+tag+" a|P "+tag+" b" && !ev.Unterm:
		v.whole["P "+tag]++
	case f[0] == "P" && ev.Raw == "P "+tag+" a|" && ev.Unterm:
		v.partA[tag]++
	case f[0] == "P" && ev.Raw == "P "+tag+" b" && !ev.Unterm:
		v.partB[tag]++
	case f[0] == "G" && ev.Split && len(f) > 2:
		var blk int
		if _, err := fmt.Sscanf(f[2], "#%d", &blk); err != nil || blk%(harnessMaxLine/harnessBlock) != 0 {
			v.unknown = append(v.unknown, ev.Raw)
			return
		}
		i := blk / (harnessMaxLine / harnessBlock)
		for len(v.parts[tag]) <= i {
			v.parts[tag] = append(v.parts[tag], 0)
		}
		v.parts[tag][i]++
	default:
		v.unknown = append(v.unknown, ev.Raw)
	}
}

// missing lists the lines of ws the view does not hold exactly once.
func (v *harnessView) missing(ws []harnessLine) []string {
	var out []string
	for _, w := range ws {
		switch w.kind {
		case 'L':
			if n := v.whole["L "+w.tag]; n != 1 {
				out = append(out, fmt.Sprintf("line %s received %d times", w.tag, n))
			}
		case 'P':
			whole, a, b := v.whole["P "+w.tag], v.partA[w.tag], v.partB[w.tag]
			if !(whole == 1 && a == 0 && b == 0) && !(whole == 0 && a == 1 && b == 1) {
				out = append(out, fmt.Sprintf("partial line %s received whole %d times, first part %d, second part %d", w.tag, whole, a, b))
			}
		case 'G':
			got := v.parts[w.tag]
			ok := len(got) == w.parts
			for _, n := range got {
				ok = ok && n == 1
			}
			if !ok {
				out = append(out, fmt.Sprintf("long line %s: parts received %v, want %d parts once", w.tag, got, w.parts))
			}
		}
	}
	return out
}

// problems lists events that are no line written.
func (v *harnessView) problems() []string {
	var out []string
	for _, raw := range v.unknown {
		out = append(out, fmt.Sprintf("unexpected event %q", lastBytes([]byte(raw), 120)))
	}
	return out
}

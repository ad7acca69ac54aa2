package rollback

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"
	"go.uber.org/goleak"
)

// receiver is a webhook endpoint answering request i with answers[i] (the
// last one for the rest) and keeping what it got.
type receiver struct {
	srv     *httptest.Server
	answers []func(w http.ResponseWriter, r *http.Request)

	mu     sync.Mutex
	bodies []webhookPayload
}

func newReceiver(t *testing.T, answers ...func(w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{answers: answers}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

// url has a secret path, as Slack's webhooks do.
func (rc *receiver) url() string { return rc.srv.URL + "/services/T000/B000/secret" }

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	var p webhookPayload
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &p) != nil {
		http.Error(w, "not a webhook post", http.StatusTeapot)
		return
	}
	rc.mu.Lock()
	rc.bodies = append(rc.bodies, p)
	n := len(rc.bodies)
	rc.mu.Unlock()
	rc.answers[min(n, len(rc.answers))-1](w, r)
}

func (rc *receiver) got() []webhookPayload {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]webhookPayload(nil), rc.bodies...)
}

func status(code int, header ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		fmt.Fprint(w, http.StatusText(code))
	}
}

// hang answers only when the client gives up.
func hang(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// outcome is what OnDone reported for one event.
type outcome struct {
	app string
	err string
}

// runWebhook starts a notifier on rc with opts (OnDone, HTTP and Rand set
// here) and stops it when the test ends. Its outcomes arrive on the channel.
func runWebhook(t *testing.T, rc *receiver, opts WebhookOptions, start bool) (*Webhook, <-chan outcome, func()) {
	t.Helper()
	done := make(chan outcome, 16)
	opts.OnDone = func(ev Event, err error) {
		o := outcome{app: ev.App}
		if err != nil {
			o.err = err.Error()
		}
		done <- o
	}
	opts.HTTP = rc.srv.Client()
	opts.Rand = func() float64 { return 0 } // each wait is its lower half
	w, err := NewWebhook(rc.url(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	running := false
	run := func() {
		running = true
		go func() { stopped <- w.Run(ctx) }()
	}
	t.Cleanup(func() {
		cancel()
		if running {
			if err := <-stopped; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	})
	if start {
		run()
	}
	return w, done, run
}

// next waits for the next outcome.
func next(t *testing.T, done <-chan outcome) outcome {
	t.Helper()
	select {
	case o := <-done:
		return o
	case <-time.After(10 * time.Second):
		t.Fatal("no notification outcome after 10s")
		return outcome{}
	}
}

func noLeaks(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

func TestWebhookDelivers(t *testing.T) {
	noLeaks(t)
	rc := newReceiver(t, status(200))
	w, done, _ := runWebhook(t, rc, WebhookOptions{}, true)
	ev := testEvent
	ev.Verdict = nil
	if !w.Notify(ev) {
		t.Fatal("Notify dropped on an empty queue")
	}
	if got := next(t, done); got != (outcome{app: "shop"}) {
		t.Errorf("outcome = %+v, want delivered", got)
	}
	want := []webhookPayload{{
		Text:    "migrate: rollback of shop by controller, weight 25% → 0%: new side error rate 10.0% over 30s (old 1.0%)",
		Migrate: ev,
	}}
	if diff := cmp.Diff(rc.got(), want); diff != "" {
		t.Errorf("received (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(w.Stats(), WebhookStats{Sent: 1}); diff != "" {
		t.Errorf("Stats (-got +want):\n%s", diff)
	}
}

// TestWebhookRetries drives the waits between attempts on a fake clock.
// Backoff is 1s and the jitter draws the lower half: 500ms, then 1s, 2s...
func TestWebhookRetries(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name     string
		answers  []func(http.ResponseWriter, *http.Request)
		attempts int
		advances []time.Duration // the clock's steps, one per wait
		wantErr  string          // the final outcome's error; "" delivered
		wantN    int             // requests received
		want     WebhookStats
	}{
		{
			name:     "500 then 200",
			answers:  []func(http.ResponseWriter, *http.Request){status(500), status(200)},
			advances: []time.Duration{500 * time.Millisecond},
			wantN:    2, want: WebhookStats{Sent: 1},
		},
		{
			name:     "backoff doubles until the attempts run out",
			answers:  []func(http.ResponseWriter, *http.Request){status(503)},
			attempts: 3,
			advances: []time.Duration{500 * time.Millisecond, time.Second},
			wantErr:  "HTTP 503: Service Unavailable",
			wantN:    3, want: WebhookStats{Failed: 1},
		},
		{
			name:     "429 with Retry-After in seconds",
			answers:  []func(http.ResponseWriter, *http.Request){status(429, "Retry-After", "7"), status(200)},
			advances: []time.Duration{7 * time.Second},
			wantN:    2, want: WebhookStats{Sent: 1},
		},
		{
			name:     "Retry-After as a date",
			answers:  []func(http.ResponseWriter, *http.Request){status(503, "Retry-After", now.Add(9*time.Second).Format(http.TimeFormat)), status(200)},
			advances: []time.Duration{9 * time.Second},
			wantN:    2, want: WebhookStats{Sent: 1},
		},
		{
			name:     "Retry-After capped",
			answers:  []func(http.ResponseWriter, *http.Request){status(429, "Retry-After", "3600"), status(200)},
			advances: []time.Duration{MaxRetryAfter},
			wantN:    2, want: WebhookStats{Sent: 1},
		},
		{
			name:    "400 is not retried",
			answers: []func(http.ResponseWriter, *http.Request){status(400)},
			wantErr: "HTTP 400 (not retried): Bad Request",
			wantN:   1, want: WebhookStats{Failed: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			clock := clockwork.NewFakeClockAt(now)
			rc := newReceiver(t, tt.answers...)
			w, done, _ := runWebhook(t, rc, WebhookOptions{Clock: clock, Attempts: tt.attempts}, true)
			w.Notify(testEvent)
			for i, d := range tt.advances {
				waitForTimer(t, clock)
				// Short of the wait, the timer stays: nothing is sent.
				clock.Advance(d - time.Millisecond)
				waitForTimer(t, clock)
				if got := len(rc.got()); got != i+1 {
					t.Fatalf("%d requests before wait %d was over, want %d", got, i+1, i+1)
				}
				clock.Advance(time.Millisecond)
			}
			o := next(t, done)
			if tt.wantErr == "" && o.err != "" || !strings.Contains(o.err, tt.wantErr) {
				t.Errorf("outcome error = %q, want %q", o.err, tt.wantErr)
			}
			if strings.Contains(o.err, "secret") {
				t.Errorf("outcome error %q shows the webhook's secret path", o.err)
			}
			if got := len(rc.got()); got != tt.wantN {
				t.Errorf("%d requests, want %d", got, tt.wantN)
			}
			if diff := cmp.Diff(w.Stats(), tt.want); diff != "" {
				t.Errorf("Stats (-got +want):\n%s", diff)
			}
		})
	}
}

// waitForTimer waits until the notifier waits on the clock.
func waitForTimer(t *testing.T, clock *clockwork.FakeClock) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := clock.BlockUntilContext(ctx, 1); err != nil {
		t.Fatalf("waiting for the notifier to wait: %v", err)
	}
}

// TestWebhookHangingReceiver: an attempt past its timeout fails, and the
// next event still goes out.
func TestWebhookHangingReceiver(t *testing.T) {
	noLeaks(t)
	rc := newReceiver(t, hang, status(200))
	w, done, _ := runWebhook(t, rc, WebhookOptions{Timeout: 100 * time.Millisecond, Attempts: 1}, true)
	w.Notify(testEvent)
	if got := next(t, done); !strings.Contains(got.err, "context deadline exceeded") {
		t.Errorf("outcome of a hanging receiver = %+v, want a deadline error", got)
	}
	w.Notify(testEvent)
	if got := next(t, done); got.err != "" {
		t.Errorf("outcome after the hang = %+v, want delivered", got)
	}
	if diff := cmp.Diff(w.Stats(), WebhookStats{Sent: 1, Failed: 1}); diff != "" {
		t.Errorf("Stats (-got +want):\n%s", diff)
	}
}

func TestWebhookFullQueue(t *testing.T) {
	noLeaks(t)
	rc := newReceiver(t, status(200))
	w, done, run := runWebhook(t, rc, WebhookOptions{Queue: 2}, false)
	var got []bool
	for _, app := range []string{"a", "b", "c"} {
		ev := testEvent
		ev.App = app
		got = append(got, w.Notify(ev))
	}
	if diff := cmp.Diff(got, []bool{true, true, false}); diff != "" {
		t.Errorf("Notify results (-got +want):\n%s", diff)
	}
	run()
	outcomes := []outcome{next(t, done), next(t, done)}
	if diff := cmp.Diff(outcomes, []outcome{{app: "a"}, {app: "b"}}, cmp.AllowUnexported(outcome{})); diff != "" {
		t.Errorf("outcomes (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(w.Stats(), WebhookStats{Sent: 2, Dropped: 1}); diff != "" {
		t.Errorf("Stats (-got +want):\n%s", diff)
	}
}

func TestWebhookShutdownDropsQueued(t *testing.T) {
	noLeaks(t)
	rc := newReceiver(t, status(200))
	w, err := NewWebhook(rc.url(), WebhookOptions{HTTP: rc.srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	w.Notify(testEvent)
	w.Notify(testEvent)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := w.Run(ctx); err != nil {
		t.Errorf("Run = %v, want nil at shutdown", err)
	}
	if err := w.Run(t.Context()); err == nil {
		t.Error("second Run = nil, want an error")
	}
	if diff := cmp.Diff(w.Stats(), WebhookStats{Dropped: 2}); diff != "" {
		t.Errorf("Stats (-got +want):\n%s", diff)
	}
	if got := len(rc.got()); got != 0 {
		t.Errorf("%d requests after a shutdown, want 0", got)
	}
}

func TestNewWebhookHidesTheSecret(t *testing.T) {
	_, err := NewWebhook("ftp://hooks.example.com/services/T000/B000/secret", WebhookOptions{})
	checkErr(t, err, []string{`parsing webhook url: want an http or https URL, got "ftp://hooks.example.com/..."`})
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q shows the webhook's secret path", err)
	}
}

func TestEventText(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
		want string
	}{
		{
			name: "rollback",
			ev:   Event{Kind: "rollback", App: "shop", Actor: "api", WeightBefore: 50, Reason: "by hand"},
			want: "migrate: rollback of shop by api, weight 50% → 0%: by hand",
		},
		{
			name: "dry run, Slack's reserved characters",
			ev:   Event{Kind: "rollback", App: "shop", Actor: "controller", WeightBefore: 5, DryRun: true, Reason: "p99 <1s> & more"},
			want: "migrate: rollback of shop by controller, weight 5% → 0%: p99 &lt;1s&gt; &amp; more (dry run: nothing was changed)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := eventText(tt.ev); got != tt.want {
				t.Errorf("eventText = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBackoffFor(t *testing.T) {
	w, err := NewWebhook("http://127.0.0.1:1/", WebhookOptions{Backoff: time.Second, MaxBackoff: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var got [][2]time.Duration
	for attempt := 1; attempt <= 5; attempt++ {
		w.rand = func() float64 { return 0 }
		low := w.backoffFor(attempt)
		w.rand = func() float64 { return 0.999999 }
		got = append(got, [2]time.Duration{low, w.backoffFor(attempt).Round(time.Millisecond)})
	}
	want := [][2]time.Duration{{500 * time.Millisecond, time.Second}, {time.Second, 2 * time.Second}, {2 * time.Second, 4 * time.Second}, {2500 * time.Millisecond, 5 * time.Second}, {2500 * time.Millisecond, 5 * time.Second}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("backoff ranges by attempt (-got +want):\n%s", diff)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"-3", 0},
		{"soon", 0},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			if got := retryAfter(tt.header, now); got != tt.want {
				t.Errorf("retryAfter(%q) = %s, want %s", tt.header, got, tt.want)
			}
		})
	}
}

func ExampleWebhook() {
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct{ Text string }
		json.NewDecoder(r.Body).Decode(&p)
		fmt.Println("received:", p.Text)
	}))
	defer receiver.Close()

	done := make(chan error, 1)
	w, err := NewWebhook(receiver.URL, WebhookOptions{
		HTTP:   receiver.Client(),
		OnDone: func(ev Event, err error) { done <- err },
	})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error)
	go func() { stopped <- w.Run(ctx) }()

	w.Notify(Event{Kind: EventRollback, App: "shop", Actor: "controller", WeightBefore: 25, Reason: "new side error rate 12% over 30s"})
	fmt.Println("delivered:", <-done == nil)
	cancel()
	<-stopped
	// Output:
	// received: migrate: rollback of shop by controller, weight 25% → 0%: new side error rate 12% over 30s
	// delivered: true
}

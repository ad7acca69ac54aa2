package logship

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// harnessChildEnv selects the shipper child in TestMain; its value is the
// child's harnessConfig as JSON.
const harnessChildEnv = "MIGRATE_LOGSHIP_HARNESS_CHILD"

// harnessConfig is what the harness tells its shipper child.
type harnessConfig struct {
	Dir     string // the logs, shipped as Dir/*.log
	DataDir string
	URL     string // the receiver
	MaxLine int
}

// wireEvent is an event as the harness sink posts it.
type wireEvent struct {
	ID     string `json:"id"`
	Off    int64  `json:"off"` // where it starts in its generation
	Raw    string `json:"raw"`
	Split  bool   `json:"split,omitempty"`
	Unterm bool   `json:"unterm,omitempty"`
}

// harnessChild ships cfg.Dir to the receiver until SIGTERM; the harness
// kills it with SIGKILL at random points.
func harnessChild(raw string) int {
	var cfg harnessConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "harness child: decoding config:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	sh, err := NewShipper(ShipperOptions{
		Source: SourceConfig{
			App: "harness", Side: "old", Paths: []string{filepath.Join(cfg.Dir, "*.log")}, Format: "raw",
			MaxLine: cfg.MaxLine, FlushTimeout: 500 * time.Millisecond,
			Poll: 20 * time.Millisecond, Rescan: 100 * time.Millisecond, CloseAfter: 1500 * time.Millisecond,
		},
		Sink:      &postSink{url: cfg.URL},
		DataDir:   cfg.DataDir,
		BatchSize: harnessBatch, BatchWait: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness child:", err)
		return 2
	}
	if err := sh.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "harness child:", err)
		return 3
	}
	return 0
}

// postSink posts each batch as JSON lines and tries again, every 50ms,
// until the receiver answers 200.
type postSink struct {
	url string
}

func (p *postSink) Send(ctx context.Context, batch []Event) error {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	for i := range batch {
		ev := &batch[i]
		if err := enc.Encode(wireEvent{ID: ev.ID, Off: ev.Offset, Raw: string(ev.Record.Raw), Split: ev.Split, Unterm: ev.Unterminated}); err != nil {
			return err
		}
	}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body.Bytes()))
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *postSink) Close() error { return nil }

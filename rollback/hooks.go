package rollback

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/migratekit/migrate/manifest"
)

// Event is an action of migrate, as hooks and notifiers receive it.
type Event struct {
	At  time.Time `json:"at"`
	App string    `json:"app"`
	// Kind is what happened: EventRollback for the rollback actions.
	Kind string `json:"kind"`
	// Actor is who did it: controller, cli or api.
	Actor string `json:"actor"`
	// Reason is a sentence a user can read.
	Reason string `json:"reason"`
	// WeightBefore and WeightAfter are the app's weight (share of traffic
	// on new, 0-100) before and after the action.
	WeightBefore int `json:"weight_before"`
	WeightAfter  int `json:"weight_after"`
	// DryRun is set when the action was recorded but not done.
	DryRun bool `json:"dry_run"`
	// Verdict is the evaluation behind a controller's action.
	Verdict *Verdict `json:"verdict,omitempty"`
}

// EventRollback is the kind of a rollback's event.
const EventRollback = "rollback"

// Hook runs are bounded in what they keep and how long they linger.
const (
	// maxHookOutput is how much of a hook's output (stdout and stderr
	// together) is kept for the log; the rest is counted and dropped.
	maxHookOutput = 16 << 10
	// hookWaitDelay is how long a hook's pipes may stay open after it
	// exited or was killed (by a child left behind) before Wait gives up.
	hookWaitDelay = 2 * time.Second
)

// RunHooks runs the hooks one after the other, in order, each under its
// timeout: on timeout (or when ctx is done) the hook's whole process group
// is killed. Each hook gets the process's environment plus:
//
//	MIGRATE_EVENT          the event's kind (rollback)
//	MIGRATE_APP            the app
//	MIGRATE_ACTOR          controller, cli or api
//	MIGRATE_REASON         the reason, one sentence
//	MIGRATE_AT             the event's time, RFC 3339
//	MIGRATE_WEIGHT_BEFORE  the weight before the action, 0-100
//	MIGRATE_WEIGHT_AFTER   the weight after it
//	MIGRATE_DRY_RUN        true or false
//	MIGRATE_VERDICT        pass, fail or insufficient; empty without a verdict
//
// and the event as JSON (with the verdict and its numbers) on stdin. The
// output of each hook is logged (its first 16 KiB). A failing hook does not
// stop the next ones; the error joins every failure. A nil logger discards.
func RunHooks(ctx context.Context, hooks []manifest.Hook, ev Event, logger *slog.Logger) error {
	if len(hooks) == 0 {
		return nil
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	stdin, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encoding hook event: %w", err)
	}
	stdin = append(stdin, '\n')
	env := append(os.Environ(), hookEnv(ev)...)
	var errs []error
	for i, h := range hooks {
		if err := runHook(ctx, h, env, stdin, logger.With("app", ev.App, "hook", i+1)); err != nil {
			errs = append(errs, fmt.Errorf("running hook %d (%s): %w", i+1, hookName(h), err))
		}
	}
	return errors.Join(errs...)
}

// hookEnv is the event as the documented environment variables.
func hookEnv(ev Event) []string {
	verdict := ""
	if ev.Verdict != nil {
		verdict = ev.Verdict.Result
	}
	return []string{
		"MIGRATE_EVENT=" + ev.Kind,
		"MIGRATE_APP=" + ev.App,
		"MIGRATE_ACTOR=" + ev.Actor,
		"MIGRATE_REASON=" + ev.Reason,
		"MIGRATE_AT=" + ev.At.Format(time.RFC3339Nano),
		"MIGRATE_WEIGHT_BEFORE=" + strconv.Itoa(ev.WeightBefore),
		"MIGRATE_WEIGHT_AFTER=" + strconv.Itoa(ev.WeightAfter),
		"MIGRATE_DRY_RUN=" + strconv.FormatBool(ev.DryRun),
		"MIGRATE_VERDICT=" + verdict,
	}
}

func hookName(h manifest.Hook) string {
	if len(h.Command) == 0 {
		return "no command"
	}
	return h.Command[0]
}

// runHook runs one hook and logs how it went.
func runHook(ctx context.Context, h manifest.Hook, env []string, stdin []byte, logger *slog.Logger) error {
	if len(h.Command) == 0 || h.Command[0] == "" {
		return errors.New("no command")
	}
	timeout := h.Timeout.D()
	if timeout <= 0 {
		timeout = manifest.DefaultHookTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := &boundedBuffer{max: maxHookOutput}
	cmd := hookCommand(ctx, h.Command, env, stdin, out)
	start := time.Now()
	err := cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		// The hook exited well but left a child holding its output open.
		logger.Warn("rollback hook left a process holding its output", "command", h.Command)
		err = nil
	}
	if ctx.Err() != nil && err != nil && cmd.Process != nil {
		err = fmt.Errorf("killed after %s: %w", time.Since(start).Round(time.Millisecond), context.Cause(ctx))
	}
	attrs := []any{"command", h.Command, "duration", time.Since(start), "output", out.String(), "output_dropped", out.dropped}
	if err != nil {
		logger.Warn("rollback hook failed", append(attrs, "err", err)...)
		if tail := out.lastLine(); tail != "" {
			err = fmt.Errorf("%w: %s", err, tail)
		}
		return err
	}
	logger.Info("rollback hook ran", attrs...)
	return nil
}

// hookCommand prepares a hook in a process group of its own, so that a
// timeout kills it with everything it started.
func hookCommand(ctx context.Context, argv, env []string, stdin []byte, out *boundedBuffer) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stdout = out
	cmd.Stderr = out
	killGroupOnCancel(cmd)
	cmd.WaitDelay = hookWaitDelay
	return cmd
}

// boundedBuffer keeps the first max bytes written to it and counts the
// rest. exec.Cmd writes stdout and stderr from one goroutine when both are
// the same writer, so it needs no lock.
type boundedBuffer struct {
	buf     bytes.Buffer
	max     int
	dropped int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	keep := min(len(p), b.max-b.buf.Len())
	b.buf.Write(p[:keep])
	b.dropped += len(p) - keep
	return len(p), nil
}

func (b *boundedBuffer) String() string { return b.buf.String() }

// lastLine is the last non-empty line of the output, cut to 200 bytes.
func (b *boundedBuffer) lastLine() string {
	s := strings.TrimSpace(b.buf.String())
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

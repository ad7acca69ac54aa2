package dashboards_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/migratekit/migrate/demo"
)

// startDemo runs the demo in-process, with the weight at plan's step when
// given (50: both sides serve, and each side's clients are mirrored to the
// other and diffed), else in the shadow phase, and returns its admin URL and token. The demo
// stops when the test ends.
func startDemo(t *testing.T, plan ...int) (adminURL, token string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		_, err := demo.Run(ctx, demo.Options{
			Duration: 5 * time.Minute, Plan: plan, Rate: 200,
			Started: func(_, adminURL, token string) { started <- [2]string{adminURL, token} },
		})
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("demo: %v", err)
		}
	})
	select {
	case s := <-started:
		return s[0], s[1]
	case err := <-done:
		t.Fatalf("demo did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not start within 30s")
	}
	return "", ""
}

// browser starts Debian's chromium headless with its own profile; the
// returned errs collects the page's console errors and exceptions.
func browser(t *testing.T) (context.Context, *consoleErrors) {
	t.Helper()
	bin := os.Getenv("MIGRATE_TEST_CHROMIUM")
	if bin == "" {
		t.Fatal("MIGRATE_TEST_CHROMIUM is not set: point it at Debian's chromium (apt-get install chromium; scripts/test sets it)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000), chromedp.Flag("disable-dev-shm-usage", true),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	t.Cleanup(func() { cancel(); bcancel(); acancel() })
	errs := &consoleErrors{}
	// Console subscribes before it returns, so nothing the page writes
	// later is missed.
	msgs := chromedp.Console(ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			errs.add(m)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return ctx, errs
}

// consoleErrors collects the page's console errors and uncaught
// exceptions.
type consoleErrors struct {
	mu   sync.Mutex
	msgs []string
}

func (c *consoleErrors) add(m chromedp.ConsoleMessage) {
	if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException {
		return
	}
	c.mu.Lock()
	c.msgs = append(c.msgs, m.String())
	c.mu.Unlock()
}

func (c *consoleErrors) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.msgs...)
}

// artefactDir is where screenshots go: $MIGRATE_TEST_ARTIFACTS, or the
// test's temp dir.
func artefactDir(t *testing.T) string {
	if d := os.Getenv("MIGRATE_TEST_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("creating %s: %v", d, err)
		}
		return d
	}
	return t.TempDir()
}

// TestBrowserDashboard opens the demo's dashboard in chromium and checks
// what a user relies on: live charts in both columns, the regression on
// top of the diff table, its detail naming the differing field, a page
// that fits a phone and follows dark mode, and no console error.
func TestBrowserDashboard(t *testing.T) {
	adminURL, token := startDemo(t, 50)
	ctx, errs := browser(t)
	dir := artefactDir(t)
	poll := func(name, expr string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(40*time.Second))); err != nil {
			t.Fatalf("waiting for %s (%s): %v; console: %v", name, expr, err, errs.all())
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(adminURL+"/dashboard/")); err != nil {
		t.Fatalf("opening the dashboard: %v", err)
	}
	poll("live data in both columns", `(() => {
		const d = window.migrateDashboard;
		if (!d) return false;
		const live = (side) => { const u = d.charts[side + '-rps']; return u && u.data[1].filter((v) => v > 0).length >= 3; };
		return live('old') && live('new');
	})()`)
	poll("the diff table", `document.querySelectorAll('#diff-table tbody tr').length > 1`)
	// At weight 50 each side's clients are mirrored to the other.
	poll("both directions in the diff table", `new Set([...document.querySelectorAll('#diff-table tbody tr')].map((r) => r.dataset.direction)).size === 2`)

	tests := []struct {
		name, expr, want string
	}{
		{"connection", `document.querySelector('#conn').textContent`, "live"},
		{"old charts with points", `String(['rps','err','lat','cls'].every((p) => window.migrateDashboard.points('old', p) >= 3))`, "true"},
		{"new charts with points", `String(['rps','err','lat','cls'].every((p) => window.migrateDashboard.points('new', p) >= 3))`, "true"},
		{"canvases per column", `String(document.querySelectorAll('.side[data-side="old"] canvas').length === document.querySelectorAll('.side[data-side="new"] canvas').length && document.querySelectorAll('.side[data-side="old"] canvas').length >= 4)`, "true"},
		{"shared axes", `String(['rps','lat'].every((p) => { const c = window.migrateDashboard.charts; return c['old-' + p].scales.y.max === c['new-' + p].scales.y.max; }))`, "true"},
		{"top of the diff table", `document.querySelector('#diff-table tbody tr').dataset.endpoint`, demo.RegressedEndpoint},
		{"directions as arrows", `[...new Set([...document.querySelectorAll('#diff-table tbody tr td:nth-child(2)')].map((td) => td.textContent))].sort().join(',')`, "new→old,old→new"},
		{"both sides mirrored to", `String(['old','new'].every((s) => /^[\d,]+ requests, [\d,]+ 5xx/.test(document.querySelector('.side[data-side="' + s + '"] [data-item="mirrored"] dd')?.textContent || '')))`, "true"},
		// The demo ships no logs, checks no DNS and runs no fallback.
		{"optional sections hidden", `String(document.querySelector('#dns').hidden && document.querySelector('#fallback').hidden && !document.querySelector('[data-panel="log"]'))`, "true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chromedp.Run(ctx, chromedp.Evaluate[string](tt.expr))
			if err != nil {
				t.Fatalf("evaluating %s: %v", tt.expr, err)
			}
			if got != tt.want {
				t.Errorf("%s = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}

	t.Run("diff detail", func(t *testing.T) {
		err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`#diff-table tbody tr:first-child button`)),
			chromedp.WaitVisible(chromedp.CSS(`#diff-detail mark.diff`)),
		)
		if err != nil {
			t.Fatalf("opening the detail of %s: %v", demo.RegressedEndpoint, err)
		}
		marked, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('#diff-detail mark.diff')].map((m) => m.title).join(',')`))
		if err != nil {
			t.Fatal(err)
		}
		list, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#diff-detail .diff-list`)))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(marked, demo.RegressedField) {
			t.Errorf("highlighted paths %q, want %s among them", marked, demo.RegressedField)
		}
		if !strings.Contains(list, demo.RegressedField) {
			t.Errorf("differences listed %q, want %s", list, demo.RegressedField)
		}
	})
	screenshot(t, ctx, filepath.Join(dir, "dashboard-1280.png"))

	t.Run("set weight with the token", func(t *testing.T) {
		err := chromedp.Do(ctx,
			// One step, so that no frame resets the field in between.
			chromedp.Evaluate[chromedp.Void](`document.querySelector('#weight-input').value = '60'; document.querySelector('#actions').requestSubmit()`),
			chromedp.WaitVisible(chromedp.CSS(`#confirm input[name="token"]`)),
			chromedp.SendKeys(chromedp.CSS(`#confirm input[name="token"]`), token),
			chromedp.Click(chromedp.CSS(`#confirm button[value="ok"]`)),
			chromedp.Poll[chromedp.Void](`document.querySelector('#cutover .action-result').textContent.includes('at 60% on new')`, chromedp.WithPollingTimeout(10*time.Second)),
			chromedp.Poll[chromedp.Void](`document.querySelector('#cutover .weight-text').textContent.startsWith('60%')`, chromedp.WithPollingTimeout(10*time.Second)),
		)
		if err != nil {
			msg, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#cutover .action-result').textContent`))
			t.Fatalf("setting the weight from the page: %v (page says %q)", err, msg)
		}
		kept, err := chromedp.Run(ctx, chromedp.Evaluate[string](`sessionStorage.getItem('migrate-admin-token')`))
		if err != nil || kept != token {
			t.Errorf("token kept in sessionStorage: %q, %v", kept, err)
		}
	})

	t.Run("phone width", func(t *testing.T) {
		err := chromedp.Do(ctx,
			chromedp.EmulateViewport(390, 844),
			// The charts resize after a debounce of 100 ms.
			chromedp.Poll[chromedp.Void](`document.documentElement.scrollWidth <= window.innerWidth + 1`, chromedp.WithPollingTimeout(5*time.Second)),
		)
		if err != nil {
			t.Errorf("the page stays wider than a 390 px phone screen: %v", err)
		}
		screenshot(t, ctx, filepath.Join(dir, "dashboard-phone.png"))
	})

	t.Run("dark mode", func(t *testing.T) {
		bg := `getComputedStyle(document.body).backgroundColor`
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 1000)); err != nil {
			t.Fatal(err)
		}
		light, err := chromedp.Run(ctx, chromedp.Evaluate[string](bg))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
		}); err != nil {
			t.Fatal(err)
		}
		dark, err := chromedp.Run(ctx, chromedp.Evaluate[string](bg))
		if err != nil {
			t.Fatal(err)
		}
		if light == dark {
			t.Errorf("background %s in both light and dark mode", light)
		}
		screenshot(t, ctx, filepath.Join(dir, "dashboard-dark.png"))
	})

	if msgs := errs.all(); len(msgs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(msgs, "\n"))
	}

	t.Run("promote reaches the plan's endpoint", func(t *testing.T) {
		// The demo app has no cutover.plan: the promote endpoint refuses it
		// with its own reason, which the page shows. Last, after the check
		// of console errors: the browser logs the 400 as one.
		err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`#actions button[data-action="promote"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#confirm button[value="ok"]`)),
			chromedp.Click(chromedp.CSS(`#confirm button[value="ok"]`)),
			chromedp.Poll[chromedp.Void](`document.querySelector('#cutover .action-result').textContent.includes('no cutover.plan')`, chromedp.WithPollingTimeout(10*time.Second)),
		)
		if err != nil {
			msg, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#cutover .action-result').textContent`))
			t.Fatalf("promoting from the page: %v (page says %q)", err, msg)
		}
		msg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#cutover .action-result').textContent`))
		if want := "Refused: promoting the plan of"; err != nil || !strings.HasPrefix(msg, want) {
			t.Errorf("page says %q (%v), want it to start with %q", msg, err, want)
		}
	})
}

func screenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("taking a screenshot: %v", err)
		return
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Errorf("saving the screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s", path)
}

// TestBrowserShadowPhase: in the shadow phase new serves no client; its
// card and charts show its answers to the requests mirrored to it, labelled
// as mirrored and apart from its served numbers (which stay at zero),
// with their 5xx (the demo's new side fails one cart request in fifty).
func TestBrowserShadowPhase(t *testing.T) {
	adminURL, _ := startDemo(t)
	ctx, errs := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(adminURL+"/dashboard/")); err != nil {
		t.Fatalf("opening the dashboard: %v", err)
	}
	item := func(name string) string {
		return `(document.querySelector('.side[data-side="new"] [data-item="` + name + `"] dd')?.textContent || '')`
	}
	for _, c := range []struct{ what, expr string }{
		{"the new column charts the mirrored requests, dashed, and no served one", `(() => {
			const u = window.migrateDashboard && window.migrateDashboard.charts['new-rps'];
			return !!u && u.series[2].label === 'mirrored req/s' && u.data[2].filter((v) => v > 0).length >= 3 &&
				u.data[1].every((v) => !v) &&
				document.querySelector('.side[data-side="new"] .side-note').textContent.includes('mirrored');
		})()`},
		{"new's card counts the mirrored requests and their 5xx", `/^[\d,]+ requests, [1-9][\d,]* 5xx/.test(` + item("mirrored") + `) && ` + item("requests") + ` === '0'`},
		{"new's error chart shows the mirrored 5xx", `(() => {
			const u = window.migrateDashboard.charts['new-err'];
			return u.series[2].label === 'mirrored 5xx' && u.data[2].some((v) => v > 0) && u.data[1].every((v) => !v);
		})()`},
	} {
		if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](c.expr, chromedp.WithPollingTimeout(60*time.Second))); err != nil {
			card, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('.side[data-side="new"] .totals').textContent`))
			t.Fatalf("%s: %v; new's card %q; console: %v", c.what, err, card, errs.all())
		}
	}
	screenshot(t, ctx, filepath.Join(artefactDir(t), "dashboard-shadow.png"))
	if msgs := errs.all(); len(msgs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(msgs, "\n"))
	}
}

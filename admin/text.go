package admin

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/migratekit/migrate/rollback"
	"github.com/migratekit/migrate/telemetry"
)

// WriteText writes st for a terminal: old and new side by side.
func (st AppStatus) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "%s  weight %d%% on new  phase %s\n", st.App, st.Weight, st.Phase)
	if v := st.Verdict; v != nil {
		fmt.Fprintf(w, "verdict %s at %s%s\n", v.Result, v.At.Format("15:04:05"), verdictReasons(v))
	}
	if e := st.LastRollback; e != nil {
		fmt.Fprintf(w, "rolled back at %s by %s (weight %s -> %s): %s\n", e.At.Local().Format("2006-01-02 15:04:05"), e.Actor, e.Before, e.After, e.Reason)
	}
	if st.Plan != nil {
		fmt.Fprintln(w, planText(st.App, st.Plan))
	}
	if st.DNS != nil {
		writeDNSText(w, st.DNS)
	}
	for _, e := range st.LiveBackends {
		by := ""
		if e.Actor != "" {
			by = " by " + e.Actor
		}
		fmt.Fprintf(w, "live backend %s %s %s at %s%s (wins over the manifest)\n", e.Side, e.URL, e.Op,
			e.At.Local().Format("2006-01-02 15:04:05"), by)
	}
	fmt.Fprintln(w)
	old, nw := st.Sides[telemetry.SideOld], st.Sides[telemetry.SideNew]
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\told\tnew\t\n")
	fmt.Fprintf(tw, "requests\t%d\t%d\t\n", old.Requests, nw.Requests)
	fmt.Fprintf(tw, "errors (5xx)\t%d\t%d\t\n", old.Errors, nw.Errors)
	fmt.Fprintf(tw, "error rate\t%.2f%%\t%.2f%%\t\n", old.ErrorRate*100, nw.ErrorRate*100)
	fmt.Fprintf(tw, "p50\t%.1f ms\t%.1f ms\t\n", old.P50Ms, nw.P50Ms)
	fmt.Fprintf(tw, "p99\t%.1f ms\t%.1f ms\t\n", old.P99Ms, nw.P99Ms)
	fmt.Fprintf(tw, "backends up\t%s\t%s\t\n", st.upCount(telemetry.SideOld), st.upCount(telemetry.SideNew))
	writeMirroredText(tw, old.Mirrored, nw.Mirrored)
	return tw.Flush()
}

// verdictReasons lists the reasons of v's checks that did not pass, each
// text once with the rules that gave it ("; " before each), and the
// source's error: several rules often share one reason (no requests yet).
// The fast breaker's reason shows only when it fails, as in
// Verdict.Reason.
func verdictReasons(v *rollback.Verdict) string {
	var reasons []string
	rules := map[string][]string{}
	for _, c := range v.Checks {
		if c.Result == rollback.Pass || (c.Rule == rollback.RuleFastBreaker && c.Result != rollback.Fail) {
			continue
		}
		if _, seen := rules[c.Reason]; !seen {
			reasons = append(reasons, c.Reason)
		}
		rules[c.Reason] = append(rules[c.Reason], c.Rule)
	}
	var b strings.Builder
	for _, r := range reasons {
		fmt.Fprintf(&b, "; %s: %s", strings.Join(rules[r], ", "), r)
	}
	if v.Err != "" {
		fmt.Fprintf(&b, "; %s", v.Err)
	}
	return b.String()
}

// writeMirroredText adds the sides' answers to mirrored requests, apart
// from the clients they served, when there are any.
func writeMirroredText(w io.Writer, old, nw telemetry.MirroredStats) {
	if old.Requests+nw.Requests == 0 {
		return
	}
	fmt.Fprintf(w, "mirrored requests\t%d\t%d\t\n", old.Requests, nw.Requests)
	fmt.Fprintf(w, "mirrored 5xx\t%d\t%d\t\n", old.Errors, nw.Errors)
	fmt.Fprintf(w, "mirrored no answer\t%d\t%d\t\n", old.NoAnswer, nw.NoAnswer)
	fmt.Fprintf(w, "mirrored p99\t%.1f ms\t%.1f ms\t\n", old.P99Ms, nw.P99Ms)
}

func (st AppStatus) upCount(side string) string {
	up, all := 0, 0
	for _, b := range st.Backends {
		if b.Side != side {
			continue
		}
		all++
		if b.Healthy {
			up++
		}
	}
	return fmt.Sprintf("%d/%d", up, all)
}

// Screen draws successive statuses for `migrate status --watch`: on a
// terminal each one replaces the previous in place (the cursor goes back
// up over the previous frame, which is cleared), elsewhere they follow
// each other as blocks. From the second frame on it adds each side's
// requests per second since the previous one.
type Screen struct {
	W   io.Writer
	TTY bool

	lines int        // lines of the previous frame on a terminal
	prev  *AppStatus // the previous status, for the rates
	at    time.Time  // when prev was read
}

// Draw writes st, read at at.
func (s *Screen) Draw(st AppStatus, at time.Time) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n", at.Format("15:04:05"))
	if err := st.WriteText(&b); err != nil {
		return err
	}
	if s.prev != nil && s.prev.App == st.App {
		secs := at.Sub(s.at).Seconds()
		served := func(s telemetry.SideStats) uint64 { return s.Requests }
		fmt.Fprintf(&b, "%12s   old %.1f   new %.1f\n", "req/s now", perSecond(s.prev, &st, SideOld, secs, served), perSecond(s.prev, &st, SideNew, secs, served))
		if st.Sides[SideOld].Mirrored.Requests+st.Sides[SideNew].Mirrored.Requests > 0 {
			mirrored := func(s telemetry.SideStats) uint64 { return s.Mirrored.Requests }
			fmt.Fprintf(&b, "%12s   old %.1f   new %.1f\n", "mirrored/s", perSecond(s.prev, &st, SideOld, secs, mirrored), perSecond(s.prev, &st, SideNew, secs, mirrored))
		}
	}
	s.prev, s.at = &st, at
	return s.write(b.Bytes())
}

// DrawError writes a failed refresh in place of a frame; the next Draw
// replaces it.
func (s *Screen) DrawError(err error, at time.Time) error {
	return s.write(fmt.Appendf(nil, "%s  refresh failed: %v\n", at.Format("15:04:05"), err))
}

func (s *Screen) write(frame []byte) error {
	var b bytes.Buffer
	if s.TTY && s.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\x1b[J", s.lines) // up over the previous frame, clear to the end
	} else if !s.TTY && s.lines > 0 {
		b.WriteByte('\n')
	}
	b.Write(frame)
	s.lines = bytes.Count(frame, []byte("\n"))
	_, err := s.W.Write(b.Bytes())
	return err
}

// Sides of AppStatus.Sides.
const (
	SideOld = telemetry.SideOld
	SideNew = telemetry.SideNew
)

func perSecond(prev, cur *AppStatus, side string, secs float64, count func(telemetry.SideStats) uint64) float64 {
	a, b := count(prev.Sides[side]), count(cur.Sides[side])
	if secs <= 0 || b < a {
		return 0
	}
	return float64(b-a) / secs
}

package dnscheck

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteJSON writes reports as a JSON array, indented.
func WriteJSON(w io.Writer, reps []Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if reps == nil {
		reps = []Report{}
	}
	if err := enc.Encode(reps); err != nil {
		return fmt.Errorf("writing json: %w", err)
	}
	return nil
}

// WriteJSON writes the report as one JSON object, indented.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("writing json: %w", err)
	}
	return nil
}

// WriteText writes a report as a table, one line per server, and a
// summary line; now is the time the ETA counts down from.
func WriteText(w io.Writer, rep Report, now time.Time) error {
	fmt.Fprintf(w, "%s %s, expect %s", rep.Name, rep.Type, strings.Join(rep.Expect, ", "))
	if len(rep.Old) > 0 {
		fmt.Fprintf(w, " (old %s)", strings.Join(rep.Old, ", "))
	}
	if rep.Zone != "" {
		fmt.Fprintf(w, "; zone %s serial %d", rep.Zone, rep.Serial)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tSERVER\tANSWER\tTTL\tSTATUS\tNOTE")
	for _, set := range [][]Result{rep.Authoritative, rep.Resolvers} {
		for _, r := range set {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Role, serverLabel(r), answerText(r), ttlText(r, rep.CheckedAt, now), r.Status, note(r))
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing table: %w", err)
	}
	_, err := fmt.Fprintln(w, Summary(rep, now))
	return err
}

// Summary is the one-line summary of a report: the propagated share, the
// authoritative agreement and the ETA counting down from now.
func Summary(rep Report, now time.Time) string {
	var b strings.Builder
	if rep.Done() {
		b.WriteString("PROPAGATED: ")
	} else {
		b.WriteString("NOT PROPAGATED: ")
	}
	fmt.Fprintf(&b, "%d/%d resolvers (%.0f%%), %d/%d authoritative agree", count(rep.Resolvers, StatusMatch), len(rep.Resolvers),
		rep.Propagated*100, agreeing(rep.Authoritative), len(rep.Authoritative))
	if rep.Serial != 0 {
		fmt.Fprintf(&b, " on serial %d", rep.Serial)
	}
	b.WriteString("; ")
	b.WriteString(ETAText(rep.ETA, now))
	return b.String()
}

// ETAText renders an ETA as a countdown from now.
func ETAText(e ETA, now time.Time) string {
	var s string
	switch e.Basis {
	case ETAPropagated:
		return "done"
	case ETAResolverTTL:
		s = fmt.Sprintf("ETA %s (cache of %s)", countdown(e.Remaining(now)), e.Server)
	case ETAAuthoritativeLagging:
		s = "ETA unknown: not every authoritative server has the change"
	default:
		s = "ETA unknown: the resolvers left failed"
	}
	if !e.WorstCase.IsZero() {
		s += fmt.Sprintf(", worst case %s (%s)", countdown(max(0, e.WorstCase.Sub(now))), e.WorstCaseBasis)
	}
	return s
}

func countdown(d time.Duration) string {
	if d <= 0 {
		return "passed"
	}
	return "in " + d.Round(time.Second).String()
}

func agreeing(rs []Result) int {
	n := 0
	for _, r := range rs {
		if r.Status == StatusMatch && !r.Lagging {
			n++
		}
	}
	return n
}

func serverLabel(r Result) string {
	if r.Host != "" {
		return r.Host + " " + r.Server
	}
	return r.Server
}

func answerText(r Result) string {
	var parts []string
	for _, c := range r.Chain {
		parts = append(parts, "→"+c)
	}
	if len(r.Answers) > 0 {
		parts = append(parts, strings.Join(r.Answers, ","))
	}
	if len(parts) == 0 {
		if r.Rcode != "" {
			return r.Rcode
		}
		return "-"
	}
	return strings.Join(parts, " ")
}

// ttlText is the remaining TTL at now of the answer seen at checkedAt.
func ttlText(r Result, checkedAt, now time.Time) string {
	ttl := r.TTLSeconds
	if r.Status == StatusMissing && r.Role == RoleResolver {
		ttl = r.NegativeTTLSeconds
	}
	if r.Status == StatusFailed || (ttl == 0 && len(r.Answers) == 0) {
		return "-"
	}
	return strconv.Itoa(int(ttlLeft(ttl, checkedAt, now).Round(time.Second)/time.Second)) + "s"
}

func note(r Result) string {
	var parts []string
	if r.Role == RoleAuthoritative && r.Serial != 0 {
		s := "serial " + strconv.FormatUint(uint64(r.Serial), 10)
		if r.Lagging {
			s += " (lagging)"
		}
		parts = append(parts, s)
	}
	if r.Reason != "" && !strings.HasPrefix(r.Error, r.Reason) {
		parts = append(parts, r.Reason)
	}
	if r.TCP {
		parts = append(parts, "tcp")
	}
	if r.Status == StatusFailed && r.Error != "" {
		parts = append(parts, r.Error)
	}
	return strings.Join(parts, "; ")
}

package dnscheck

import (
	"bytes"
	"fmt"
	"io"
	"time"
)

// View renders watch rounds: on a terminal it redraws the whole screen in
// place; elsewhere it writes one plain line per record and round.
type View struct {
	w   io.Writer
	tty bool
}

// NewView returns a view writing to w; tty selects the redraw.
func NewView(w io.Writer, tty bool) *View { return &View{w: w, tty: tty} }

// Render writes one round.
func (v *View) Render(r Round) error {
	if v.tty {
		return v.redraw(r)
	}
	return v.lines(r)
}

func (v *View) lines(r Round) error {
	var b bytes.Buffer
	stamp := r.At.UTC().Format(time.RFC3339)
	for i, rep := range r.Reports {
		if err := r.Errors[i]; err != nil {
			fmt.Fprintf(&b, "%s %s %s: check failed: %v\n", stamp, rep.Name, rep.Type, err)
			continue
		}
		fmt.Fprintf(&b, "%s %s %s: %s\n", stamp, rep.Name, rep.Type, Summary(rep, r.At))
		for _, l := range lagging(rep) {
			fmt.Fprintf(&b, "%s   %s\n", stamp, l)
		}
	}
	v.footer(&b, r, stamp+" ")
	_, err := v.w.Write(b.Bytes())
	return err
}

// redraw clears the terminal and draws every record's table.
func (v *View) redraw(r Round) error {
	var b bytes.Buffer
	b.WriteString("\x1b[H\x1b[2J")
	fmt.Fprintf(&b, "dnscheck watch, round %d at %s\n\n", r.N, r.At.Format(time.TimeOnly))
	for i, rep := range r.Reports {
		if err := r.Errors[i]; err != nil {
			fmt.Fprintf(&b, "%s %s: check failed: %v\n\n", rep.Name, rep.Type, err)
			continue
		}
		if err := WriteText(&b, rep, r.At); err != nil {
			return err
		}
		b.WriteString("\n")
	}
	v.footer(&b, r, "")
	_, err := v.w.Write(b.Bytes())
	return err
}

func (v *View) footer(b *bytes.Buffer, r Round, prefix string) {
	if r.Advice != nil {
		fmt.Fprintf(b, "%s%s\n", prefix, r.Advice)
	}
	if r.Done {
		fmt.Fprintf(b, "%severy record is propagated; next check in %s\n", prefix, r.Next)
	} else {
		fmt.Fprintf(b, "%snext check in %s\n", prefix, r.Next)
	}
}

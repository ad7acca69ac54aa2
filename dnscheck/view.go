package dnscheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// View renders watch rounds: on a terminal it redraws the whole screen in
// place; elsewhere it writes one plain line per record and round, or one
// JSON object per round.
type View struct {
	w         io.Writer
	tty, json bool
}

// NewView returns a view writing to w; tty selects the redraw.
func NewView(w io.Writer, tty bool) *View { return &View{w: w, tty: tty} }

// NewJSONView returns a view writing one JSON object per round (JSON lines).
func NewJSONView(w io.Writer) *View { return &View{w: w, json: true} }

// Render writes one round.
func (v *View) Render(r Round) error {
	switch {
	case v.json:
		return v.jsonLine(r)
	case v.tty:
		return v.redraw(r)
	}
	return v.lines(r)
}

// jsonRound is a Round as JSON.
type jsonRound struct {
	Round       int       `json:"round"`
	At          time.Time `json:"at"`
	Done        bool      `json:"done"`
	NextSeconds float64   `json:"next_seconds"`
	Reports     []Report  `json:"reports"`
	Errors      []string  `json:"errors,omitempty"` // "name type: error" per record that could not be checked
	Advice      *Advice   `json:"retire,omitempty"`
}

func (v *View) jsonLine(r Round) error {
	j := jsonRound{Round: r.N, At: r.At, Done: r.Done, NextSeconds: r.Next.Seconds(), Advice: r.Advice, Reports: []Report{}}
	for i, rep := range r.Reports {
		if err := r.Errors[i]; err != nil {
			j.Errors = append(j.Errors, rep.Name+" "+rep.Type+": "+err.Error())
			continue
		}
		j.Reports = append(j.Reports, rep)
	}
	b, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("writing json: %w", err)
	}
	_, err = v.w.Write(append(b, '\n'))
	return err
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

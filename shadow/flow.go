package shadow

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/telemetry"
)

// flow is one direction of a Mirror: the requests a side serves, mirrored
// to the other side.
type flow struct {
	dir       compare.Direction
	label     string  // dir, as a metric label
	candidate string  // the side mirrored to
	to        *Sender // the candidate's backends
	secondary *Sender // a second instance of one side; nil: none
	// secondaryOfCandidate says the secondary is an instance of the
	// candidate's side, not of the serving one.
	secondaryOfCandidate bool
}

// directions are the serving sides shadow.direction mirrors: both (the
// default), forward (old) or reverse (new).
func directions(direction string) ([]int, error) {
	switch cmp.Or(direction, manifest.DefaultDirection) {
	case "both":
		return []int{sideOld, sideNew}, nil
	case "forward":
		return []int{sideOld}, nil
	case "reverse":
		return []int{sideNew}, nil
	}
	return nil, fmt.Errorf("direction %q is not both, forward or reverse", direction)
}

// Sides, as indexes of Mirror.flows.
const (
	sideOld = iota
	sideNew
)

// configureSides builds a flow per mirrored side, each with a sender to
// the other side's backends and, with shadow.secondary, the sender to the
// secondary's (one, shared), each sender with its own transport.
func (m *Mirror) configureSides(app *manifest.App) error {
	served, err := directions(app.Shadow.Direction)
	if err != nil {
		return err
	}
	opts := SenderOptions{Timeouts: app.Timeouts, Timeout: m.timeout, MaxBody: m.maxBody, Conns: m.workers, Clock: m.clock}
	var secondary *Sender
	if len(app.Shadow.Secondary) > 0 {
		if secondary, err = newSender(app.Shadow.Secondary, opts, &m.bufs); err != nil {
			return fmt.Errorf("configuring secondary backends: %w", err)
		}
	}
	secondarySide := sideOld // the side the secondary is an instance of
	if app.Shadow.Direction == "reverse" {
		secondarySide = sideNew
	}
	for _, side := range served {
		f := newFlow(side)
		cand := [2]manifest.Pool{app.New, app.Old}[side]
		if f.to, err = newSender(cand.Backends, opts, &m.bufs); err != nil {
			return fmt.Errorf("configuring %s backends, the candidate of %s: %w", f.candidate, f.dir, err)
		}
		f.secondary, f.secondaryOfCandidate = secondary, secondary != nil && side != secondarySide
		m.flows[side] = f
	}
	return nil
}

func newFlow(served int) *flow {
	if served == sideNew {
		return &flow{dir: compare.DirectionNewToOld, label: telemetry.DirNewToOld, candidate: telemetry.SideOld}
	}
	return &flow{dir: compare.DirectionOldToNew, label: telemetry.DirOldToNew, candidate: telemetry.SideNew}
}

// flow returns the flow of the requests side serves, nil when they are
// not mirrored: the first such request of a side says so in the log, so
// that a cutover under shadow.direction forward does not stop the diffs
// without a word.
func (m *Mirror) flow(side string) *flow {
	i := sideOld
	switch side {
	case telemetry.SideOld:
	case telemetry.SideNew:
		i = sideNew
	default:
		return nil
	}
	f := m.flows[i]
	if f == nil && !m.told[i].Load() && m.told[i].CompareAndSwap(false, true) {
		m.log.Warn("clients served by this side are not mirrored: shadow.direction is "+m.direction+" (both mirrors every client)",
			"side", side)
	}
	return f
}

// senders lists the senders of every flow, each once.
func (m *Mirror) senders() []*Sender {
	var out []*Sender
	for _, f := range m.flows {
		if f == nil {
			continue
		}
		out = append(out, f.to)
		if f.secondary != nil && !slices.Contains(out, f.secondary) {
			out = append(out, f.secondary)
		}
	}
	return out
}

package logship

import (
	"errors"
	"fmt"
	"time"

	"github.com/go-json-experiment/json"
)

// eventJSON is the shape AppendEvent writes, for reading it back.
type eventJSON struct {
	ID           string            `json:"id"`
	Time         *time.Time        `json:"time"`
	App          string            `json:"app"`
	Side         string            `json:"side"`
	Host         string            `json:"host"`
	File         string            `json:"file"`
	Offset       int64             `json:"offset"`
	Line         *string           `json:"line"`
	Method       string            `json:"method"`
	Path         *string           `json:"path"`
	Endpoint     string            `json:"endpoint"`
	Status       int               `json:"status"`
	Bytes        *int64            `json:"bytes"`
	Duration     *float64          `json:"duration_seconds"`
	Upstream     *float64          `json:"upstream_seconds"`
	Level        string            `json:"level"`
	Message      *string           `json:"message"`
	Fields       map[string]string `json:"fields"`
	ParseError   string            `json:"parse_error"`
	Split        bool              `json:"split"`
	Unterminated bool              `json:"unterminated"`
}

// Errors of DecodeEventJSON.
var (
	ErrEventJSON  = errors.New("not an event object")
	ErrEventField = errors.New("missing event field")
)

// DecodeEventJSON reads back one object written by AppendEvent. It needs
// id, time and line, and refuses unknown keys, keys in another case, a
// key twice and trailing data (the embedded sink's receiver takes these
// objects from the network).
func DecodeEventJSON(data []byte) (Event, error) {
	var j eventJSON
	if err := json.Unmarshal(data, &j, json.RejectUnknownMembers(true)); err != nil {
		return Event{}, fmt.Errorf("%w: %w", ErrEventJSON, err)
	}
	switch {
	case j.ID == "":
		return Event{}, fmt.Errorf("%w: id", ErrEventField)
	case j.Time == nil:
		return Event{}, fmt.Errorf("%w: time", ErrEventField)
	case j.Line == nil:
		return Event{}, fmt.Errorf("%w: line", ErrEventField)
	}
	return j.event(), nil
}

func (j *eventJSON) event() Event {
	ev := Event{ID: j.ID, Time: *j.Time, App: j.App, Side: j.Side, Host: j.Host, File: j.File,
		Offset: j.Offset, Split: j.Split, Unterminated: j.Unterminated}
	r := &ev.Record
	r.Raw = []byte(*j.Line)
	r.Method, r.Endpoint, r.Status, r.Level, r.ParseError = j.Method, j.Endpoint, j.Status, j.Level, j.ParseError
	r.Fields = j.Fields
	if j.Path != nil {
		r.Path = []byte(*j.Path)
	}
	if j.Message != nil {
		r.Message = []byte(*j.Message)
	}
	if j.Bytes != nil {
		r.Bytes, r.Present = *j.Bytes, r.Present|HasBytes
	}
	if j.Duration != nil {
		r.Duration, r.Present = eventSeconds(*j.Duration), r.Present|HasDuration
	}
	if j.Upstream != nil {
		r.Upstream, r.Present = eventSeconds(*j.Upstream), r.Present|HasUpstream
	}
	return ev
}

func eventSeconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second))
}

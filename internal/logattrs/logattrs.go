// Package logattrs wraps a slog.Handler so that every record it writes
// carries each key once. slog lets a key repeat: a logger built with
// With("app", name) whose caller logs "app" again, or two With calls that
// name the same key, write it twice (app=shop app=shop), which makes a
// JSON log line an object with duplicate names. The wrapper keeps the
// first position of a key and its last value, at each group level. It
// emits nothing of its own.
package logattrs

import (
	"context"
	"log/slog"
	"slices"
)

// Handler is a slog.Handler whose records carry each key once.
type Handler struct {
	inner slog.Handler
	// frames are the attributes added with WithAttrs, one frame per
	// group opened with WithGroup (frames[0] is the top level).
	frames []frame
}

type frame struct {
	group string
	attrs []slog.Attr
}

// New wraps inner, which must not have attributes or groups of its own.
func New(inner slog.Handler) *Handler {
	return &Handler{inner: inner, frames: []frame{{}}}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	c := h.clone()
	last := &c.frames[len(c.frames)-1]
	last.attrs = append(slices.Clip(last.attrs), attrs...)
	return c
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := h.clone()
	c.frames = append(c.frames, frame{group: name})
	return c
}

func (h *Handler) clone() *Handler {
	return &Handler{inner: h.inner, frames: slices.Clone(h.frames)}
}

// Handle implements slog.Handler: it writes r with the handler's
// attributes and its own, each key once.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	own := make([]slog.Attr, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		own = append(own, a)
		return true
	})
	var inner []slog.Attr
	for i := len(h.frames) - 1; i >= 0; i-- {
		f := h.frames[i]
		attrs := append(slices.Clip(f.attrs), own...)
		if inner != nil {
			attrs = append(attrs, slog.Attr{Key: h.frames[i+1].group, Value: slog.GroupValue(inner...)})
		}
		inner, own = unique(attrs), nil
		if len(inner) == 0 {
			inner = nil // an empty group is left out
		}
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(inner...)
	return h.inner.Handle(ctx, out)
}

// unique returns attrs with each key once, at its first position with its
// last value; inline groups (empty key) are spread out first, and empty
// attributes dropped.
func unique(attrs []slog.Attr) []slog.Attr {
	flat := make([]slog.Attr, 0, len(attrs))
	for _, a := range attrs {
		flat = appendFlat(flat, a)
	}
	at := make(map[string]int, len(flat))
	out := flat[:0]
	for _, a := range flat {
		if i, seen := at[a.Key]; seen {
			out[i] = a
			continue
		}
		at[a.Key] = len(out)
		out = append(out, a)
	}
	return out
}

func appendFlat(dst []slog.Attr, a slog.Attr) []slog.Attr {
	a.Value = a.Value.Resolve()
	switch {
	case a.Key == "" && a.Value.Kind() == slog.KindGroup:
		for _, g := range a.Value.Group() {
			dst = appendFlat(dst, g)
		}
		return dst
	case a.Equal(slog.Attr{}):
		return dst
	}
	return append(dst, a)
}

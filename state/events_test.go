package state

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestEvents(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		var all []Event
		for _, e := range []Event{
			{App: "shop", Kind: KindWeight, Actor: ActorCLI, Before: "0", After: "5", Reason: "first step"},
			{App: "blog", Kind: KindWeight, Actor: ActorAPI, Before: "0", After: "50"},
			{App: "shop", Kind: KindVerdict, Actor: ActorController, Before: `{"verdict":"pass"}`, After: `{"verdict":"fail"}`},
			{Kind: KindStoreDown, Actor: ActorStore, Reason: "connection refused"},
			{App: "shop", Kind: KindRollback, Actor: ActorController, Before: "5", After: "0", Reason: "error rate 12% > 2%"},
		} {
			s.clock.Advance(time.Second)
			got, err := s.AppendEvent(t.Context(), e)
			if err != nil {
				t.Fatal(err)
			}
			e.ID, e.At = got.ID, s.clock.Now()
			if diff := cmp.Diff(got, e); diff != "" || got.ID == "" {
				t.Fatalf("AppendEvent() (-got +want):\n%s", diff)
			}
			all = append(all, got)
		}
		// Events filter on the returned IDs and times, which only
		// the store knows.
		tests := []struct {
			name string
			q    Query
			want []Event
		}{
			{"all", Query{}, all},
			{"one app", Query{App: "shop"}, []Event{all[0], all[2], all[4]}},
			{"since", Query{Since: all[2].At}, all[2:]},
			{"after a cursor", Query{After: all[1].ID}, all[2:]},
			{"after the last", Query{After: all[4].ID}, []Event{}},
			{"limit keeps the newest", Query{Limit: 2}, all[3:]},
			{"app and limit", Query{App: "shop", Limit: 2}, []Event{all[2], all[4]}},
			{"app and cursor", Query{App: "blog", After: all[1].ID}, []Event{}},
			{"unknown app", Query{App: "nope"}, []Event{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.Events(t.Context(), tt.q)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(got, tt.want); diff != "" {
					t.Errorf("Events(%+v) (-got +want):\n%s", tt.q, diff)
				}
			})
		}
		t.Run("audit log", func(t *testing.T) {
			if diff := cmp.Diff(readAuditFile(t, s.dir), all); diff != "" {
				t.Errorf("audit log (-got +want):\n%s", diff)
			}
		})
	})
}

func TestEventsBadCursor(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		for _, cursor := range []string{"x", "-1", "1-2-3", "1.5"} {
			if _, err := s.Events(t.Context(), Query{After: cursor}); !errors.Is(err, ErrInvalid) {
				t.Errorf("Events(After: %q) error = %v, want %v", cursor, err, ErrInvalid)
			}
		}
	})
}

func TestAppendEventChecks(t *testing.T) {
	long := strings.Repeat("é", MaxEventField) // 2 bytes each
	at := time.Date(2024, 5, 1, 12, 0, 0, 123_456_789, time.UTC)
	tests := []struct {
		name    string
		e       Event
		want    Event // ID not compared
		wantErr error
	}{
		{
			name: "given time kept at millisecond precision",
			e:    Event{App: "shop", Kind: KindPlanStep, At: at},
			want: Event{App: "shop", Kind: KindPlanStep, At: at.Truncate(time.Millisecond)},
		},
		{
			name: "long fields cut on a character boundary",
			e:    Event{Kind: KindVerdict, Before: long, After: "x" + long, Reason: long},
			want: Event{Kind: KindVerdict, At: newFakeClock().Now(), Before: long[:MaxEventField],
				After: "x" + long[:MaxEventField-2], Reason: long[:MaxEventField]},
		},
		{
			name:    "no kind",
			e:       Event{App: "shop", Reason: "?"},
			wantErr: ErrInvalid,
		},
		{
			name:    "kind too long",
			e:       Event{Kind: strings.Repeat("k", MaxKind+1)},
			wantErr: ErrInvalid,
		},
		{
			name: "caller's ID ignored",
			e:    Event{ID: "42", Kind: KindPause},
			want: Event{Kind: KindPause, At: newFakeClock().Now()},
		},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := b.open(t)
				got, err := s.AppendEvent(t.Context(), tt.e)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("AppendEvent() error = %v, want %v", err, tt.wantErr)
				}
				if err != nil {
					return
				}
				if got.ID == "" || got.ID == tt.e.ID {
					t.Errorf("AppendEvent() ID = %q, want one from the store", got.ID)
				}
				got.ID = ""
				if diff := cmp.Diff(got, tt.want); diff != "" {
					t.Errorf("AppendEvent() (-got +want):\n%s", diff)
				}
			})
		}
	})
}

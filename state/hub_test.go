package state

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWatcherKeepsLatestPerApp(t *testing.T) {
	w := newWatcher[Change]()
	for _, st := range []AppState{
		{App: "a", Version: 1}, {App: "b", Version: 1}, {App: "a", Version: 2}, {App: "c", Version: 1}, {App: "a", Version: 3},
	} {
		w.add(st.App, Change{App: st.App, State: st})
	}
	var got []Change
	for {
		c, ok := w.pop()
		if !ok {
			break
		}
		got = append(got, c)
	}
	want := []Change{
		{App: "a", State: AppState{App: "a", Version: 3}},
		{App: "b", State: AppState{App: "b", Version: 1}},
		{App: "c", State: AppState{App: "c", Version: 1}},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("pending changes (-got +want):\n%s", diff)
	}
}

func TestHubKnown(t *testing.T) {
	v := func(version int64, weight int) AppState { return AppState{App: "a", Weight: weight, Version: version} }
	// op is an offer, or a replace of what was read at the mark before
	// the previous ops.
	type op struct {
		offer   *AppState
		replace []AppState
		markAt  int // replace only: the op index the read started before
	}
	tests := []struct {
		name string
		ops  []op
		want AppState
	}{
		{"newer offer wins", []op{{offer: new(v(1, 5))}, {offer: new(v(2, 25))}}, v(2, 25)},
		{"older offer ignored", []op{{offer: new(v(2, 25))}, {offer: new(v(1, 5))}}, v(2, 25)},
		{"replace applies", []op{{offer: new(v(2, 25))}, {replace: []AppState{v(3, 50)}, markAt: 1}}, v(3, 50)},
		{"replace is the truth, even older", []op{{offer: new(v(5, 25))}, {replace: []AppState{v(1, 0)}, markAt: 1}}, v(1, 0)},
		{"offer during the read wins", []op{{offer: new(v(2, 25))}, {replace: []AppState{v(1, 5)}, markAt: 0}}, v(2, 25)},
		{"replace keeps apps it lacks", []op{{offer: new(v(2, 25))}, {replace: []AppState{}, markAt: 1}}, v(2, 25)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHub()
			defer h.close()
			var marks []uint64
			for _, o := range tt.ops {
				marks = append(marks, h.mark())
				if o.offer != nil {
					h.offer(*o.offer)
				} else {
					h.replace(o.replace, marks[o.markAt], false)
				}
			}
			got, _ := h.get("a")
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("known state (-got +want):\n%s", diff)
			}
		})
	}
}

func TestHubReplaceAllRedelivers(t *testing.T) {
	h := newHub()
	defer h.close()
	st := AppState{App: "a", Weight: 5, Version: 1}
	h.offer(st)
	ch := h.watch(t.Context())
	if got := recvChange(t, ch); got.State != st {
		t.Fatalf("first change = %+v, want %+v", got, st)
	}
	h.replace([]AppState{st}, h.mark(), false) // unchanged: nothing
	h.replace([]AppState{st}, h.mark(), true)  // after an outage: again
	if got := recvChange(t, ch); got.State != st {
		t.Errorf("re-delivered change = %+v, want %+v", got, st)
	}
}

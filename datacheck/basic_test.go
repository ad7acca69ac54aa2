package datacheck

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSmoke(t *testing.T) {
	for _, pr := range pairings {
		t.Run(pr.name, func(t *testing.T) {
			t.Parallel()
			_, old := testDB(t, pr.old)
			_, nw := testDB(t, pr.new)
			for _, db := range []*DB{old, nw} {
				exec(t, db, "CREATE TABLE users (id bigint PRIMARY KEY, email varchar(100), n int)")
				exec(t, db, "INSERT INTO users VALUES (1, 'a@x', 1), (2, 'b@x', 2), (3, 'c@x', 3), (17, 'd@x', 4), (42, 'e@x', 5)")
			}
			exec(t, nw, "DELETE FROM users WHERE id = 42", "UPDATE users SET email = 'z@x' WHERE id = 17", "INSERT INTO users VALUES (900001, 'f@x', 6)")
			rep, err := New(old, nw, Options{}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			js, _ := json.Marshal(rep.Tables[0])
			var got map[string]any
			json.Unmarshal(js, &got)
			want := map[string]any{"missing": []any{[]any{42.0}}, "extra": []any{[]any{900001.0}},
				"changed": []any{map[string]any{"key": []any{17.0}, "columns": []any{"email"}}}}
			for k, v := range want {
				if d := cmp.Diff(v, got[k]); d != "" {
					t.Errorf("%s (-want +got):\n%s", k, d)
				}
			}
			if rep.Result != Differs {
				t.Errorf("result %s", rep.Result)
			}
		})
	}
}

package lb_test

import (
	"testing"

	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/replay"
	"github.com/migratekit/migrate/shadow"
)

// TestReservedHeadersNamed: the headers lb drops from clients' requests
// are the ones shadow and replay mark their own requests with.
func TestReservedHeadersNamed(t *testing.T) {
	for _, tt := range []struct{ lb, owner string }{
		{lb.ShadowHeader, shadow.Header},
		{lb.ReplayHeader, replay.Header},
	} {
		if tt.lb != tt.owner {
			t.Errorf("lb reserves %q, its owner marks with %q", tt.lb, tt.owner)
		}
	}
}

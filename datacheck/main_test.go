package datacheck

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no goroutine outlives the tests: every check's
// chunk workers end with it, and every database is closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

package logship

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs the shipper child of the correctness harness when the
// test binary is re-executed as one (see harness_child_test.go), else the
// tests, checking that none leaves a goroutine behind.
func TestMain(m *testing.M) {
	if cfg := os.Getenv(harnessChildEnv); cfg != "" {
		os.Exit(harnessChild(cfg))
	}
	goleak.VerifyTestMain(m)
}

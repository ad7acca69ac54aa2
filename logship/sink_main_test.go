package logship

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: the sinks'
// HTTP connections, the sources' tailers and the pipeline's workers all
// have owners that stop them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

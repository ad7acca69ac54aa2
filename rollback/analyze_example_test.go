package rollback_test

import (
	"fmt"
	"time"

	"github.com/migratekit/migrate/rollback"
)

func ExampleEvaluate() {
	rules := rollback.DefaultRules()
	rules.MaxErrorRate = new(0.02)
	for _, s := range []rollback.Sample{
		{Window: 30 * time.Second, New: rollback.SideSample{Requests: 20, Errors: 1}},
		{Window: 30 * time.Second, New: rollback.SideSample{Requests: 60, Errors: 1}},
		{Window: 30 * time.Second, New: rollback.SideSample{Requests: 200, Errors: 30}},
	} {
		v := rollback.Evaluate(rules, s)
		fmt.Printf("%s: %s\n", v.Result, v.Reason())
	}
	// Output:
	// insufficient: max_error_rate: new side requests: 20 in 30s, below min_requests 50
	// pass: max_error_rate: new 5xx 1.7% (1/60), 99% lower bound 0.23% ≤ max 2%
	// fail: max_error_rate: new 5xx 15.0% (30/200), 99% lower bound 10.1% > max 2%
}

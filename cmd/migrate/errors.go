package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/migratekit/migrate/manifest"
)

// Exit codes, as in the design's CLI contract.
const (
	exitOK      = 0 // ok
	exitCheck   = 1 // a check did not pass
	exitUsage   = 2 // usage or manifest error
	exitRuntime = 3 // runtime failure
)

// exitError carries the exit code of a failed command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func checkFailed(err error) error { return &exitError{code: exitCheck, err: err} }

// exitCode maps an error to its exit code: manifest problems and usage
// errors are 2, an error that names its code keeps it, the rest are
// runtime failures (3).
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var probs manifest.Problems
	if errors.As(err, &probs) {
		return exitUsage
	}
	// cobra reports an unknown command and a missing required flag with
	// untyped errors.
	msg := err.Error()
	if strings.HasPrefix(msg, "unknown command ") || strings.HasPrefix(msg, "required flag(s) ") {
		return exitUsage
	}
	return exitRuntime
}

// exactArgs is cobra.ExactArgs with a usage exit code and a clearer message.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("%s takes %s (got %d arguments); see %s --help", cmd.CommandPath(), names, len(args), cmd.CommandPath())
		}
		return nil
	}
}

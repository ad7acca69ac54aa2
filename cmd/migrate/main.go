// Command migrate moves a live web app from an old stack to a new one: it
// serves traffic through a load balancer that splits clients between the two
// sides, with metrics for each. See the README for the commands.
package main

import (
	"context"
	"fmt"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:]))
}

// run executes the CLI and returns the process exit code.
func run(ctx context.Context, args []string) int {
	cmd := newCmdRoot(&iostreams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(os.Stderr, "migrate:", err)
	return exitCode(err)
}

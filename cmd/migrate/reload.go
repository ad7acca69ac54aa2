package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/migratekit/migrate/admin"
)

type reloadOptions struct {
	*rootOptions
	adminFlags
	Format string
}

func newCmdReload(root *rootOptions) *cobra.Command {
	opts := &reloadOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "reload",
		Short: "Have the running migrate serve read its manifest again and apply it live",
		Long: `Reload asks the running migrate serve, through its admin API (token in the
manifest's admin.token_env), to read its manifest again and apply it
without a restart, as SIGHUP does: backends, hosts, listen addresses, TLS
certificates, health checks, timeouts, apps added and removed, rollback
rules. Requests in flight finish on the configuration they started with.
It prints what changed, and the settings that changed but wait for a
restart.

A manifest with problems changes nothing: the instance serves on with the
one it had, and reload prints each problem as file:line:col and exits 2.
Exit 3 when the admin API cannot be reached or refuses.`,
		Example: `  migrate reload
  migrate reload --admin 127.0.0.1:9090 --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := opts.client(opts.adminFlags)
			if err != nil {
				return err
			}
			res, err := c.Reload(cmd.Context())
			var refused *admin.ReloadError
			if errors.As(err, &refused) {
				return &exitError{code: exitUsage, err: refused}
			}
			if err != nil {
				return &exitError{code: exitRuntime, err: err}
			}
			return printReload(opts, res)
		},
	}
	opts.adminFlags.register(cmd)
	cmd.Flags().StringVar(&opts.Format, "format", "text", "output format: text or json")
	return cmd
}

func printReload(opts *reloadOptions, res admin.ReloadResult) error {
	switch opts.Format {
	case "json":
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	case "text":
	default:
		return usageErrorf("--format %q: use text or json", opts.Format)
	}
	if len(res.Changes) == 0 {
		fmt.Fprintln(opts.IO.Out, "reloaded: no change")
	} else {
		fmt.Fprintln(opts.IO.Out, "reloaded:")
		for _, c := range res.Changes {
			fmt.Fprintln(opts.IO.Out, "  "+c)
		}
	}
	for _, k := range res.NotApplied {
		fmt.Fprintf(opts.IO.Out, "changed, applied at the next restart: %s\n", k)
	}
	return nil
}

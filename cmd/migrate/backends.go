package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/migratekit/migrate/admin"
)

type backendsOptions struct {
	*rootOptions
	adminFlags
	App, URL string
	Side     string
	Reason   string
	Format   string
}

func newCmdBackends(root *rootOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backends (list|add|drain|remove|reset) APP [URL]",
		Short: "List or change the backends of a running migrate, live",
		Long: `backends lists and changes APP's backends on the running migrate serve,
through its admin API, without a restart, as HAProxy's runtime API does:

  add     a backend to --side old or new; it is sent requests once it passes
          its first health check (the pool's health check, or a TCP connect
          when the pool has none)
  drain   stops sending a backend new requests and waits for those in
          flight, up to the manifest's drain; exit 3 with the count still in
          flight when they outlast it (the backend stays out of rotation)
  remove  takes a drained backend out of its pool
  reset   drops APP's live changes: the manifest's backends are served again

A drain is refused for the last backend of a side in rotation, a removal
for a backend not drained. The changes are recorded as events and are not
written to the manifest: with state: {backend: redis} every instance applies
them, and they win over the manifest, through reloads, until the manifest
agrees or reset drops them (see the README's State section). Writes send the admin token of admin.token_env
(default MIGRATE_ADMIN_TOKEN). migrate deploy chains add, drain and remove.`,
		Example: `  migrate backends list shop
  migrate backends add shop --side new http://10.1.0.7:3000
  migrate backends drain shop http://10.1.0.5:3000
  migrate backends remove shop http://10.1.0.5:3000`,
	}
	cmd.AddCommand(
		newCmdBackendsList(root),
		newCmdBackendsChange(root, "add", "Add a backend to a side of APP; it gets requests after its first passing check"),
		newCmdBackendsChange(root, "drain", "Stop sending a backend of APP new requests and wait for those in flight"),
		newCmdBackendsChange(root, "remove", "Remove a drained backend of APP"),
		newCmdBackendsReset(root),
	)
	return cmd
}

func newCmdBackendsList(root *rootOptions) *cobra.Command {
	return newCmdBackendsListing(root, "list APP", "List APP's backends: side, URL, state and requests in flight",
		"  migrate backends list shop --format json", "", (*admin.Client).Backends)
}

func newCmdBackendsReset(root *rootOptions) *cobra.Command {
	return newCmdBackendsListing(root, "reset APP", "Drop APP's live backend changes: the manifest's backends are served again",
		"  migrate backends reset shop", "%s: live backend changes dropped; serving the manifest's backends\n", (*admin.Client).ResetBackends)
}

// newCmdBackendsListing is a backends command that calls the API with the
// app alone and writes the backends it answers (after intro, a format
// with the app's name, on text).
func newCmdBackendsListing(root *rootOptions, use, short, example, intro string,
	call func(*admin.Client, context.Context, string) ([]admin.Backend, error)) *cobra.Command {
	opts := &backendsOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Example: example,
		Args:    exactArgs(1, "one app name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.App = args[0]
			if err := checkFormat(opts.Format); err != nil {
				return err
			}
			c, err := opts.client(opts.adminFlags)
			if err != nil {
				return err
			}
			list, err := call(c, cmd.Context(), opts.App)
			if err != nil {
				return err
			}
			if opts.Format == "json" {
				return writeJSONOut(opts.IO.Out, list)
			}
			if intro != "" {
				fmt.Fprintf(opts.IO.Out, intro, opts.App)
			}
			return writeBackends(opts.IO.Out, list)
		},
	}
	opts.adminFlags.register(cmd)
	cmd.Flags().StringVar(&opts.Format, "format", "text", "output format: text or json")
	return cmd
}

func newCmdBackendsChange(root *rootOptions, verb, short string) *cobra.Command {
	opts := &backendsOptions{rootOptions: root}
	use := verb + " APP URL"
	if verb == "add" {
		use = "add APP --side old|new URL"
	}
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Example: fmt.Sprintf("  migrate backends %s shop%s http://10.1.0.7:3000", verb, map[bool]string{true: " --side new"}[verb == "add"]),
		Args:    exactArgs(2, "an app name and a backend URL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.App, opts.URL = args[0], args[1]
			if err := opts.check(verb); err != nil {
				return err
			}
			return backendsChangeRun(cmd, opts, verb)
		},
	}
	opts.adminFlags.register(cmd)
	f := cmd.Flags()
	if verb == "add" {
		f.StringVar(&opts.Side, "side", "", "the side to add it to: old or new")
	}
	f.StringVar(&opts.Reason, "reason", "", "why, recorded in the event")
	f.StringVar(&opts.Format, "format", "text", "output format: text or json")
	return cmd
}

// check refuses what the API would: a bad format, URL or side.
func (o *backendsOptions) check(verb string) error {
	if err := checkFormat(o.Format); err != nil {
		return err
	}
	if err := admin.CheckBackendURL(o.URL); err != nil {
		return usageErrorf("%v", err)
	}
	if verb == "add" && o.Side != admin.SideOld && o.Side != admin.SideNew {
		return usageErrorf("backends add needs --side old or --side new (got %q)", o.Side)
	}
	return nil
}

func backendsChangeRun(cmd *cobra.Command, o *backendsOptions, verb string) error {
	c, err := o.client(o.adminFlags)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	var out any
	var text string
	switch verb {
	case "add":
		var b admin.Backend
		b, err = c.AddBackend(ctx, o.App, o.Side, o.URL, o.Reason)
		out, text = b, fmt.Sprintf("%s: added %s to %s; it gets requests after its first passing check", o.App, o.URL, o.Side)
	case "drain":
		var r admin.DrainResult
		r, err = c.DrainBackend(ctx, o.App, o.URL, o.Reason)
		out, text = r, fmt.Sprintf("%s: drained %s (%d in flight when the drain began)", o.App, o.URL, r.Waited)
	case "remove":
		var b admin.Backend
		b, err = c.RemoveBackend(ctx, o.App, o.URL, o.Reason)
		out, text = b, fmt.Sprintf("%s: removed %s", o.App, o.URL)
	}
	if err != nil {
		return err
	}
	if o.Format == "json" {
		return writeJSONOut(o.IO.Out, out)
	}
	_, err = fmt.Fprintln(o.IO.Out, text)
	return err
}

// writeBackends writes list as a table: side, URL, state, in flight.
func writeBackends(w io.Writer, list []admin.Backend) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SIDE\tURL\tSTATE\tIN FLIGHT")
	for _, b := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", b.Side, b.URL, backendState(b), b.InFlight)
	}
	return tw.Flush()
}

// backendState is b's state in a word.
func backendState(b admin.Backend) string {
	switch {
	case b.Draining:
		return "draining"
	case b.Pending:
		return "pending"
	case b.Healthy:
		return "up"
	}
	return "down"
}

func writeJSONOut(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

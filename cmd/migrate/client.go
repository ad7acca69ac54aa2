package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/migratekit/migrate/admin"
)

// adminFlags are the flags of commands that talk to a running migrate.
type adminFlags struct {
	Admin string
}

func (f *adminFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.Admin, "admin", "", "admin API address of the running migrate (default: the manifest's admin.listen)")
}

// client builds an admin API client: the address from --admin or the
// manifest, the token from the manifest's admin.token_env (default
// MIGRATE_ADMIN_TOKEN).
func (o *rootOptions) client(f adminFlags) (*admin.Client, error) {
	addr, tokenEnv := f.Admin, "MIGRATE_ADMIN_TOKEN"
	if addr == "" {
		m, err := o.loadManifest()
		if err != nil {
			return nil, err
		}
		addr, tokenEnv = m.Global.Admin.Listen, m.Global.Admin.TokenEnv
	}
	return &admin.Client{BaseURL: addr, Token: os.Getenv(tokenEnv)}, nil
}

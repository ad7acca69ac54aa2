package main

import (
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/manifest"
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
	addr, tokenEnv := f.Admin, manifest.DefaultTokenEnv
	if addr == "" {
		m, err := o.loadManifest()
		if err != nil {
			return nil, err
		}
		addr, tokenEnv = m.Global.Admin.Listen, m.Global.Admin.TokenEnv
	}
	return &admin.Client{BaseURL: addr, Token: os.Getenv(tokenEnv), TokenEnv: tokenEnv}, nil
}

// bearerClient is an HTTP client for the admin API of another migrate
// (a fallback's, read by dnscheck watch): it sends the token of env, and
// turns a 401 into an error naming env.
func bearerClient(env string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &bearerTransport{env: env, token: os.Getenv(env)}}
}

type bearerTransport struct{ env, token string }

func (t *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.token != "" {
		req = req.Clone(req.Context())
		req.Header.Set("Authorization", "Bearer "+t.token)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	resp.Body.Close()
	return nil, fmt.Errorf("401 Unauthorized: %s", admin.TokenHint(t.env, t.token != ""))
}

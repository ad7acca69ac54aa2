package fallback_test

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"github.com/migratekit/migrate/fallback"
	"github.com/migratekit/migrate/manifest"
)

// ExampleRenderNginx renders an app's fallback for an old host that runs
// nginx; here, the directives of its location block.
func ExampleRenderNginx() {
	m := &manifest.Manifest{Apps: map[string]*manifest.App{"shop": {
		Name:   "shop",
		Listen: "0.0.0.0:80",
		Hosts:  []string{"shop.example.com"},
		New:    manifest.Pool{Backends: []string{"https://10.1.0.5"}},
	}}}
	var buf bytes.Buffer
	if err := fallback.RenderNginx(&buf, m, "shop", "oldhost-1"); err != nil {
		fmt.Println(err)
		return
	}
	sc := bufio.NewScanner(&buf)
	in := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "location / {":
			in = true
		case in && line == "}":
			return
		case in:
			fmt.Println(line)
		}
	}
	// Output:
	// proxy_pass https://10.1.0.5:443;
	// proxy_http_version 1.1;
	// proxy_connect_timeout 5s;
	// proxy_set_header Host $host;
	// proxy_set_header X-Forwarded-For $remote_addr;
	// proxy_set_header X-Forwarded-Proto $scheme;
	// proxy_set_header X-Forwarded-Host $host;
	// proxy_set_header Upgrade $migrate_fallback_shop_upgrade;
	// proxy_set_header Connection $migrate_fallback_shop_connection;
	// proxy_set_header X-Migrate-Fallback $migrate_fallback_shop_ids;
	// # A client's own copy of the headers migrate marks its mirrored and
	// # replayed requests with never reaches the backend.
	// proxy_set_header X-Migrate-Shadow "";
	// proxy_set_header X-Migrate-Replay "";
	// proxy_ssl_server_name on;
	// proxy_ssl_name shop.example.com;
	// proxy_ssl_verify on;
	// proxy_ssl_verify_depth 3;
	// proxy_ssl_trusted_certificate "/etc/ssl/certs/ca-certificates.crt";
	// proxy_ssl_protocols TLSv1.2 TLSv1.3;
	// proxy_ssl_session_reuse on;
}

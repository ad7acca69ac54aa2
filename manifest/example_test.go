package manifest_test

import (
	"fmt"

	"github.com/migratekit/migrate/manifest"
)

func ExampleLoad() {
	m, err := manifest.Load("testdata/design.good.yaml")
	if err != nil {
		fmt.Println(err) // a manifest.Problems: one problem per line
		return
	}
	for _, name := range m.AppNames() {
		app := m.Apps[name]
		fmt.Printf("%s on %s: weight %d, sticky %s, shadow %s of %v\n",
			name, app.Listen, *app.Cutover.Weight, app.Cutover.Sticky, *app.Shadow.Sample, app.Shadow.Methods)
	}
	fmt.Println("admin on", m.Global.Admin.Listen)
	// Output:
	// bobbarker on 127.0.0.1:8080: weight 0, sticky ip, shadow 100% of [GET HEAD]
	// admin on 127.0.0.1:9090
}

func ExampleParse_problems() {
	_, err := manifest.Parse("migrate.yaml", []byte(`
apps:
  web:
    lisen: 127.0.0.1:8081
    old: {backends: [http://10.0.0.5:3000, htp://x]}
    cutover: {weight: 120}
`))
	fmt.Println(err)
	// Output:
	// migrate.yaml:3:3: apps.web.new.backends: at least one backend is required
	// migrate.yaml:4:5: apps.web.lisen: unknown key (did you mean listen?)
	// migrate.yaml:5:44: apps.web.old.backends[1]: "htp://x" is not an http(s) URL
	// migrate.yaml:6:23: apps.web.cutover.weight: 120 is not between 0 and 100
}

// The Alloy checker's main, built inside a copy of Alloy's module (tools/upstream/go.ts) so that it
// can import the module's internal packages. It runs Alloy's own command tree (alloycli.Command(),
// as flowcmd/flowcmd.go@v1.19.0 does), with only the components the rendered config uses
// (components/ladon/render/alloy.ts) registered instead of all of them: each component registers
// itself in its package's init (component.Register), and internal/component/all@v1.19.0 only
// imports every component package for that side effect. The catalog's recipe drops that import
// from internal/alloycli/cmd_run.go and stubs internal/converter (`alloy convert`, and `run
// --config.format` other than alloy, which import every component again); see components/pins.ts.
//
// What flowcmd.go@v1.19.0 adds and this main leaves out: Prometheus's service discovery
// registrations and the static-mode integrations (neither is used by a discovery.docker /
// loki.* pipeline), and the Windows manifest.
package main

import (
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/grafana/alloy"
	"github.com/grafana/alloy/internal/alloycli"
	"github.com/grafana/alloy/internal/build"

	// Every component components/ladon/render/alloy.ts renders; tests/upstream.test.ts fails when
	// the rendered config names one that is not imported here.
	_ "github.com/grafana/alloy/internal/component/discovery/docker"
	_ "github.com/grafana/alloy/internal/component/discovery/relabel"
	_ "github.com/grafana/alloy/internal/component/loki/process"
	_ "github.com/grafana/alloy/internal/component/loki/relabel"
	_ "github.com/grafana/alloy/internal/component/loki/source/docker"
	_ "github.com/grafana/alloy/internal/component/loki/source/journal"
	_ "github.com/grafana/alloy/internal/component/loki/write"

	// As flowcmd.go@v1.19.0: fallback X.509 roots when the OS has none.
	_ "golang.org/x/crypto/x509roots/fallback"
)

// As flowcmd.go@v1.19.0's init.
func init() {
	if build.Version == "" || build.Version == "v0.0.0" {
		build.Version = alloy.FallbackVersion()
	}
	prometheus.MustRegister(build.NewCollector("alloy"))
}

func main() {
	if err := alloycli.Command().Execute(); err != nil {
		os.Exit(1)
	}
}

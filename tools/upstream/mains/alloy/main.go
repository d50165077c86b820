// The Alloy checker's main: Alloy's own command tree (run, fmt, validate, ...), as the release
// binary builds it in collector/main_alloy.go (flowcmd.RootCommand()), without the experimental
// OpenTelemetry Collector engine the release adds beside it. That engine lives in a separate,
// generated module (collector/, built by `make alloy` after `generate-source-code`) that the Go
// module proxy does not serve; the lab runs Alloy's default engine only.
package main

import (
	"os"

	"github.com/grafana/alloy/flowcmd"
)

func main() {
	if err := flowcmd.RootCommand().Execute(); err != nil {
		os.Exit(1)
	}
}

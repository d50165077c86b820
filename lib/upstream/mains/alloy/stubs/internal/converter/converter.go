// Package converter as the citadel checker builds it (tools/upstream/mains/alloy/main.go): it
// replaces internal/converter/converter.go@v1.19.0, keeping its API (Input, SupportedFormats,
// Convert) but converting nothing, so that the converters and the components they register are
// not compiled in. `alloy convert`, and `alloy run|validate --config.format` other than alloy,
// answer that converting is not built in; reading Alloy's own format never calls Convert
// (internal/alloycli/cmd_run.go@v1.19.0, loadSourceFiles).
package converter

import (
	"fmt"

	"github.com/grafana/alloy/internal/converter/diag"
)

// Input is the format of a config to convert.
type Input string

const (
	InputOtelCol    Input = "otelcol"
	InputPrometheus Input = "prometheus"
	InputPromtail   Input = "promtail"
	InputStatic     Input = "static"
)

// SupportedFormats is empty: this build converts nothing.
var SupportedFormats = []string{}

// Convert refuses every input with a critical diagnostic.
func Convert(in []byte, kind Input, extraArgs []string) ([]byte, diag.Diagnostics) {
	var diags diag.Diagnostics
	diags.Add(diag.SeverityLevelCritical, fmt.Sprintf("converting from %q is not built into this alloy (citadel's conformance checker)", kind))
	return nil, diags
}

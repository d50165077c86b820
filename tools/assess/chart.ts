/**
 * The chart `npm run assess` writes: CPU cores and memory working set per service over the window,
 * two panels one above the other. A vega-lite spec, compiled to vega, rendered headless to SVG by
 * vega's View.toSVG() and rasterised to PNG by resvg (system fonts). vega and vega-lite are ES
 * modules with top-level await, so they are loaded with import(), not require().
 */
import type { TopLevelSpec } from "vega-lite" with { "resolution-mode": "import" };

export interface ChartPoint {
  /** ISO time. */
  time: string;
  service: string;
  value: number;
}

export interface ChartInput {
  title: string;
  cpu: ChartPoint[];
  memoryGiB: ChartPoint[];
}

/** The vega-lite spec: pure, so the data and encodings can be looked at without rendering. */
export function chartSpec(input: ChartInput): TopLevelSpec {
  const panel = (values: ChartPoint[], title: string, format: string) => ({
    data: { values },
    mark: { type: "line" as const, strokeWidth: 1.2, interpolate: "linear" as const },
    width: 900,
    height: 260,
    encoding: {
      x: { field: "time", type: "temporal" as const, title: null, axis: { format: "%a %d %b %H:%M" } },
      y: { field: "value", type: "quantitative" as const, title, axis: { format } },
      color: { field: "service", type: "nominal" as const, title: "service" },
    },
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: input.title, anchor: "start" },
    background: "white",
    padding: 12,
    vconcat: [
      panel(input.cpu, "CPU (cores)", ".2f"),
      panel(input.memoryGiB, "memory working set (GiB)", ".2f"),
    ],
    resolve: { scale: { color: "shared" } },
  };
}

/** Renders the spec to PNG bytes. */
export async function renderPng(spec: TopLevelSpec): Promise<Buffer> {
  const vega = await import("vega");
  const { compile } = await import("vega-lite");
  const { Resvg } = await import("@resvg/resvg-js");
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  return new Resvg(svg, { background: "white", font: { loadSystemFonts: true } }).render().asPng();
}

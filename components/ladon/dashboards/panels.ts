/**
 * The pieces every dashboard is built from: the datasources, the panel builders, vLLM's
 * annotations and the common header (stable UID, tags, time range). Pure.
 */
import { AnnotationQueryBuilder, DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { DataqueryBuilder as LokiQuery } from "@grafana/grafana-foundation-sdk/loki";
import { PanelBuilder as LogsPanel } from "@grafana/grafana-foundation-sdk/logs";
import { DataqueryBuilder as PromQuery } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as StatPanel } from "@grafana/grafana-foundation-sdk/stat";
import { PanelBuilder as TimeseriesPanel } from "@grafana/grafana-foundation-sdk/timeseries";

export const PROMETHEUS_DS = { type: "prometheus", uid: "prometheus" };
export const LOKI_DS = { type: "loki", uid: "loki" };

export const RATE = "$__rate_interval";

export type Query = [expr: string, legend: string];

export function timeseries(title: string, unit: string, queries: Query[], width = 12): TimeseriesPanel {
  const panel = new TimeseriesPanel().title(title).unit(unit).datasource(PROMETHEUS_DS).height(8).span(width);
  queries.forEach(([expr, legend], i) =>
    panel.withTarget(
      new PromQuery()
        .expr(expr)
        .legendFormat(legend)
        .refId(String.fromCharCode(65 + i)),
    ),
  );
  return panel;
}

export function stat(title: string, unit: string, expr: string, width = 6): StatPanel {
  return new StatPanel()
    .title(title)
    .unit(unit)
    .datasource(PROMETHEUS_DS)
    .height(4)
    .span(width)
    .withTarget(new PromQuery().expr(expr).refId("A"));
}

export function logs(title: string, expr: string, width = 24): LogsPanel {
  return new LogsPanel()
    .title(title)
    .datasource(LOKI_DS)
    .height(10)
    .span(width)
    .withTarget(new LokiQuery().expr(expr).refId("A"));
}

export function logRate(title: string, expr: string, legend: string): TimeseriesPanel {
  return new TimeseriesPanel()
    .title(title)
    .unit("short")
    .datasource(LOKI_DS)
    .height(8)
    .span(24)
    .withTarget(new LokiQuery().expr(expr).legendFormat(legend).refId("A"));
}

export const quantiles = (metric: string, selector: string): Query[] =>
  [0.5, 0.95, 0.99].map((q) => [
    `histogram_quantile(${q}, sum by (le) (rate(${metric}_bucket${selector}[${RATE}])))`,
    `p${q * 100}`,
  ]);

/**
 * The recorded LLM baseline (`npm run baseline`, written as textfile metrics on the vLLM host)
 * next to the live series, dashed so it reads as a reference line.
 */
export const baselineQuantiles = (metric: "ttft" | "itl" | "e2el"): Query[] =>
  ["p50", "p95", "p99"].map((p) => [
    `max(citadel_vllm_baseline_seconds{metric="${metric}",percentile="${p}",model=~"$model"})`,
    `baseline ${p}`,
  ]);

export function withBaseline(panel: TimeseriesPanel): TimeseriesPanel {
  return panel.overrideByRegexp("^baseline ", [
    { id: "custom.lineStyle", value: { fill: "dash", dash: [10, 10] } },
  ]);
}

/** vLLM's own log lines for a model load and a (re)start, as annotations. */
export function vllmAnnotations(builder: DashboardBuilder): DashboardBuilder {
  return builder
    .annotation(
      new AnnotationQueryBuilder()
        .name("vLLM model loaded")
        .datasource(LOKI_DS)
        .enable(true)
        .iconColor("blue")
        .expr('{container=~"vllm-.+"} |~ "Model loading took|Loading weights took"'),
    )
    .annotation(
      new AnnotationQueryBuilder()
        .name("vLLM (re)started")
        .datasource(LOKI_DS)
        .enable(true)
        .iconColor("orange")
        .expr('{container=~"vllm-.+"} |= "Starting vLLM API server"'),
    );
}

export function base(uid: string, title: string): DashboardBuilder {
  return new DashboardBuilder(title)
    .uid(uid)
    .tags(["citadel", "generated"])
    .editable()
    .time({ from: "now-6h", to: "now" })
    .refresh("30s")
    .timezone("browser");
}

/**
 * The lab's Grafana dashboards, built with @grafana/grafana-foundation-sdk: one module per
 * dashboard, the shared pieces in panels.ts. Stable UIDs; each dashboard's version is a hash of its
 * own content, so it changes exactly when the dashboard does and Grafana's history shows it. Pure:
 * JSON in, JSON out.
 */
import { createHash } from "node:crypto";
import { sortKeys } from "../../shared/render";
import { gpuDashboard } from "./gpus";
import { hostDashboard } from "./host";
import { ladonDashboard } from "./ladon";
import { logsDashboard } from "./logs";
import { vllmDashboard } from "./vllm";

export { LOKI_DS, PROMETHEUS_DS } from "./panels";

/**
 * A dashboard's version: the first 28 bits of the SHA-256 of its model without the version, keys
 * sorted. Grafana keeps `version` as an integer, and this one stays inside a 32-bit int.
 */
export function dashboardVersion(model: object): number {
  const { version: _version, ...rest } = model as Record<string, unknown>;
  const digest = createHash("sha256")
    .update(JSON.stringify(sortKeys(rest)))
    .digest("hex");
  return parseInt(digest.slice(0, 7), 16);
}

export interface DashboardDef {
  uid: string;
  title: string;
  /** The dashboard model, keys sorted, ready for `configJson`. */
  json: string;
}

/** Every dashboard, by UID. */
export function dashboards(): DashboardDef[] {
  return [vllmDashboard(), gpuDashboard(), hostDashboard(), logsDashboard(), ladonDashboard()].map((b) => {
    const model = b.build();
    const withVersion = { ...model, version: dashboardVersion(model) };
    return {
      uid: model.uid as string,
      title: model.title as string,
      json: `${JSON.stringify(sortKeys(withVersion), null, 2)}\n`,
    };
  });
}

/** A panel target's query, with its dashboard, panel and the dashboard's template variables. */
export interface DashboardQuery {
  dashboard: string;
  panel: string;
  expr: string;
  variables: string[];
}

/** The query of every panel target backed by a datasource of `type`, with its dashboard and panel. */
export function dashboardQueries(type: "prometheus" | "loki"): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const d of dashboards()) {
    const model = JSON.parse(d.json) as {
      panels: { title: string; datasource?: { type?: string }; targets?: { expr?: string }[] }[];
      templating?: { list?: { name: string }[] };
    };
    const variables = (model.templating?.list ?? []).map((v) => v.name);
    for (const p of model.panels) {
      if (p.datasource?.type !== type) continue;
      for (const t of p.targets ?? [])
        if (t.expr) out.push({ dashboard: d.uid, panel: p.title, expr: t.expr, variables });
    }
  }
  return out;
}

/**
 * A panel's query as Grafana would send it: the interval macros set to `interval`, and each of the
 * dashboard's variables to a regex that matches every value (the panels use them with `=~`).
 */
export function concreteQuery(q: DashboardQuery, interval: string): string {
  const expr = q.expr.replace(/\$__(rate_interval|interval|auto)\b/g, interval);
  if (q.variables.length === 0) return expr;
  return expr.replace(new RegExp(`\\$(${q.variables.join("|")})\\b`, "g"), ".*");
}

/** The PromQL of every Prometheus-backed panel target, with its dashboard and panel. */
export function dashboardPromQL(): DashboardQuery[] {
  return dashboardQueries("prometheus");
}

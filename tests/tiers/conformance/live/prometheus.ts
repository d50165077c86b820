/** Prometheus, live: its targets up, its rules evaluated, the dashboards' PromQL accepted. */
import { concreteQuery, dashboardQueries } from "../../../../components/ladon";
import { CATALOG } from "../../../../components/plan/services";
import type { Ctx } from "../static";
import { withTool } from "../static";
import { base, get, json, until } from "./harness";

interface Target {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: string;
  lastError: string;
}

/** Jobs whose service runs here (every service with a readiness endpoint): their targets must be up. */
const RUNNING_JOBS = CATALOG.filter((s) => s.ready).map((s) => s.job);

export async function prometheusChecks(ctx: Ctx): Promise<void> {
  const prom = base(ctx, "prometheus");
  await withTool(
    ctx,
    "prometheus",
    "prometheus",
    "every target of a service that runs here is up",
    async () => {
      const down = await until("all running targets up", 120, () => {
        const t = json<{ data: { activeTargets: Target[] } }>(ctx, `${prom}/api/v1/targets`).data
          .activeTargets;
        const running = t.filter((x) => RUNNING_JOBS.includes(x.labels.job ?? ""));
        if (running.length !== RUNNING_JOBS.length) return undefined;
        const bad = running.filter((x) => x.health !== "up");
        return bad.length === 0 ? [] : undefined;
      }).catch(() => {
        const t = json<{ data: { activeTargets: Target[] } }>(ctx, `${prom}/api/v1/targets`).data
          .activeTargets;
        return t.filter((x) => RUNNING_JOBS.includes(x.labels.job ?? "") && x.health !== "up");
      });
      if (down.length > 0) {
        throw new Error(
          down.map((t) => `${t.labels.job} ${t.scrapeUrl}: ${t.health} ${t.lastError}`).join("\n"),
        );
      }
    },
  );

  await withTool(ctx, "prometheus", "prometheus", "every alert rule is evaluated without error", async () => {
    type Rule = { name: string; health: string; lastError?: string; lastEvaluation: string };
    const rules = await until("every rule evaluated", 90, () => {
      const groups = json<{ data: { groups: { rules: Rule[] }[] } }>(ctx, `${prom}/api/v1/rules`).data.groups;
      const all = groups.flatMap((g) => g.rules);
      return all.length > 0 && all.every((r) => !r.lastEvaluation.startsWith("0001")) ? all : undefined;
    });
    const bad = rules.filter((r) => r.health !== "ok");
    if (bad.length > 0)
      throw new Error(bad.map((r) => `${r.name}: ${r.health} ${r.lastError ?? ""}`).join("\n"));
  });

  await withTool(
    ctx,
    "prometheus",
    "prometheus",
    "every dashboard PromQL query runs without error",
    async () => {
      const errors: string[] = [];
      for (const q of dashboardQueries("prometheus")) {
        const expr = concreteQuery(q, "1m");
        const r = get(ctx, `${prom}/api/v1/query`, ["--data-urlencode", `query=${expr}`, "-G"]);
        if (r.status !== 200) errors.push(`${q.dashboard} / ${q.panel}: ${r.status} ${r.body.slice(0, 300)}`);
      }
      if (errors.length > 0) throw new Error(errors.join("\n"));
    },
  );
}

/** Loki and Alloy, live: journal, container and kernel lines with their labels, retention, LogQL. */
import { parse } from "yaml";
import { concreteQuery, dashboardQueries } from "../../../../components/ladon";
import { LOKI_FALLBACK_RETENTION } from "../../../../components/ladon/render/configs";
import type { Ctx } from "../static";
import { withTool } from "../static";
import { JOURNAL_LINES, XID_LINE } from "../hostfs";
import { base, containerLines, durationSeconds, get, instant, json, until } from "./harness";

/** A Loki stream's index labels are exactly these: the README promises no others. */
function sameLabels(got: Record<string, string>, want: Record<string, string>): void {
  const keys = [...new Set([...Object.keys(got), ...Object.keys(want)])].sort();
  const diff = keys.filter((k) => got[k] !== want[k]);
  if (diff.length > 0) {
    throw new Error(
      `labels ${JSON.stringify(got)}; expected exactly ${JSON.stringify(want)} (differ in ${diff.join(", ")})`,
    );
  }
}

export async function lokiChecks(ctx: Ctx): Promise<void> {
  const loki = base(ctx, "loki");
  // categorize-labels: `stream` holds only the index labels, and structured metadata (Loki's own
  // detected_level) stays beside each line (pkg/util/httpreq/encoding_flags.go@v3.7.8).
  const query = (q: string) =>
    json<{ data: { result: { stream: Record<string, string>; values: [string, string][] }[] } }>(
      ctx,
      `${loki}/loki/api/v1/query_range`,
      [
        "-H",
        "X-Loki-Response-Encoding-Flags: categorize-labels",
        "-G",
        "--data-urlencode",
        `query=${q}`,
        "--data-urlencode",
        "since=24h",
        "--data-urlencode",
        "limit=100",
      ],
    ).data.result;

  await withTool(
    ctx,
    "alloy",
    "alloy",
    "ships journal lines to Loki with the host, unit and level labels",
    async () => {
      const streams = await until("the journal line in Loki", 120, () => {
        const r = query(`{unit="${JOURNAL_LINES.unit}"}`);
        return r.length > 0 ? r : undefined;
      });
      sameLabels(streams[0]?.stream ?? {}, {
        host: ctx.lab.container("alloy").host,
        unit: JOURNAL_LINES.unit,
        level: "error",
      });
    },
  );

  await withTool(
    ctx,
    "alloy",
    "alloy",
    "ships every container's stdout and stderr to Loki with the host, container and level labels",
    async () => {
      const alloy = ctx.lab.container("alloy");
      const problems: string[] = [];
      for (const c of ctx.lab.containers.filter((x) => x.host === alloy.host)) {
        const want = containerLines(c.name);
        const streams = await until(`${c.name}'s lines in Loki`, 60, () => {
          const r = query(`{container="${c.name}"}`);
          const lines = r.flatMap((s) => s.values.map(([, l]) => l));
          return [...want.stdout, ...want.stderr].every((l) => lines.includes(l)) ? r : undefined;
        }).catch((e: Error) => {
          problems.push(e.message);
          return [];
        });
        for (const s of streams) {
          const line = s.values[0]?.[1] ?? "";
          const level = want.stderr.includes(line) ? "error" : "info";
          try {
            sameLabels(s.stream, { host: alloy.host, container: c.name, level });
          } catch (e) {
            problems.push(`${c.name}: ${(e as Error).message}`);
          }
        }
      }
      if (problems.length > 0) throw new Error(problems.join("\n"));
    },
  );

  await withTool(
    ctx,
    "alloy",
    "alloy",
    'finds the NVIDIA Xid kernel line under {unit="kernel"}',
    async () => {
      await until("the Xid line in Loki", 60, () => {
        const r = query('{unit="kernel"} |= "NVRM: Xid"');
        return r.some((s) => s.values.some(([, line]) => line.includes(XID_LINE))) ? true : undefined;
      });
    },
  );

  await withTool(ctx, "prometheus", "prometheus", "scrapes citadel_nvidia_xid_total from Alloy", async () => {
    await until("citadel_nvidia_xid_total in Prometheus", 120, () => {
      const r = instant(ctx, "citadel_nvidia_xid_total");
      return r.some((s) => s.metric.xid === "79" && Number(s.value[1]) >= 1) ? true : undefined;
    });
  });

  await withTool(
    ctx,
    "loki",
    "loki",
    "its tenant carries the configured retention over a global fallback, and the compactor applies retention",
    async () => {
      // Loki serves its effective config at /config and one tenant's limits, runtime overrides
      // applied, at /config/tenant/v1/limits (pkg/loki/loki.go@v3.7.8); "fake" without auth.
      const want = durationSeconds(ctx.lab.config.ladon?.loki.retentionPeriod ?? "");
      const config = parse(get(ctx, `${loki}/config`).body) as {
        compactor: { retention_enabled: boolean };
        limits_config: { retention_period: string };
      };
      if (config.compactor.retention_enabled !== true)
        throw new Error("compactor.retention_enabled is not true");
      // The global value is loki.yaml's fixed fallback; the configured one is the tenant's override.
      const global = config.limits_config.retention_period;
      if (durationSeconds(global) !== durationSeconds(LOKI_FALLBACK_RETENTION))
        throw new Error(
          `limits_config.retention_period is ${global}, not the ${LOKI_FALLBACK_RETENTION} fallback`,
        );
      const limits = parse(
        get(ctx, `${loki}/config/tenant/v1/limits`, ["-H", "X-Scope-OrgID: fake"]).body,
      ) as { retention_period?: string } | null;
      const tenant = limits?.retention_period;
      if (!tenant || durationSeconds(tenant) !== want)
        throw new Error(`tenant fake's retention_period is ${tenant}`);
      const metrics = get(ctx, `${loki}/metrics`).body;
      if (!/^loki_compactor_\w+/m.test(metrics))
        throw new Error("Loki exposes no loki_compactor_ metrics: no compactor runs");
    },
  );

  await withTool(ctx, "loki", "loki", "every dashboard LogQL query runs without error", async () => {
    const errors: string[] = [];
    for (const q of dashboardQueries("loki")) {
      const expr = concreteQuery(q, "1m");
      const r = get(ctx, `${loki}/loki/api/v1/query_range`, ["-G", "--data-urlencode", `query=${expr}`]);
      if (r.status !== 200) errors.push(`${q.dashboard} / ${q.panel}: ${r.status} ${r.body.slice(0, 300)}`);
    }
    if (errors.length > 0) throw new Error(errors.join("\n"));
  });
}

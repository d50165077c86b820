/**
 * Static conformance: each rendered file checked by its own upstream tool at the pinned version,
 * inside the service's sandbox root so that every path in it (rule globs, runtime config, data
 * dirs) resolves as it does in the container.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { stringify } from "yaml";
import { LadonSchema } from "../../../components/config";
import {
  alertRules,
  concreteQuery,
  dashboardPromQL,
  renderRulesFile,
  renderRuleTests,
} from "../../../components/ladon";
import { releaseOf, PINS, type PinName } from "../../../components/pins";
import type { Installed } from "../../../lib/upstream";
import type { CheckRun } from "./checks";
import type { ConformanceLab } from "./lab";
import type { Sandbox, Result } from "./sandbox";
import { hostfs, serviceRun } from "./services";

export interface Ctx {
  run: CheckRun;
  lab: ConformanceLab;
  sandbox: Sandbox;
  dir: string;
  tools: Partial<Record<PinName, Installed>>;
}

export function versionOf(pin: PinName): string {
  const c = PINS[pin].checker;
  return c.kind === "none" ? "-" : releaseOf(c.version, c.kind === "go" ? c.module : undefined);
}

/** Throws with the tool's own output unless it exited 0. */
export function expectOk(r: Result, what: string): string {
  const out = `${r.stdout}${r.stderr}`.trim();
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${out}`);
  return out;
}

/** Runs a tool of `pin` in the sandbox root of container `container`. */
export async function inRoot(
  ctx: Ctx,
  container: string,
  pin: PinName,
  binary: string,
  argv: string[],
  extraBinds: { src: string; dst: string; readOnly: boolean }[] = [],
): Promise<Result> {
  const tool = ctx.tools[pin] as Installed;
  const { spec } = serviceRun(ctx.dir, ctx.lab.container(container), pin, tool, {
    binary,
    argv,
    sandboxName: container,
  });
  spec.binds.push(...extraBinds);
  return ctx.sandbox.run(spec);
}

/** A check that needs `pin`'s tool: recorded as a failure when the tool could not be built. */
export async function withTool(
  ctx: Ctx,
  pin: PinName,
  tool: string,
  check: string,
  fn: () => Promise<void>,
): Promise<void> {
  if (!ctx.tools[pin]) {
    ctx.run.missing(tool, versionOf(pin), check, `${tool} is not installed: run npm run upstream -- ${pin}`);
    return;
  }
  await ctx.run.check(tool, versionOf(pin), check, fn);
}

export async function staticChecks(ctx: Ctx): Promise<void> {
  const scratch = path.join(ctx.dir, "static");
  mkdirSync(scratch, { recursive: true });

  await withTool(
    ctx,
    "prometheus",
    "promtool",
    "check config /etc/prometheus/prometheus.yml (rules included)",
    async () => {
      const out = expectOk(
        await inRoot(ctx, "prometheus", "prometheus", "promtool", [
          "check",
          "config",
          "/etc/prometheus/prometheus.yml",
        ]),
        "promtool check config",
      );
      if (!/SUCCESS: \d+ rules found/.test(out)) throw new Error(`promtool found no rules:\n${out}`);
    },
  );

  await withTool(ctx, "prometheus", "promtool", "check rules /etc/prometheus/rules/citadel.yml", async () => {
    expectOk(
      await inRoot(ctx, "prometheus", "prometheus", "promtool", [
        "check",
        "rules",
        "/etc/prometheus/rules/citadel.yml",
      ]),
      "promtool check rules",
    );
  });

  // The textfile metrics the host's scripts write (tests/tiers/conformance/hostfs.ts), which the live
  // node_exporter reads too.
  const textfiles = path.join(
    hostfs(ctx.dir, ctx.lab.container("node-exporter").host),
    "var/lib/node_exporter/textfile",
  );
  for (const file of readdirSync(textfiles)
    .filter((f) => f.endsWith(".prom"))
    .sort()) {
    await withTool(ctx, "prometheus", "promtool", `check metrics ${file}`, async () => {
      // It reads the exposition on stdin and touches no path, so it needs no sandbox root.
      const out = spawnSync((ctx.tools.prometheus as Installed).bin("promtool"), ["check", "metrics"], {
        input: readFileSync(path.join(textfiles, file)),
        encoding: "utf8",
      });
      if (out.status !== 0 || `${out.stdout}${out.stderr}`.trim() !== "") {
        throw new Error(`promtool check metrics:\n${out.stdout}${out.stderr}`);
      }
    });
  }

  await withTool(ctx, "prometheus", "promtool", "control: a broken rule is refused", async () => {
    const d = path.join(scratch, "control");
    mkdirSync(d, { recursive: true });
    writeFileSync(
      path.join(d, "broken.yml"),
      stringify({ groups: [{ name: "x", rules: [{ alert: "X", expr: "up ==" }] }] }),
    );
    const r = await inRoot(
      ctx,
      "prometheus",
      "prometheus",
      "promtool",
      ["check", "rules", "/control/broken.yml"],
      [{ src: d, dst: "/control", readOnly: true }],
    );
    if (r.code === 0) throw new Error("promtool accepted `up ==`");
  });

  await withTool(
    ctx,
    "prometheus",
    "promtool",
    "test rules: every alert fires in one case and not in another",
    async () => {
      // The unit tests of the rules, run against the rules file the lab renders for Prometheus.
      const groups = alertRules(ctx.lab.config.ladon?.thresholds ?? LadonSchema.parse({}).thresholds);
      const rendered = ctx.lab.file(
        ctx.lab.container("prometheus").host,
        "/etc/citadel/prometheus/rules/citadel.yml",
      );
      if (rendered !== renderRulesFile(groups))
        throw new Error("the rendered rules differ from alertRules(thresholds)");
      const d = path.join(scratch, "rule-tests");
      mkdirSync(d, { recursive: true });
      writeFileSync(path.join(d, "tests.yml"), renderRuleTests(groups, "/etc/prometheus/rules/citadel.yml"));
      expectOk(
        await inRoot(
          ctx,
          "prometheus",
          "prometheus",
          "promtool",
          ["test", "rules", "/rule-tests/tests.yml"],
          [{ src: d, dst: "/rule-tests", readOnly: true }],
        ),
        "promtool test rules",
      );
    },
  );

  await withTool(ctx, "prometheus", "promtool", "check rules: every dashboard query parses", async () => {
    const queries = dashboardPromQL();
    const rules = queries.map((q, i) => ({
      record: `dashboard:query_${i}`,
      expr: concreteQuery(q, "5m"),
    }));
    const d = path.join(scratch, "dashboards");
    mkdirSync(d, { recursive: true });
    writeFileSync(path.join(d, "dashboards.yml"), stringify({ groups: [{ name: "dashboards", rules }] }));
    const out = expectOk(
      await inRoot(
        ctx,
        "prometheus",
        "prometheus",
        "promtool",
        ["check", "rules", "/dash/dashboards.yml"],
        [{ src: d, dst: "/dash", readOnly: true }],
      ),
      "promtool check rules",
    );
    if (!out.includes(`SUCCESS: ${queries.length} rules found`)) throw new Error(out);
  });

  await withTool(
    ctx,
    "alertmanager",
    "amtool",
    "check-config /etc/alertmanager/alertmanager.yml",
    async () => {
      expectOk(
        await inRoot(ctx, "alertmanager", "alertmanager", "amtool", [
          "check-config",
          "/etc/alertmanager/alertmanager.yml",
        ]),
        "amtool check-config",
      );
    },
  );

  await withTool(
    ctx,
    "loki",
    "loki",
    "-verify-config with the container's flags (loki.yaml, runtime.yaml)",
    async () => {
      const c = ctx.lab.container("loki");
      expectOk(
        await inRoot(ctx, "loki", "loki", "loki", [...c.command, "-verify-config"]),
        "loki -verify-config",
      );
    },
  );

  await withTool(
    ctx,
    "alloy",
    "alloy",
    "fmt /etc/alloy/config.alloy: parses, and formats to the same tokens",
    async () => {
      const out = await inRoot(ctx, "alloy", "alloy", "alloy", ["fmt", "/etc/alloy/config.alloy"]);
      const formatted = expectOk(out, "alloy fmt");
      const ours = readFileSync(
        path.join(ctx.dir, "hostfs", ctx.lab.container("alloy").host, "etc/citadel/alloy/config.alloy"),
        "utf8",
      );
      // Alloy's own layout (tabs, aligned `=`) differs from ours; the tokens must not.
      const tokens = (text: string) => text.replace(/\s+/g, "");
      if (tokens(out.stdout) !== tokens(ours)) {
        throw new Error(`alloy fmt reads the config differently:\n${formatted.slice(0, 2000)}`);
      }
    },
  );

  await withTool(ctx, "alloy", "alloy", "validate /etc/alloy/config.alloy", async () => {
    expectOk(
      await inRoot(ctx, "alloy", "alloy", "alloy", ["validate", "/etc/alloy/config.alloy"]),
      "alloy validate",
    );
  });
}

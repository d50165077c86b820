/**
 * `npm run conformance`: the lab's rendered artifacts checked and run by the real upstream
 * programs, at the versions the lab pins (components/pins.ts).
 *
 *   npm run conformance -- [--config Pulumi.citadel.yaml] [--keep]
 *
 * 1. builds or reuses the upstream programs (lib/upstream, cached outside the repo);
 * 2. static: promtool, amtool, loki -verify-config, alloy fmt/validate on the rendered files;
 * 3. vLLM's own parser and config construction on every vLLM container's exact argv;
 * 4. live: the LadonStack's services started in namespaces from their containers' exact
 *    commands, environments and volumes, checked through their APIs.
 * 5. assess: `npm run assess` against the pinned Prometheus serving a week of recorded series
 *    (tests/tiers/conformance/assess.ts); needs no namespaces.
 *
 * Prints a line per check, ends with `N passed, M failed`, writes out/conformance.json, and exits
 * 1 when any check failed. Needs root (namespaces); tears down everything it made.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { PinName } from "../../../components/pins";
import { parseFlags } from "../../../lib/cli";
import { ensureAll, UPSTREAM, type Installed } from "../../../lib/upstream";
import { CheckRun } from "./checks";
import { prepareHost } from "./hostfs";
import { loadLab, writeFiles } from "./lab";
import { hostfs } from "./services";
import { liveChecks, WEBHOOK } from "./live";
import { assessCheck } from "./assess";
import { loadLab as loadStack } from "../../../lib/cli";
import { Sandbox } from "./sandbox";
import { staticChecks, versionOf, type Ctx } from "./static";
import { vllmChecks } from "./vllm";
import { jestChecks } from "./jest";
import { removeTree } from "../../support/remove";

/** The one change the conformance tier makes to the stack's config: a webhook it listens on. */
export const OVERLAY = {
  ladon: {
    alertmanager: {
      webhooks: [{ name: "conformance", url: `http://${WEBHOOK.address}:${WEBHOOK.port}${WEBHOOK.path}` }],
    },
  },
};

/** Container addresses on the sandbox bridge; host-network containers take their host's address. */
function addresses(ctx: Pick<Ctx, "lab">): Record<string, string> {
  const out: Record<string, string> = {};
  let next = 10;
  for (const c of ctx.lab.containers) {
    if (c.hostNetwork) {
      const host = ctx.lab.config.hosts[c.host];
      if (!host) throw new Error(`container ${c.name} runs on unknown host ${c.host}`);
      out[c.name] = host.address;
    } else {
      out[c.name] = `10.213.0.${next++}`;
    }
  }
  return out;
}

async function main(argv: string[]): Promise<number> {
  const args = parseFlags(
    argv,
    { config: "Pulumi.citadel.yaml", out: "out", only: "static,vllm,live,assess,jest" },
    ["keep"],
    {
      usage:
        "npm run conformance -- [--config <stack yaml>] [--out <dir>] [--only static,vllm,live,assess,jest] [--keep]",
      flags: {
        config: "the stack file whose rendered configs are checked (with the sandbox's overlay)",
        out: "where the report (conformance.json) and the assess chart are written",
        only: "which parts to run, comma-separated: static (upstream validators), vllm (its argument parser), live (the stack in namespaces), assess, jest (the tests under tests/tiers/conformance/jest, which read the upstream builds)",
        keep: "keep the sandbox's directory after the run, to look at what it rendered",
      },
      exits: {
        0: "every check passed",
        1: "a check failed, an upstream program is missing, or the run broke (the message says which)",
      },
    },
  );
  const parts = new Set(args.only.split(","));
  for (const p of parts) {
    if (!["static", "vllm", "live", "assess", "jest"].includes(p))
      throw new Error(`--only takes static, vllm, live, assess and jest, not ${p}`);
  }
  const started = Date.now();
  const run = new CheckRun();
  // Every part but assess runs in the sandbox's namespaces.
  const sandboxed = ["static", "vllm", "live"].some((p) => parts.has(p));
  if (sandboxed) {
    Sandbox.preflight();
    Sandbox.cleanStale((l) => console.log(l));
  }

  const lab = await loadLab(args.config, OVERLAY);
  const tools: Partial<Record<PinName, Installed>> = {};
  const needed = UPSTREAM.filter(
    (n) =>
      parts.has("live") ||
      (parts.has("vllm") && n === "vllm") ||
      (parts.has("static") && n !== "vllm" && n !== "phoenix") ||
      (parts.has("assess") && n === "prometheus") ||
      (parts.has("jest") && (n === "vllm" || n === "nodeExporter")),
  );
  for (const [name, r] of await ensureAll(needed)) {
    if (r instanceof Error) run.missing(name, versionOf(name), "builds from the registries", r.message);
    else tools[name] = r;
  }

  if (sandboxed) {
    const dir = mkdtempSync(path.join(tmpdir(), "citadel-conformance-"));
    const sandbox = new Sandbox(path.join(dir, "sandbox"));
    const ctx: Ctx = { run, lab, sandbox, dir, tools };
    try {
      writeFiles(lab, path.join(dir, "hostfs"));
      prepareHost(ctx, hostfs(dir, lab.container("prometheus").host));
      sandbox.up(addresses(ctx));
      if (parts.has("static")) await staticChecks(ctx);
      if (parts.has("vllm")) await vllmChecks(ctx);
      if (parts.has("live")) await liveChecks(ctx);
    } finally {
      sandbox.down();
      await run.check("sandbox", "-", "tears down every namespace, process and mount it made", () => {
        const left = sandbox.leftovers();
        if (left.length > 0) throw new Error(`left behind: ${left.join(", ")}; ${dir} is kept`);
        // The service roots bind the machine's /usr and /dev: removeTree refuses, naming them,
        // while a mount is still there, where rmSync would delete through it.
        if (!args.keep) removeTree(dir);
      });
      if (args.keep) console.log(`kept ${dir}`);
    }
  }
  // The stack file as npm run assess reads it (no conformance overlay: assess never alerts).
  if (parts.has("assess"))
    await assessCheck(
      run,
      versionOf("prometheus"),
      tools.prometheus,
      args.config,
      loadStack(args.config),
      args.out,
    );

  if (parts.has("jest")) await jestChecks(run);

  mkdirSync(args.out, { recursive: true });
  const report = {
    seconds: Math.round((Date.now() - started) / 1000),
    tools: Object.values(tools).map((t) => ({
      name: t?.name,
      version: t?.version,
      cached: t?.cached,
      buildSeconds: t?.info.seconds,
    })),
    checks: run.records,
  };
  writeFileSync(path.join(args.out, "conformance.json"), `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nconformance: ${report.seconds} s, wrote ${path.join(args.out, "conformance.json")}`);
  console.log(run.summary());
  return run.failed > 0 ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error) => {
      console.error(`conformance: ${e.message}`);
      console.log("0 passed, 1 failed");
      process.exit(1);
    },
  );
}

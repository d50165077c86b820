/**
 * The textfile metrics the alerts and dashboards read, as node_exporter exposes them: the textfile
 * timer's script the program renders runs over a sandbox root (the stack's rendered Prometheus and
 * Loki configs, a data directory) with the real vgs and pvs seeing a volume group on a loop
 * device, and the drift timer's evaluator writes its checks; the pinned node_exporter (the upstream cache's build, v1.12.1) reads the file with its
 * textfile collector and is scraped. Every citadel_ name a rendered alert rule or a dashboard panel
 * uses from those two writers must be in the scrape, so a renamed metric fails here and not silently in
 * the lab. Needs root (losetup, LVM) and the upstream cache (npm run upstream -- nodeExporter).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { baseMetric, dashboardPromQL, METRIC_SOURCES, metricsIn } from "../../../../components/ladon";
import { TEXTFILE_DIR } from "../../../../components/shared/lab";
import { parseLabConfig } from "../../../../components/plan";
import { DRIFT_EVALUATOR } from "../../../../components/ops/drift";
import { hostExpectations } from "../../../../components/ops/validate";
import { COMPONENTS_DIR } from "../../../../components/remote";
import { fromConfigMap, stackConfigSource } from "../../../../lib/synth/stackfile";
import { LAB_SECRETS, labConfigMap } from "../../../support/lab";
import { SimHost } from "../../../support/hostsim";
import { requireRoot } from "../../../support/loops";
import { citadelProbes } from "../../../support/probe";
import { cachedUpstream } from "../../../support/upstream";
import { synthLab } from "../../../support/synth";
import { scratchDir } from "../../../support/scratch";

const config = parseLabConfig(stackConfigSource(fromConfigMap(labConfigMap()), LAB_SECRETS)).lab;
let exporter: ChildProcess | undefined;
afterAll(() => {
  if (exporter && exporter.exitCode === null) exporter.kill("SIGKILL");
});

/** Scrapes `url`, retrying while the exporter is still starting (connection refused). */
async function scrape(url: string): Promise<string> {
  let last: unknown;
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(url);
      return await res.text();
    } catch (e) {
      last = e;
      await new Promise((r) => setImmediate(r));
    }
  }
  throw new Error(`node_exporter did not answer at ${url}: ${String(last)}`);
}

describe("the textfile script's metrics, through node_exporter", () => {
  it("include every citadel_ metric an alert rule or a dashboard reads from it", async () => {
    requireRoot("textfile metrics");
    const binary = path.join(cachedUpstream("nodeExporter"), "bin", "node_exporter");
    const lab = await synthLab();
    const script = lab.files.get("citadel/usr/local/lib/citadel/textfile-metrics.sh");
    if (script === undefined) throw new Error("the program rendered no textfile script for citadel");
    const param = (name: string) => {
      const v = new RegExp(`^export ${name}='([^']*)'$`, "m").exec(script)?.[1];
      if (v === undefined) throw new Error(`the textfile script has no ${name}`);
      return v;
    };

    // The sandbox root: the stack's rendered configs where the script reads them, and data.
    const root = scratchDir("citadel-textfile-");
    for (const name of ["PROMETHEUS_CONFIG", "LOKI_RUNTIME_CONFIG"]) {
      const file = param(name);
      const text = lab.files.get(`citadel${file}`);
      if (text === undefined) throw new Error(`the program rendered no ${file}`);
      mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      writeFileSync(path.join(root, file), text);
    }
    for (const service of ["prometheus", "loki"]) {
      mkdirSync(path.join(root, param("DATA_DIR"), service), { recursive: true });
      writeFileSync(path.join(root, param("DATA_DIR"), service, "chunk"), "x".repeat(4096));
    }
    // A volume group the real vgs and pvs report, in a sandbox that sees only its loop device
    // (SimHost.lvm: the host's own volume groups are neither listed nor touched); the script
    // reaches lvm2 through the logging passthrough on the sandbox's PATH.
    const sim = new SimHost();
    const { vg } = sim.lvm(32 * 2 ** 20);

    const run = spawnSync("bash", ["-s"], {
      input: script,
      encoding: "utf8",
      env: {
        ...process.env,
        CITADEL_ROOT: root,
        SHIM_STATE: sim.state,
        PATH: `${sim.bin}:${process.env.PATH ?? ""}`,
      },
    });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    // The drift timer's evaluator on a recorded probe of citadel, writing where the timer does.
    const evaluated = spawnSync("python3", [path.join(COMPONENTS_DIR, DRIFT_EVALUATOR)], {
      input: (await citadelProbes(config))("citadel-broken.txt"),
      encoding: "utf8",
      env: { PATH: process.env.PATH, EXPECTATIONS: JSON.stringify(hostExpectations(config, "citadel")) },
    });
    expect(evaluated.status).toBe(0);
    writeFileSync(path.join(root, TEXTFILE_DIR, "citadel_validate.prom"), evaluated.stdout);

    const port = 20000 + (process.pid % 20000);
    exporter = spawn(
      binary,
      [
        "--collector.disable-defaults",
        "--collector.textfile",
        `--collector.textfile.directory=${path.join(root, TEXTFILE_DIR)}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: "ignore" },
    );
    const scraped = await scrape(`http://127.0.0.1:${port}/metrics`);
    exporter.kill("SIGKILL");
    // The collector read the file without an error (collector/textfile.go@v1.12.1).
    expect(scraped).toMatch(/^node_textfile_scrape_error 0$/m);
    const exposed = new Set([...scraped.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    // The 32 MiB loop device less LVM's metadata area, as the real vgs reports it.
    const size = Number(
      new RegExp(`^citadel_lvm_vg_size_bytes\\{vg="${vg}"\\} (\\S+)$`, "m").exec(scraped)?.[1],
    );
    expect(size).toBeGreaterThan(16 * 2 ** 20);
    expect(size).toBeLessThanOrEqual(32 * 2 ** 20);

    // The names the shipped rules and the dashboards read, that the catalog says this script writes.
    const fromScript = new Set(
      METRIC_SOURCES.filter((s) => /textfile-metrics\.sh|drift_eval\.py/.test(s.source)).flatMap(
        (s) => s.metrics,
      ),
    );
    const rules = [...lab.files.entries()]
      .filter(([f]) => f.startsWith("citadel/etc/citadel/prometheus/rules/"))
      .flatMap(([, text]) =>
        (parse(text).groups as { rules: { expr: string }[] }[]).flatMap((g) => g.rules.map((r) => r.expr)),
      );
    const used = new Set(
      [...rules, ...dashboardPromQL().map((q) => q.expr)]
        .flatMap((e) => metricsIn(e))
        .map((m) => baseMetric(m))
        .filter((m) => fromScript.has(m)),
    );
    expect(used.size).toBeGreaterThan(2);
    expect([...used].filter((m) => !exposed.has(m)).sort()).toEqual([]);
  });
});

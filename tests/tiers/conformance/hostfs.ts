/**
 * The simulated host filesystem the live services mount: the lab's rendered files (written by
 * the runner), plus what a real citadel would have and this machine does not: a journal with a
 * unit's line and an NVIDIA Xid kernel line, a machine id, the textfile metrics the host's timers
 * write, and one extra rule that fires at once so that alert delivery can be observed.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { stringify } from "yaml";
import { servedModelName, serversOf } from "../../../components/config";
import {
  parseBenchResult,
  renderBaselineMetrics,
  workloadOf,
  type Baseline,
} from "../../../components/ops/baseline";
import { TEXTFILE_PARAMS, textfileHost } from "../../support/hostsim";
import type { Ctx } from "./static";

export const MACHINE_ID = "c1ade1c0nf0rmance0000000000000a1".replace(/[^0-9a-f]/g, "0");
export const XID_LINE = "NVRM: Xid (PCI:0000:01:00): 79, pid=4242, name=python3, GPU has fallen off the bus.";
export const JOURNAL_LINES = {
  unit: "citadel-conformance.service",
  message: "level=error conformance: journal line",
};

/** Journal entries in systemd's export format, turned into a journal file by systemd-journal-remote. */
function writeJournal(fs: string): void {
  const dir = path.join(fs, "var/log/journal", MACHINE_ID);
  mkdirSync(dir, { recursive: true });
  const now = Date.now() * 1000;
  const entry = (i: number, fields: Record<string, string>) =>
    Object.entries({
      __REALTIME_TIMESTAMP: String(now + i),
      __MONOTONIC_TIMESTAMP: String(1_000_000 + i),
      _BOOT_ID: "0123456789abcdef0123456789abcdef",
      _MACHINE_ID: MACHINE_ID,
      _HOSTNAME: "citadel",
      ...fields,
    })
      .map(([k, v]) => `${k}=${v}`)
      .join("\n") + "\n\n";
  const exported =
    entry(0, { _TRANSPORT: "kernel", PRIORITY: "3", SYSLOG_IDENTIFIER: "kernel", MESSAGE: XID_LINE }) +
    entry(1, {
      _TRANSPORT: "journal",
      PRIORITY: "3",
      _SYSTEMD_UNIT: JOURNAL_LINES.unit,
      SYSLOG_IDENTIFIER: "citadel-conformance",
      MESSAGE: JOURNAL_LINES.message,
    });
  const r = spawnSync("/lib/systemd/systemd-journal-remote", ["-o", path.join(dir, "system.journal"), "-"], {
    input: exported,
    encoding: "utf8",
  });
  if (r.status !== 0) {
    throw new Error(
      `systemd-journal-remote failed (${r.stderr}); install it with: apt-get install -y systemd-journal-remote`,
    );
  }
  writeFileSync(path.join(fs, "etc/machine-id"), `${MACHINE_ID}\n`);
}

/** The textfile metrics the host's own scripts write, produced by those scripts on a simulated host. */
function writeTextfiles(ctx: Ctx, fs: string): void {
  const textfile = path.join(fs, "var/lib/node_exporter/textfile");
  mkdirSync(textfile, { recursive: true });
  const { h } = textfileHost();
  const run = h.runStandalone("ladon/scripts/textfile-metrics.sh", TEXTFILE_PARAMS);
  if (run.status !== 0) throw new Error(`textfile-metrics.sh failed: ${run.stderr}`);
  writeFileSync(path.join(textfile, "citadel.prom"), h.read("/var/lib/node_exporter/textfile/citadel.prom"));
  h.dispose();
  // A `vllm bench serve --save-result` file, as npm run baseline records it.
  const fixture = path.join(__dirname, "..", "..", "fixtures", "baseline", "qwen3-8b-run1.json");
  const vllm = ctx.lab.config.vllm;
  const chat = (vllm ? serversOf(vllm) : []).find(([, s]) => s.kind === "generate");
  const b: Baseline = {
    date: new Date().toISOString(),
    model: chat?.[1].model ?? "Qwen/Qwen3-8B",
    servedModelName: chat ? servedModelName(chat[1]) : "qwen3-8b",
    kind: "generate",
    workload: workloadOf(ctx.lab.config.ops.baseline),
    metrics: parseBenchResult(readFileSync(fixture, "utf8")),
  };
  writeFileSync(
    path.join(textfile, `citadel_vllm_baseline_${chat?.[0] ?? "chat"}.prom`),
    renderBaselineMetrics(b),
  );
}

export function prepareHost(ctx: Ctx, fs: string): void {
  writeJournal(fs);
  writeTextfiles(ctx, fs);
  // One rule that fires at once, beside the lab's own: alert delivery end to end.
  writeFileSync(
    path.join(fs, "etc/citadel/prometheus/rules/conformance.yml"),
    stringify({
      groups: [
        {
          name: "conformance",
          rules: [
            {
              alert: "ConformanceForcedAlert",
              expr: "vector(1)",
              labels: { severity: "critical", host: ctx.lab.container("prometheus").host },
              annotations: { summary: "conformance: forced to fire" },
            },
          ],
        },
      ],
    }),
  );
  mkdirSync(path.join(fs, "var/run"), { recursive: true });
  writeFileSync(path.join(fs, "var/run/docker.sock"), "");
  mkdirSync(path.join(fs, "run/log/journal"), { recursive: true });
  mkdirSync(path.join(fs, "run/dbus"), { recursive: true });
  writeFileSync(path.join(fs, "run/dbus/system_bus_socket"), "");
}

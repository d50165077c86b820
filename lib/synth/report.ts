/** Turns a synth result into `out/` and the terminal tree. Pure except for `writeOut`. */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { ACCESS, AUDIENCE_TEXT, VLLM_ACCESS, type PortAccess } from "../../components/plan/access";
import { portRegistry, SERVICES } from "../../components/plan/services";
import { imageOf, PINS } from "../../components/pins";
import type { VllmSummary } from "../../components/lab";
import type { ServerSummary } from "../../components/llm";
import type { ResourceRecord, SynthResult } from "./harness";
import { StackFileError } from "./stackfile";

/** `out/resources.json`: every resource sorted by URN, with the fields reviewers and policies need. */
export function resourcesJson(result: SynthResult): string {
  const rows = result.resources.map((r) => ({
    urn: r.urn,
    type: r.type,
    name: r.name,
    parent: r.parent,
    inputs: r.inputs,
    protect: r.protect,
    retainOnDelete: r.retainOnDelete,
    dependsOn: r.dependsOn,
    provider: r.provider,
  }));
  return `${JSON.stringify(rows, null, 2)}\n`;
}

/** The file that marks a folder as `npm start`'s own output, which it may clear and rewrite. */
export const OUT_MARKER = ".citadel-out";

/**
 * What the project's own tools write into out/ (a folder of only these is ours, marker or not):
 * npm start's files; jest's summary (tests/support/summary-reporter.js); the conformance tier's
 * results and chart (tests/tiers/conformance/checks.ts, assess.ts); the e2e tier's results
 * (tests/tiers/e2e/index.ts); `npm run assess`'s default chart (tools/assess/index.ts); Stryker's
 * report (stryker.config.json); and the runs `npm run baseline` refused (tools/baseline.ts,
 * `rejected-<file>`). npm start clears only its own files/ folder in it.
 */
const OUT_FILES = [
  OUT_MARKER,
  "files",
  "resources.json",
  "outputs.json",
  "vram-plan.json",
  "policy-report.json",
  "test-summary.json",
  "conformance.json",
  "assess-conformance.png",
  "e2e.json",
  "assess.png",
  "mutation",
];
const isOurs = (entry: string) => OUT_FILES.includes(entry) || /^rejected-.+\.json$/.test(entry);

/**
 * Refuses an output folder that `npm start` did not make: it must be new (or empty), or carry the
 * marker. Everything under it is cleared only then, so `--out` can never delete someone's files.
 */
export function claimOutDir(dir: string): void {
  checkOutDir(dir);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, OUT_MARKER), "written by npm start (tools/synth.ts); safe to delete\n");
}

/**
 * claimOutDir's refusal without its writes: `npm start` asks before it plans, so a folder it may
 * not use is refused at once instead of after the synth.
 */
export function checkOutDir(dir: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) {
      throw new StackFileError(`--out ${dir} is a file, not a folder; name a new folder, e.g. --out out`);
    }
    const entries = readdirSync(dir);
    const ours = entries.every(isOurs);
    if (!ours && !entries.includes(OUT_MARKER)) {
      throw new StackFileError(
        `--out ${dir} already holds files that npm start did not write (it has no ${OUT_MARKER}); name a new or empty folder`,
      );
    }
  }
}

/** Writes resources.json, outputs.json and every rendered file; clears stale output first. */
export function writeOut(dir: string, result: SynthResult): void {
  claimOutDir(dir);
  rmSync(path.join(dir, "files"), { recursive: true, force: true });
  writeFileSync(path.join(dir, "resources.json"), resourcesJson(result));
  writeFileSync(path.join(dir, "outputs.json"), `${JSON.stringify(result.outputs, null, 2)}\n`);
  const vllm = result.outputs.vllm as PlanOutput | null | undefined;
  if (vllm) {
    const plans = Object.fromEntries(Object.entries(vllm.servers).map(([n, v]) => [n, v.vramPlan]));
    writeFileSync(
      path.join(dir, "vram-plan.json"),
      `${JSON.stringify({ gpus: vllm.gpus, servers: plans }, null, 2)}\n`,
    );
  }
  for (const [file, content] of result.files) {
    const target = path.join(dir, "files", file);
    if (!target.startsWith(path.join(dir, "files") + path.sep))
      throw new Error(`refusing to write outside out/: ${file}`);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, content, { mode: file.endsWith(".sh") ? 0o755 : 0o644 });
  }
}

const label = (r: ResourceRecord) => {
  const flags = [r.protect ? "protected" : "", r.retainOnDelete ? "retained" : ""].filter(Boolean);
  return `${r.name} (${r.type})${flags.length ? ` [${flags.join(", ")}]` : ""}`;
};

/** The component tree with counts, for the terminal. */
export function renderTree(result: SynthResult): string {
  const children = new Map<string | null, ResourceRecord[]>();
  const urns = new Set(result.resources.map((r) => r.urn));
  for (const r of result.resources) {
    const parent = r.parent && urns.has(r.parent) ? r.parent : null;
    children.set(parent, [...(children.get(parent) ?? []), r]);
  }
  const lines: string[] = [];
  const walk = (parent: string | null, prefix: string) => {
    const kids = [...(children.get(parent) ?? [])].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    kids.forEach((r, i) => {
      const last = i === kids.length - 1;
      lines.push(`${prefix}${last ? "└─ " : "├─ "}${label(r)}`);
      walk(r.urn, prefix + (last ? "   " : "│  "));
    });
  };
  walk(null, "");
  const custom = result.resources.filter((r) => r.custom);
  const byType = new Map<string, number>();
  for (const r of custom) byType.set(r.type, (byType.get(r.type) ?? 0) + 1);
  const counts = [...byType.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([t, n]) => `  ${String(n).padStart(3)}  ${t}`);
  return [
    ...lines,
    "",
    `${result.resources.length} resources: ${result.resources.length - custom.length} components, ${custom.length} provider resources`,
    ...counts,
    `${custom.filter((r) => r.protect).length} protected, ${result.files.size} rendered files`,
  ].join("\n");
}

interface HostsOutput {
  [host: string]: { raids?: { name: string; level: number; members: string[]; mountPoint: string }[] };
}

/** Every RAID array of the lab, per host: level, md name, mount point and members; nothing without arrays. */
export function renderRaids(outputs: Record<string, unknown>): string {
  const hosts = (outputs.hosts ?? {}) as HostsOutput;
  const lines: string[] = [];
  for (const host of Object.keys(hosts).sort()) {
    for (const raid of hosts[host]?.raids ?? []) {
      lines.push(
        `  ${host}: RAID${raid.level} /dev/md/${raid.name} at ${raid.mountPoint}, ${raid.members.length} members:`,
        ...raid.members.map((m) => `    ${m}`),
      );
    }
  }
  if (lines.length === 0) return "";
  return [
    "RAID arrays (created only from blank members; an existing one is adopted, never recreated):",
    ...lines,
  ].join("\n");
}

/** The `vllm` stack output, as much of it as the report reads. */
type PlanOutput = Pick<VllmSummary, "host" | "gpus"> & {
  servers: Record<string, Pick<ServerSummary, "baseUrl" | "servedModelName" | "kind" | "gpus" | "vramPlan">>;
};

/** Every vLLM server and the per-GPU plan, for the terminal; nothing when the lab has no vLLM. */
export function renderVramPlan(outputs: Record<string, unknown>): string {
  const vllm = outputs.vllm as PlanOutput | null | undefined;
  if (!vllm) return "";
  const lines = [`vLLM servers on ${vllm.host}:`];
  for (const [name, s] of Object.entries(vllm.servers).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const plan = s.vramPlan;
    const g = plan.perGpu;
    lines.push(
      `  ${name}  ${s.kind} ${s.servedModelName}  ${s.baseUrl}  GPU ${s.gpus.join(",")}, TP=${plan.tensorParallelSize}`,
      `    per GPU: reserves ${g.budgetGiB} GiB (gpu-memory-utilization ${plan.gpuMemoryUtilization}): ` +
        `weights ${g.weightsGiB}, reserve ${g.reserveGiB}, ` +
        (g.kvBytesPerToken === 0
          ? `no KV cache (encoder-only), max-model-len ${plan.maxModelLen}`
          : `KV cache ${g.kvBudgetGiB} GiB = ${g.tokensThatFit} tokens ` +
            `(${g.concurrencyAtMaxModelLen} requests of max-model-len ${plan.maxModelLen})`),
    );
  }
  lines.push("per GPU:");
  for (const gpu of vllm.gpus) {
    const parts = gpu.servers
      .map((s) => `${s.server} ${s.utilization} (${s.reservedGiB} GiB + ${s.baselineGiB} GiB baseline)`)
      .join(" then ");
    lines.push(
      `  GPU ${gpu.gpu}  of ${gpu.totalGiB} GiB (cudaMemGetInfo): ${parts}, ${gpu.freeGiB} GiB unreserved`,
    );
  }
  return lines.join("\n");
}

/** The README's service table, generated from the port registry so the two cannot drift. */
export function renderServiceTable(): string {
  const reach = (a: PortAccess) =>
    a.from.length === 0 ? "nobody outside the host" : a.from.map((x) => AUDIENCE_TEXT[x]).join(", ");
  const row = (
    name: string,
    port: string,
    host: string,
    container: string,
    where: string,
    image: string,
    a: PortAccess,
  ) =>
    `| ${name} | ${port} | ${host} | ${container} | ${where} | ${image} | ${reach(a)} | ${a.writes ?? "nothing (read-only)"} | ${a.auth} |`;
  const rows = portRegistry().map((p) => {
    const spec = SERVICES[p.service];
    const where =
      spec.placement === "stack"
        ? "stack host"
        : spec.placement === "gpuHosts"
          ? "each GPU host"
          : "each host";
    const access = ACCESS[p.service][p.port] as PortAccess;
    return row(
      spec.container,
      p.port,
      String(p.host),
      String(p.container),
      where,
      `\`${spec.image}\``,
      access,
    );
  });
  return [
    "| service | port | host port | container port | runs on | image | reachable from | can change | auth |",
    "|---|---|---|---|---|---|---|---|---|",
    ...rows,
    row(
      "vllm-<server>",
      "http",
      "servers.*.port",
      "8000",
      "vLLM host",
      `\`${imageOf(PINS.vllm)}\``,
      VLLM_ACCESS,
    ),
  ].join("\n");
}

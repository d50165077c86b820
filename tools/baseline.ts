/**
 * `npm run baseline`: the LLM performance baseline. For each vLLM server (or `--server <name>`),
 * runs vLLM's own benchmark inside its container with the fixed synthetic workload from
 * `ops.baseline` (chat completions for a generate server; embedding or rerank requests of the same
 * input length for the others, whose measure is tokens in per second), compares the result with
 * the newest baseline recorded for the same model and workload, and then:
 *
 *  - no regression beyond `ops.baseline.regressionMargin` (or no baseline yet): records the run
 *    as `baselines/<date>-<served model>.json` and writes it on the vLLM host as textfile metrics
 *    for the vLLM dashboard; exits 0.
 *  - a regression: prints the table, keeps the run in `out/` for a look, records nothing, exits 1.
 *    `--accept` records it anyway, as the new baseline (after a deliberate change).
 *
 *   npm run baseline -- [--config Pulumi.citadel.yaml] [--server chat] [--accept] [--dir baselines]
 *
 * Exit codes (also in `--help`): 0 recorded (or accepted); 1 a regression, nothing recorded; 2 bad
 * flags or config; 3 the vLLM host could not be reached over SSH; 4 anything else.
 */
import "../lib/compile-cache";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { servedModelName, serversOf, type LabConfig } from "../components/config";
import { vllmContainer, type VllmServerConfig } from "../components/config/vllm";
import { TEXTFILE_DIR } from "../components/shared/lab";
import { CONTAINER_PORT } from "../components/plan/vllm";
import { sortKeys } from "../components/shared/render";
import {
  baselineFileName,
  compare,
  latestBaseline,
  parseBaseline,
  parseBenchResult,
  renderBaselineMetrics,
  renderComparison,
  workloadOf,
  type Baseline,
} from "../components/ops/baseline";
import { renderScript, renderStandalone } from "../components/remote";
import { runOnHost } from "../lib/ssh";
import { loadLab, parseFlags, runCli } from "../lib/cli";
import { StackFileError } from "../lib/synth/stackfile";

/** A benchmark of a few hundred requests takes minutes; an hour means something is stuck. */
const BENCH_TIMEOUT_MS = 60 * 60 * 1000;

export interface BaselineOptions {
  dir: string;
  accept: boolean;
  /** Where a rejected run is kept. */
  outDir: string;
  now: Date;
}

/** Every recorded baseline in `dir`; none when it does not exist yet. */
export function readRecorded(dir: string): Baseline[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => parseBaseline(readFileSync(path.join(dir, f), "utf8"), path.join(dir, f)));
}

const toJson = (b: Baseline) => `${JSON.stringify(sortKeys(b), null, 2)}\n`;

/** Runs the baseline of every server (or the one named), and exits 1 if any regressed. */
export function runBaseline(
  lab: LabConfig,
  opts: BaselineOptions & { server?: string },
  log: (line: string) => void,
): number {
  const vllm = lab.vllm;
  if (!vllm)
    throw new StackFileError("citadel:vllm is not set in the stack config: there is no model to benchmark");
  const servers = serversOf(vllm).filter(([name]) => opts.server === undefined || name === opts.server);
  if (servers.length === 0) {
    throw new StackFileError(
      `--server ${opts.server}: no such server in citadel:vllm.servers (${Object.keys(vllm.servers).join(", ")})`,
    );
  }
  // Read what is recorded first: a broken file should stop us before a long benchmark.
  const recorded = readRecorded(opts.dir);
  let status = 0;
  for (const [i, [name, server]] of servers.entries()) {
    if (servers.length > 1) log(`server ${i + 1} of ${servers.length}:`);
    status = Math.max(status, baselineServer(lab, vllm.host, name, server, recorded, opts, log));
  }
  return status;
}

function baselineServer(
  lab: LabConfig,
  host: string,
  name: string,
  server: VllmServerConfig,
  recorded: Baseline[],
  opts: BaselineOptions,
  log: (line: string) => void,
): number {
  const served = servedModelName(server);
  const settings = lab.ops.baseline;
  const workload = workloadOf(settings);
  const margin = settings.regressionMargin;
  const what =
    server.kind === "generate"
      ? `${workload.numPrompts} prompts of ${workload.inputLen} tokens in, ${workload.outputLen} out`
      : `${workload.numPrompts} ${server.kind} requests of ${workload.inputLen} tokens`;
  log(
    `benchmarking servers.${name} (${served}, ${server.kind}) on ${host}: ${what}, ` +
      `${workload.requestRate} req/s, at most ${workload.maxConcurrency} at once`,
  );
  const script = renderStandalone("ops/scripts/baseline.sh", {
    CONTAINER: vllmContainer(name),
    KIND: server.kind,
    MODEL: server.model,
    SERVED: served,
    PORT: CONTAINER_PORT,
    INPUT_LEN: workload.inputLen,
    OUTPUT_LEN: workload.outputLen,
    NUM_PROMPTS: workload.numPrompts,
    REQUEST_RATE: workload.requestRate,
    MAX_CONCURRENCY: workload.maxConcurrency,
  });
  const result = runOnHost(lab, host, script, { timeoutMs: BENCH_TIMEOUT_MS, progress: true });
  const run: Baseline = {
    date: opts.now.toISOString(),
    model: server.model,
    servedModelName: served,
    kind: server.kind,
    workload,
    metrics: parseBenchResult(result, server.kind),
  };
  const file = baselineFileName(run);

  const previous = latestBaseline(recorded, run);
  let regressed = false;
  if (previous) {
    const rows = compare(previous.metrics, run.metrics, margin);
    regressed = rows.some((r) => r.regressed);
    log(`compared with ${path.join(opts.dir, baselineFileName(previous))}:`);
    log(renderComparison(rows, margin));
  } else {
    log(`no baseline recorded yet for ${served} with this workload: this run becomes it`);
  }

  if (regressed && !opts.accept) {
    mkdirSync(opts.outDir, { recursive: true });
    const kept = path.join(opts.outDir, `rejected-${file}`);
    writeFileSync(kept, toJson(run));
    log(`not recorded; this run is in ${kept}. Run with --accept to make it the new baseline.`);
    return 1;
  }
  mkdirSync(opts.dir, { recursive: true });
  writeFileSync(path.join(opts.dir, file), toJson(run));
  log(`recorded ${path.join(opts.dir, file)}`);
  // A convergence step like any other: the shared prelude writes the file only when it changed.
  const metrics = renderScript("ops/scripts/baseline-metrics.sh", {
    METRICS: renderBaselineMetrics(run).trimEnd(),
    TEXTFILE_DIR,
    SERVER: name,
  });
  log(runOnHost(lab, host, metrics, { timeoutMs: 120_000 }).trim());
  return 0;
}

export const HELP = {
  usage: "npm run baseline -- [--config <stack yaml>] [--server <name>] [--dir <baselines dir>] [--accept]",
  flags: {
    config: "the stack file: the vLLM host, its servers and the ops.baseline workload",
    server: "benchmark only this server of citadel:vllm.servers (none: every server)",
    dir: "where baselines are read from and recorded (one JSON file per run)",
    accept:
      "record this run as the new baseline even if it is slower than the last one beyond ops.baseline.regressionMargin (after a deliberate change)",
  },
  exits: {
    0: "every server's run was recorded (no regression, no baseline yet, or --accept)",
    1: "a regression beyond the margin: nothing recorded, the run is kept in out/rejected-*.json",
    2: "bad flags or stack config (the message names the key)",
    3: "the vLLM host could not be reached over SSH",
    4: "anything else went wrong (the message says what)",
  },
};

function main(): number {
  const flags = parseFlags(
    process.argv.slice(2),
    { config: "Pulumi.citadel.yaml", dir: "baselines", server: "" },
    ["accept"],
    HELP,
  );
  return runBaseline(
    loadLab(flags.config),
    {
      dir: flags.dir,
      accept: flags.accept,
      outDir: "out",
      now: new Date(),
      ...(flags.server ? { server: flags.server } : {}),
    },
    (line) => console.log(line),
  );
}

if (require.main === module) runCli("baseline", main);

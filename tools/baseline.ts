/**
 * `npm run baseline`: the LLM performance baseline. Runs vLLM's own benchmark inside the running
 * vLLM container with the fixed synthetic workload from `ops.baseline`, compares the result with
 * the newest baseline recorded for the same model and workload, and then:
 *
 *  - no regression beyond `ops.baseline.regressionMargin` (or no baseline yet): records the run
 *    as `baselines/<date>-<served model>.json` and writes it on the vLLM host as textfile metrics
 *    for the vLLM dashboard; exits 0.
 *  - a regression: prints the table, keeps the run in `out/` for a look, records nothing, exits 1.
 *    `--accept` records it anyway, as the new baseline (after a deliberate change).
 *
 *   npm run baseline -- [--config Pulumi.citadel.yaml] [--accept] [--dir baselines]
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { servedModelName, type LabConfig } from "../components/config";
import { TEXTFILE_DIR } from "../components/ladon/stack";
import { CONTAINER_PORT } from "../components/llm/resolve";
import { sortKeys } from "../components/host/docker";
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
import { runOnHost } from "./ssh";
import { loadLab, parseFlags, runCli } from "./cli";
import { StackFileError } from "./synth/stackfile";

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

export function runBaseline(lab: LabConfig, opts: BaselineOptions, log: (line: string) => void): number {
  const vllm = lab.vllm;
  if (!vllm)
    throw new StackFileError("citadel:vllm is not set in the stack config: there is no model to benchmark");
  const served = servedModelName(vllm);
  const settings = lab.ops.baseline;
  const workload = workloadOf(settings);
  const margin = settings.regressionMargin;
  // Read what is recorded first: a broken file should stop us before a long benchmark.
  const recorded = readRecorded(opts.dir);

  log(
    `benchmarking ${served} on ${vllm.host}: ${workload.numPrompts} prompts of ${workload.inputLen} tokens in, ` +
      `${workload.outputLen} out, ${workload.requestRate} req/s, at most ${workload.maxConcurrency} at once`,
  );
  const script = renderStandalone("ops/scripts/baseline.sh", {
    MODEL: vllm.model,
    SERVED: served,
    PORT: CONTAINER_PORT,
    INPUT_LEN: workload.inputLen,
    OUTPUT_LEN: workload.outputLen,
    NUM_PROMPTS: workload.numPrompts,
    REQUEST_RATE: workload.requestRate,
    MAX_CONCURRENCY: workload.maxConcurrency,
  });
  const result = runOnHost(lab, vllm.host, script, { timeoutMs: BENCH_TIMEOUT_MS, progress: true });
  const run: Baseline = {
    date: opts.now.toISOString(),
    model: vllm.model,
    servedModelName: served,
    workload,
    metrics: parseBenchResult(result),
  };
  const name = baselineFileName(run);

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
    const kept = path.join(opts.outDir, `rejected-${name}`);
    writeFileSync(kept, toJson(run));
    log(`not recorded; this run is in ${kept}. Run with --accept to make it the new baseline.`);
    return 1;
  }
  mkdirSync(opts.dir, { recursive: true });
  const file = path.join(opts.dir, name);
  writeFileSync(file, toJson(run));
  log(`recorded ${file}`);
  // A convergence step like any other: the shared prelude writes the file only when it changed.
  const metrics = renderScript("ops/scripts/baseline-metrics.sh", {
    METRICS: renderBaselineMetrics(run).trimEnd(),
    TEXTFILE_DIR,
  });
  log(runOnHost(lab, vllm.host, metrics, { timeoutMs: 120_000 }).trim());
  return 0;
}

function main(): number {
  const flags = parseFlags(
    process.argv.slice(2),
    { config: "Pulumi.citadel.yaml", dir: "baselines" },
    ["accept"],
    "npm run baseline -- [--config <stack yaml>] [--dir <baselines dir>] [--accept]",
  );
  return runBaseline(
    loadLab(flags.config),
    { dir: flags.dir, accept: flags.accept, outDir: "out", now: new Date() },
    (line) => console.log(line),
  );
}

if (require.main === module) runCli("baseline", main);

/**
 * The LLM performance baseline: parse `vllm bench serve` results, record them, and compare a run
 * with the last recorded baseline. Pure.
 */
import { z } from "zod";
import type { OpsConfig } from "../config/ops";
import { SERVER_KINDS, type ServerKind } from "../shared/models";

const Quantiles = z.strictObject({ p50: z.number(), p95: z.number(), p99: z.number() });

export const WorkloadSchema = z.strictObject({
  inputLen: z.number().int(),
  outputLen: z.number().int(),
  numPrompts: z.number().int(),
  requestRate: z.number(),
  maxConcurrency: z.number().int(),
});
export type Workload = z.infer<typeof WorkloadSchema>;

export const MetricsSchema = z.strictObject({
  /**
   * Seconds, by percentile: time to first token, inter-token latency (generate servers only), and
   * end-to-end latency.
   */
  ttft: Quantiles.optional(),
  itl: Quantiles.optional(),
  e2el: Quantiles,
  requestThroughput: z.number(),
  /** Generated tokens per second (generate servers only). */
  outputTokensPerSecond: z.number().optional(),
  /** Input plus output tokens per second: for an embed or rerank server, its embedding throughput. */
  totalTokensPerSecond: z.number(),
  completed: z.number().int(),
});
export type BaselineMetrics = z.infer<typeof MetricsSchema>;

/** One recorded baseline, as stored in `baselines/*.json`. */
export const BaselineSchema = z.strictObject({
  date: z.iso.datetime(),
  model: z.string(),
  servedModelName: z.string(),
  /** The server's kind; files recorded before servers had kinds are generate runs. */
  kind: z.enum(SERVER_KINDS).default("generate"),
  workload: WorkloadSchema,
  metrics: MetricsSchema,
});
export type Baseline = z.infer<typeof BaselineSchema>;

/** Reads one recorded baseline file, naming the file and the field when it is not one. */
export function parseBaseline(json: string, file: string): Baseline {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new Error(`${file} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const parsed = BaselineSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new Error(`${file} is not a recorded baseline: ${problems.join("; ")}`);
  }
  return parsed.data;
}

export function workloadOf(b: OpsConfig["baseline"]): Workload {
  return {
    inputLen: b.inputLen,
    outputLen: b.outputLen,
    numPrompts: b.numPrompts,
    requestRate: b.requestRate,
    maxConcurrency: b.maxConcurrency,
  };
}

/**
 * Reads the JSON `vllm bench serve --save-result` writes (milliseconds become seconds). A pooling
 * run (embed, rerank) has only end-to-end latency and input throughput: vllm/benchmarks/serve.py
 * @v0.34.0 measures TTFT and ITL for generation only (EmbedBenchmarkMetrics).
 */
export function parseBenchResult(json: string, kind: ServerKind = "generate"): BaselineMetrics {
  const r = JSON.parse(json) as Record<string, number>;
  const need = (key: string): number => {
    const v = r[key];
    if (typeof v !== "number" || !Number.isFinite(v))
      throw new Error(
        `the benchmark result has no ${key}; run vllm bench serve with --percentile-metrics ttft,itl,e2el --metric-percentiles 50,95,99`,
      );
    return v;
  };
  const q = (m: string) => ({
    p50: need(`p50_${m}_ms`) / 1000,
    p95: need(`p95_${m}_ms`) / 1000,
    p99: need(`p99_${m}_ms`) / 1000,
  });
  const common = {
    e2el: q("e2el"),
    requestThroughput: need("request_throughput"),
    totalTokensPerSecond: need("total_token_throughput"),
    completed: need("completed"),
  };
  if (kind !== "generate") return common;
  return { ...common, ttft: q("ttft"), itl: q("itl"), outputTokensPerSecond: need("output_throughput") };
}

export interface Comparison {
  metric: string;
  baseline: number;
  current: number;
  /** Relative change, positive when worse. */
  worseBy: number;
  regressed: boolean;
}

/** Compares a run with the baseline: latencies may not grow, throughput may not shrink, by more than `margin`. */
export function compare(baseline: BaselineMetrics, current: BaselineMetrics, margin: number): Comparison[] {
  const rows: Comparison[] = [];
  const latency = (name: string, b: number, c: number) => {
    const worseBy = b > 0 ? c / b - 1 : 0;
    rows.push({ metric: name, baseline: b, current: c, worseBy, regressed: worseBy > margin });
  };
  const throughput = (name: string, b: number, c: number) => {
    const worseBy = b > 0 ? 1 - c / b : 0;
    rows.push({ metric: name, baseline: b, current: c, worseBy, regressed: worseBy > margin });
  };
  // Only what both runs measured: a pooling run has no TTFT, ITL or output tokens.
  for (const m of ["ttft", "itl", "e2el"] as const) {
    const b = baseline[m];
    const c = current[m];
    if (b && c) for (const p of ["p50", "p95", "p99"] as const) latency(`${m} ${p} (s)`, b[p], c[p]);
  }
  throughput("requests/s", baseline.requestThroughput, current.requestThroughput);
  if (baseline.outputTokensPerSecond !== undefined && current.outputTokensPerSecond !== undefined)
    throughput("output tokens/s", baseline.outputTokensPerSecond, current.outputTokensPerSecond);
  else throughput("tokens/s", baseline.totalTokensPerSecond, current.totalTokensPerSecond);
  return rows;
}

const percent = (fraction: number) => `${Number((fraction * 100).toFixed(1))}%`;

/** The comparison as a table: each metric, the baseline, this run, how much worse, and a verdict. */
export function renderComparison(rows: Comparison[], margin: number): string {
  const fmt = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(3));
  const lines = rows.map((r) =>
    [
      r.regressed ? "WORSE" : "ok   ",
      r.metric.padEnd(16),
      fmt(r.baseline).padStart(9),
      fmt(r.current).padStart(9),
      `${(r.worseBy * 100).toFixed(1)}%`.padStart(7),
    ].join("  "),
  );
  const regressed = rows.filter((r) => r.regressed).length;
  return [
    ["     ", "metric".padEnd(16), "baseline".padStart(9), "now".padStart(9), "worse".padStart(7)].join("  "),
    ...lines,
    "",
    regressed === 0
      ? `no regression beyond ${percent(margin)}`
      : `${regressed} ${regressed === 1 ? "metric" : "metrics"} regressed beyond ${percent(margin)}`,
  ].join("\n");
}

function sameWorkload(a: Workload, b: Workload): boolean {
  return (Object.keys(WorkloadSchema.shape) as (keyof Workload)[]).every((k) => a[k] === b[k]);
}

/**
 * The newest recorded baseline for the same model, served name and workload: only like is
 * compared with like, so changing the workload starts a new baseline instead of failing.
 */
export function latestBaseline(
  recorded: Baseline[],
  run: Pick<Baseline, "model" | "servedModelName" | "workload">,
): Baseline | undefined {
  return recorded
    .filter(
      (b) =>
        b.model === run.model &&
        b.servedModelName === run.servedModelName &&
        sameWorkload(b.workload, run.workload),
    )
    .sort((a, b) => Date.parse(a.date) - Date.parse(b.date))
    .pop();
}

/** The file name a baseline is recorded under: sortable by date, then the served model. */
export function baselineFileName(b: Pick<Baseline, "date" | "servedModelName">): string {
  const stamp = b.date.replace(/\.\d+Z$/, "Z").replace(/:/g, "-");
  return `${stamp}-${b.servedModelName.replace(/[^A-Za-z0-9._-]/g, "_")}.json`;
}

/**
 * A recorded baseline as node-exporter textfile metrics, labelled with the served model name
 * (vLLM's own `model_name`), so the vLLM dashboard can draw it next to the live quantiles. The
 * label is `percentile`, not `quantile`: promtool reserves that for summaries, and these are gauges.
 */
export function renderBaselineMetrics(b: Baseline): string {
  const model = `model="${b.servedModelName}"`;
  const gauge = (name: string, help: string, samples: string[]) => [
    `# HELP ${name} ${help}`,
    `# TYPE ${name} gauge`,
    ...samples,
  ];
  const latency = (["ttft", "itl", "e2el"] as const).flatMap((m) => {
    const q = b.metrics[m];
    return q
      ? (["p50", "p95", "p99"] as const).map(
          (p) => `citadel_vllm_baseline_seconds{metric="${m}",${model},percentile="${p}"} ${q[p]}`,
        )
      : [];
  });
  // Generate servers: output tokens/s; embed and rerank servers: the tokens they take in per second.
  const tokens =
    b.metrics.outputTokensPerSecond !== undefined
      ? `citadel_vllm_baseline_tokens_per_second{${model},tokens="output"} ${b.metrics.outputTokensPerSecond}`
      : `citadel_vllm_baseline_tokens_per_second{${model},tokens="input"} ${b.metrics.totalTokensPerSecond}`;
  return [
    ...gauge(
      "citadel_vllm_baseline_seconds",
      "Latency of the recorded vLLM baseline, by metric (ttft, itl, e2el) and percentile (p50, p95, p99).",
      latency,
    ),
    ...gauge(
      "citadel_vllm_baseline_tokens_per_second",
      "Token throughput of the recorded vLLM baseline: output tokens for a generate server, input tokens for an embed or rerank server.",
      [tokens],
    ),
    ...gauge(
      "citadel_vllm_baseline_requests_per_second",
      "Request throughput of the recorded vLLM baseline.",
      [`citadel_vllm_baseline_requests_per_second{${model}} ${b.metrics.requestThroughput}`],
    ),
    ...gauge("citadel_vllm_baseline_timestamp_seconds", "When the recorded vLLM baseline was measured.", [
      `citadel_vllm_baseline_timestamp_seconds{${model}} ${Math.floor(Date.parse(b.date) / 1000)}`,
    ]),
    "",
  ].join("\n");
}

/**
 * The LLM performance baseline: parsing `vllm bench serve` results, comparing a run with the
 * recorded baseline, the host scripts against a simulated host, and `npm run baseline` end to end
 * with a stand-in `ssh` that runs the real scripts on that simulated host.
 *
 * The fixtures have the shape vLLM's `--save-result` writes (vllm/benchmarks/serve.py); their
 * numbers are plausible for Qwen3-8B on two RTX 4070 Ti SUPER, not measured on citadel.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { dashboardPromQL, dashboards, METRIC_SOURCES, metricsIn } from "../components/ladon";
import {
  baselineFileName,
  compare,
  latestBaseline,
  parseBaseline,
  parseBenchResult,
  renderBaselineMetrics,
  renderComparison,
  type Baseline,
} from "../components/ops/baseline";
import { SimHost } from "./support/hostsim";
import { STACK_FILE } from "./support/lab";
import { requireTool } from "./support/tools";
import { scratchDir } from "./support/scratch";

const ROOT = path.join(__dirname, "..");
const fixture = (name: string) => readFileSync(path.join(__dirname, "fixtures", "baseline", name), "utf8");
const WORKLOAD = { inputLen: 512, outputLen: 128, numPrompts: 200, requestRate: 4, maxConcurrency: 8 };
const TEXTFILE_DIR = "/var/lib/node_exporter/textfile";
const TEXTFILE = `${TEXTFILE_DIR}/citadel_vllm_baseline_chat.prom`;

function baseline(file: string, date: string, over: Partial<Baseline> = {}): Baseline {
  return {
    date,
    model: "Qwen/Qwen3-8B",
    servedModelName: "qwen3-8b",
    kind: "generate",
    workload: WORKLOAD,
    metrics: parseBenchResult(fixture(file)),
    ...over,
  };
}

beforeAll(() => {
  for (const tool of ["jq", "promtool"]) requireTool(tool);
});

describe("reading vllm bench serve results", () => {
  it("takes the percentiles in seconds and the throughput", () => {
    const m = parseBenchResult(fixture("qwen3-8b-run1.json"));
    expect(m.ttft?.p50).toBeCloseTo(0.04762, 5);
    expect(m.ttft?.p95).toBeCloseTo(0.11231, 5);
    expect(m.itl?.p99).toBeCloseTo(0.03941, 5);
    expect(m.e2el.p95).toBeCloseTo(2.38956, 5);
    expect(m.requestThroughput).toBeCloseTo(3.8587, 4);
    expect(m.outputTokensPerSecond).toBeCloseTo(493.91, 2);
    expect(m.totalTokensPerSecond).toBeCloseTo(2469.55, 2);
    expect(m.completed).toBe(200);
  });

  it("takes an embedding run's end-to-end latency and its tokens in per second, and no TTFT or ITL", () => {
    const m = parseBenchResult(fixture("qwen3-embedding-run1.json"), "embed");
    expect(m.e2el.p95).toBeCloseTo(0.04121, 5);
    expect(m.totalTokensPerSecond).toBeCloseTo(2039.14, 2);
    expect(m.requestThroughput).toBeCloseTo(3.9827, 4);
    expect(m).not.toHaveProperty("ttft");
    expect(m).not.toHaveProperty("outputTokensPerSecond");
    // The same file read as a chat run is refused: it has no TTFT.
    expect(() => parseBenchResult(fixture("qwen3-embedding-run1.json"))).toThrow(/no p50_ttft_ms/);
  });

  it("names the missing field and the flags that produce it", () => {
    const r = JSON.parse(fixture("qwen3-8b-run1.json"));
    delete r.p95_itl_ms;
    expect(() => parseBenchResult(JSON.stringify(r))).toThrow(
      /no p95_itl_ms; run vllm bench serve with --percentile-metrics ttft,itl,e2el --metric-percentiles 50,95,99/,
    );
  });
});

describe("comparing with the recorded baseline", () => {
  const run1 = parseBenchResult(fixture("qwen3-8b-run1.json"));
  const run2 = parseBenchResult(fixture("qwen3-8b-run2.json"));
  const slower = parseBenchResult(fixture("qwen3-8b-slower.json"));

  it("lets ordinary run-to-run noise through", () => {
    const rows = compare(run1, run2, 0.15);
    expect(rows.filter((r) => r.regressed)).toEqual([]);
    const ttft = rows.find((r) => r.metric === "ttft p95 (s)");
    expect(ttft?.worseBy).toBeCloseTo(0.06, 6);
    const itl = rows.find((r) => r.metric === "itl p50 (s)");
    expect(itl?.worseBy).toBeCloseTo(-0.03, 6);
    expect(renderComparison(rows, 0.15).split("\n").pop()).toBe("no regression beyond 15%");
  });

  it("fails latency that grew and throughput that shrank beyond the margin, in a table with both", () => {
    const rows = compare(run1, slower, 0.15);
    expect(rows.filter((r) => r.regressed).map((r) => r.metric)).toEqual([
      "ttft p50 (s)",
      "ttft p95 (s)",
      "ttft p99 (s)",
      "itl p50 (s)",
      "itl p95 (s)",
      "itl p99 (s)",
      "e2el p50 (s)",
      "e2el p95 (s)",
      "e2el p99 (s)",
      "requests/s",
      "output tokens/s",
    ]);
    const table = renderComparison(rows, 0.15).split("\n");
    expect(table[0]).toMatch(/^ +metric +baseline +now +worse$/);
    expect(table).toContain("WORSE  ttft p95 (s)          0.112      0.147    31.0%");
    expect(table).toContain("WORSE  output tokens/s         494        412    16.7%");
    expect(table.pop()).toBe("11 metrics regressed beyond 15%");
  });

  it("honours the margin: a wider one lets the smaller slowdowns through", () => {
    const rows = compare(run1, slower, 0.3);
    expect(rows.filter((r) => r.regressed).map((r) => r.metric)).toEqual([
      "ttft p50 (s)",
      "ttft p95 (s)",
      "ttft p99 (s)",
    ]);
    expect(renderComparison(rows, 0.3).split("\n").pop()).toBe("3 metrics regressed beyond 30%");
  });

  it("never calls an improvement a regression", () => {
    const rows = compare(slower, run1, 0);
    expect(rows.every((r) => !r.regressed && r.worseBy < 0)).toBe(true);
  });
});

describe("recorded baselines", () => {
  const old = baseline("qwen3-8b-run1.json", "2026-11-01T10:00:00.000Z");
  const newer = baseline("qwen3-8b-run2.json", "2026-11-20T10:00:00.000Z");
  const otherWorkload = baseline("qwen3-8b-slower.json", "2026-11-21T10:00:00.000Z", {
    workload: { ...WORKLOAD, requestRate: 8 },
  });
  const otherModel = baseline("qwen3-8b-slower.json", "2026-11-21T11:00:00.000Z", { model: "Qwen/Qwen3-4B" });
  const run = { model: "Qwen/Qwen3-8B", servedModelName: "qwen3-8b", workload: WORKLOAD };

  it("compares with the newest baseline of the same model and workload only", () => {
    expect(latestBaseline([newer, otherModel, old, otherWorkload], run)).toBe(newer);
    expect(latestBaseline([otherWorkload, otherModel], run)).toBeUndefined();
  });

  it("matches a workload read back from a file, whatever its key order", () => {
    const reordered = {
      ...old,
      workload: JSON.parse(JSON.stringify(WORKLOAD, Object.keys(WORKLOAD).sort())),
    };
    expect(Object.keys(reordered.workload)).not.toEqual(Object.keys(WORKLOAD));
    expect(latestBaseline([reordered], run)).toBe(reordered);
  });

  it("reads a recorded file back, and names the file and field when it is not one", () => {
    expect(parseBaseline(JSON.stringify(old), "baselines/a.json")).toEqual(old);
    const broken = { ...old, metrics: { ...old.metrics, ttft: { p50: 1, p95: 2 } } };
    expect(() => parseBaseline(JSON.stringify(broken), "baselines/a.json")).toThrow(
      /^baselines\/a.json is not a recorded baseline: metrics\.ttft\.p99: /,
    );
    expect(() => parseBaseline("{", "baselines/b.json")).toThrow(/^baselines\/b.json is not JSON/);
  });

  it("names files by date, then served model, so they sort in time order", () => {
    expect(baselineFileName({ date: "2026-11-21T20:35:12.345Z", servedModelName: "org/model:x" })).toBe(
      "2026-11-21T20-35-12Z-org_model_x.json",
    );
  });
});

describe("the vLLM dashboard", () => {
  it("shows the recorded baseline, dashed, next to the live latency and throughput", () => {
    const model = JSON.parse(dashboards().find((d) => d.uid === "citadel-vllm")!.json);
    const panels = (model.panels as any[]).filter((p) => p.type === "timeseries");
    const byTitle = (t: string) => panels.find((p) => p.title === t);
    for (const [title, metric] of [
      ["Time to first token", "ttft"],
      ["Inter-token latency", "itl"],
      ["End-to-end request latency", "e2el"],
    ]) {
      const panel = byTitle(title as string);
      const exprs = panel.targets.map((t: any) => t.expr);
      expect(exprs).toContain(
        `max(citadel_vllm_baseline_seconds{metric="${metric}",percentile="p95",model=~"$model"})`,
      );
      expect(panel.targets.map((t: any) => t.legendFormat)).toEqual([
        "p50",
        "p95",
        "p99",
        "baseline p50",
        "baseline p95",
        "baseline p99",
      ]);
      expect(panel.fieldConfig.overrides).toEqual([
        {
          matcher: { id: "byRegexp", options: "^baseline " },
          properties: [{ id: "custom.lineStyle", value: { dash: [10, 10], fill: "dash" } }],
        },
      ]);
    }
    const tokens = byTitle("Tokens per second").targets.map((t: any) => t.expr);
    expect(tokens.flatMap(metricsIn)).toContain("citadel_vllm_baseline_tokens_per_second");
  });
});

describe("the baseline scripts on a host", () => {
  const params = {
    MODEL: "Qwen/Qwen3-8B",
    SERVED: "qwen3-8b",
    CONTAINER: "vllm-chat",
    PORT: 8000,
    INPUT_LEN: 512,
    OUTPUT_LEN: 128,
    NUM_PROMPTS: 200,
    REQUEST_RATE: 4,
    MAX_CONCURRENCY: 8,
  };

  it("runs vllm bench serve in the container with the workload as argv and prints its result", () => {
    const h = new SimHost();
    h.set("health-vllm-chat", "healthy");
    h.set("bench-result.json", fixture("qwen3-8b-run1.json"));
    const run = h.runStandalone("ops/scripts/baseline.sh", params);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout).p95_ttft_ms).toBeCloseTo(112.306, 3);
    const argv = h.get("bench-args").split("\n");
    expect(argv.slice(0, 2)).toEqual(["exec", "vllm-chat"]);
    expect(argv[argv.indexOf("--backend") + 1]).toBe("vllm");
    const flag = (f: string) => argv[argv.indexOf(f) + 1];
    expect(flag("--model")).toBe("Qwen/Qwen3-8B");
    expect(flag("--served-model-name")).toBe("qwen3-8b");
    expect(flag("--base-url")).toBe("http://127.0.0.1:8000");
    expect(flag("--dataset-name")).toBe("random");
    expect(flag("--random-input-len")).toBe("512");
    expect(flag("--random-output-len")).toBe("128");
    expect(flag("--num-prompts")).toBe("200");
    expect(flag("--request-rate")).toBe("4");
    expect(flag("--max-concurrency")).toBe("8");
    expect(flag("--percentile-metrics")).toBe("ttft,itl,e2el");
    expect(argv).toContain("--ignore-eos");
    // The key is read inside the container; nothing on the host side carries it.
    expect(argv.slice(2, 4)).toEqual(["sh", "-c"]);
    expect(argv[4]).toContain('OPENAI_API_KEY="$VLLM_API_KEY" exec vllm bench serve "$@"');
  });

  it("refuses when vLLM is not healthy, and fails when the benchmark or every request fails", () => {
    const h = new SimHost();
    h.set("bench-result.json", fixture("qwen3-8b-run1.json"));
    const down = h.runStandalone("ops/scripts/baseline.sh", params);
    expect(down.status).toBe(1);
    expect(down.stderr).toContain("the vllm-chat container is not running and healthy; run pulumi up first");
    expect(down.calls.some((c) => c.startsWith("docker exec"))).toBe(false);

    h.set("health-vllm-chat", "healthy");
    h.set("bench-fails", "");
    expect(h.runStandalone("ops/scripts/baseline.sh", params).status).not.toBe(0);

    h.set(
      "bench-result.json",
      JSON.stringify({ ...JSON.parse(fixture("qwen3-8b-run1.json")), completed: 0 }),
    );
    spawnSync("rm", [path.join(h.state, "bench-fails")]);
    const none = h.runStandalone("ops/scripts/baseline.sh", params);
    expect(none.status).toBe(1);
    expect(none.stderr).toContain("no request completed");
  });

  it("asks an embed server for embeddings of the same input length, measuring end-to-end latency", () => {
    const h = new SimHost();
    h.set("health-vllm-embed", "healthy");
    h.set("bench-result.json", fixture("qwen3-embedding-run1.json"));
    const run = h.runStandalone("ops/scripts/baseline.sh", {
      ...params,
      CONTAINER: "vllm-embed",
      KIND: "embed",
      MODEL: "Qwen/Qwen3-Embedding-0.6B",
      SERVED: "qwen3-embedding-0.6b",
    });
    expect(run.status).toBe(0);
    const argv = h.get("bench-args").split("\n");
    const flag = (f: string) => argv[argv.indexOf(f) + 1];
    expect(argv.slice(0, 2)).toEqual(["exec", "vllm-embed"]);
    expect(flag("--backend")).toBe("openai-embeddings");
    expect(flag("--endpoint")).toBe("/v1/embeddings");
    expect(flag("--random-input-len")).toBe("512");
    expect(flag("--percentile-metrics")).toBe("e2el");
    expect(argv).not.toContain("--ignore-eos");
    expect(argv).not.toContain("--random-output-len");
  });

  it("writes the metrics atomically and leaves them alone when they have not changed", () => {
    const h = new SimHost();
    const metrics = renderBaselineMetrics(baseline("qwen3-8b-run1.json", "2026-11-21T20:35:12.345Z"));
    const vars = { METRICS: metrics.trimEnd(), TEXTFILE_DIR, SERVER: "chat" };
    const first = h.run("ops/scripts/baseline-metrics.sh", vars);
    expect(first.status).toBe(0);
    expect(first.stdout).toBe(`changed: wrote ${TEXTFILE}\ndone: baseline metrics (1 changes)\n`);
    expect(h.read(TEXTFILE)).toBe(metrics);
    const second = h.run("ops/scripts/baseline-metrics.sh", vars);
    expect(second.status).toBe(0);
    expect(second.stdout).toBe("no changes: baseline metrics already converged\n");
    expect(h.read(TEXTFILE)).toBe(metrics);
    expect(readdirSync(path.join(h.root, "var/lib/node_exporter/textfile"))).toEqual([
      "citadel_vllm_baseline_chat.prom",
    ]);
  });

  it("removes the single file it wrote before servers, once", () => {
    const h = new SimHost();
    h.file(`${TEXTFILE_DIR}/citadel_vllm_baseline.prom`, "stale\n");
    h.file(`${TEXTFILE_DIR}/other.prom`, "not ours\n");
    const metrics = renderBaselineMetrics(baseline("qwen3-8b-run1.json", "2026-11-21T20:35:12.345Z"));
    const run = h.run("ops/scripts/baseline-metrics.sh", {
      METRICS: metrics.trimEnd(),
      TEXTFILE_DIR,
      SERVER: "chat",
    });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(
      `changed: removed the single-server baseline file ${h.root}${TEXTFILE_DIR}/citadel_vllm_baseline.prom`,
    );
    expect(readdirSync(path.join(h.root, "var/lib/node_exporter/textfile")).sort()).toEqual([
      "citadel_vllm_baseline_chat.prom",
      "other.prom",
    ]);
  });
});

describe("the baseline as textfile metrics", () => {
  const b = baseline("qwen3-8b-run1.json", "2026-11-21T20:35:12.345Z");
  const prom = renderBaselineMetrics(b);

  it("carries every percentile and the throughput, in a format promtool accepts", () => {
    expect(prom).toContain(
      'citadel_vllm_baseline_seconds{metric="ttft",model="qwen3-8b",percentile="p95"} 0.11230641815015095',
    );
    expect(prom).toContain(
      'citadel_vllm_baseline_seconds{metric="e2el",model="qwen3-8b",percentile="p50"} 1.8912280129999817',
    );
    expect(prom).toContain(
      'citadel_vllm_baseline_tokens_per_second{model="qwen3-8b",tokens="output"} 493.9098772012047',
    );
    expect(prom).toContain(
      `citadel_vllm_baseline_timestamp_seconds{model="qwen3-8b"} ${Date.parse("2026-11-21T20:35:12Z") / 1000}`,
    );
    expect(prom.match(/^citadel_vllm_baseline_seconds/gm)).toHaveLength(9);
    const check = spawnSync("promtool", ["check", "metrics"], { input: prom, encoding: "utf8" });
    expect(check.stdout + check.stderr).toBe("");
  });

  it("writes exactly the metrics registered for it, and every series the dashboard asks for", () => {
    const written = new Set(
      prom
        .split("\n")
        .filter((l) => l && !l.startsWith("#"))
        .map((l) => l.split("{")[0]),
    );
    const registered = METRIC_SOURCES.find((s) => s.source.includes("renderBaselineMetrics"))?.metrics;
    expect([...written].sort()).toEqual([...(registered ?? [])].sort());
    const asked = dashboardPromQL()
      .map((q) => /citadel_vllm_baseline_seconds\{metric="(\w+)",percentile="(p\d+)"/.exec(q.expr))
      .filter((m): m is RegExpExecArray => m !== null);
    expect(asked).toHaveLength(9);
    for (const [, metric, percentile] of asked)
      expect(prom).toContain(
        `citadel_vllm_baseline_seconds{metric="${metric}",model="qwen3-8b",percentile="${percentile}"}`,
      );
  });
});

describe("npm run baseline", () => {
  /**
   * A stand-in `ssh` that records its arguments and runs the remote command on the simulated
   * host, with a `sudo` that drops `-n`: the real scripts run, only the transport is faked.
   */
  function lab(result: string): { h: SimHost; env: NodeJS.ProcessEnv; log: string; cwd: string } {
    const h = new SimHost();
    h.set("health-vllm-chat", "healthy");
    h.set("health-vllm-embed", "healthy");
    h.set("bench-result.json", fixture(result));
    h.set("bench-result-vllm-embed.json", fixture("qwen3-embedding-run1.json"));
    const dir = scratchDir("citadel-ssh-");
    const log = path.join(dir, "ssh.log");
    writeFileSync(
      path.join(dir, "ssh"),
      `#!/usr/bin/env bash\nprintf '%s\\n' "$@" >> '${log}'\nexec bash -c "\${*: -1}"\n`,
    );
    writeFileSync(path.join(dir, "sudo"), '#!/usr/bin/env bash\n[ "$1" = -n ] && shift\nexec "$@"\n');
    chmodSync(path.join(dir, "ssh"), 0o755);
    chmodSync(path.join(dir, "sudo"), 0o755);
    const env = {
      ...process.env,
      PATH: `${dir}:${h.bin}:${process.env.PATH}`,
      SHIM_STATE: h.state,
      CITADEL_ROOT: h.root,
    };
    return { h, env, log, cwd: scratchDir("citadel-baseline-") };
  }
  const run = (t: { env: NodeJS.ProcessEnv; cwd: string }, ...args: string[]) =>
    spawnSync(
      path.join(ROOT, "node_modules", ".bin", "tsx"),
      [path.join(ROOT, "tools", "baseline.ts"), "--config", STACK_FILE, "--dir", "baselines", ...args],
      { cwd: t.cwd, encoding: "utf8", env: t.env, timeout: 60_000 },
    );
  const recorded = (cwd: string) => readdirSync(path.join(cwd, "baselines")).sort();
  /** A baseline recorded earlier, from the first fixture run, with the stack's workload. */
  function seed(cwd: string): string {
    const b = baseline("qwen3-8b-run1.json", "2026-11-01T10:00:00.000Z");
    mkdirSync(path.join(cwd, "baselines"));
    const name = baselineFileName(b);
    writeFileSync(path.join(cwd, "baselines", name), JSON.stringify(b));
    return name;
  }

  it("records the first run as the baseline and writes it on the vLLM host as metrics", () => {
    const t = lab("qwen3-8b-run1.json");
    const result = run(t, "--server", "chat");
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(
      "benchmarking servers.chat (qwen3-8b, generate) on citadel: 200 prompts of 512 tokens in, 128 out, 4 req/s, at most 8 at once",
    );
    expect(result.stdout).toContain(
      "no baseline recorded yet for qwen3-8b with this workload: this run becomes it",
    );
    const files = recorded(t.cwd);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ-qwen3-8b\.json$/);
    const text = readFileSync(path.join(t.cwd, "baselines", files[0]!), "utf8");
    const saved = parseBaseline(text, files[0]!);
    expect(saved.workload).toEqual(WORKLOAD);
    expect(saved.metrics).toEqual(parseBenchResult(fixture("qwen3-8b-run1.json")));
    expect(text).toBe(`${JSON.stringify(JSON.parse(text), null, 2)}\n`);
    expect(Object.keys(JSON.parse(text))).toEqual([
      "date",
      "kind",
      "metrics",
      "model",
      "servedModelName",
      "workload",
    ]);
    expect(t.h.read(TEXTFILE)).toContain(
      'citadel_vllm_baseline_tokens_per_second{model="qwen3-8b",tokens="output"} 493.9098772012047',
    );
    const ssh = readFileSync(t.log, "utf8").split("\n");
    expect(ssh).toEqual(expect.arrayContaining(["StrictHostKeyChecking=yes", "hxadmin@192.168.10.29"]));
  });

  it("benchmarks every server without --server: the embed server by its embedding throughput", () => {
    const t = lab("qwen3-8b-run1.json");
    const result = run(t);
    // With its stderr, so that a failure says why (it failed once with exit 4 under load 8).
    expect({ status: result.status, stderr: result.status === 0 ? "" : result.stderr }).toEqual({
      status: 0,
      stderr: "",
    });
    expect(result.stdout).toContain(
      "benchmarking servers.embed (qwen3-embedding-0.6b, embed) on citadel: 200 embed requests of 512 tokens, 4 req/s, at most 8 at once",
    );
    const files = recorded(t.cwd);
    expect(files.map((f) => f.replace(/^.*Z-/, ""))).toEqual(["qwen3-8b.json", "qwen3-embedding-0.6b.json"]);
    const embed = parseBaseline(readFileSync(path.join(t.cwd, "baselines", files[1]!), "utf8"), files[1]!);
    expect(embed.kind).toBe("embed");
    expect(embed.metrics.totalTokensPerSecond).toBeCloseTo(2039.14, 2);
    const prom = t.h.read(`${TEXTFILE_DIR}/citadel_vllm_baseline_embed.prom`);
    expect(prom).toContain(
      'citadel_vllm_baseline_tokens_per_second{model="qwen3-embedding-0.6b",tokens="input"} 2039.1363226',
    );
    expect(prom.match(/^citadel_vllm_baseline_seconds/gm)).toHaveLength(3);
    const check = spawnSync("promtool", ["check", "metrics"], { input: prom, encoding: "utf8" });
    expect(check.stdout + check.stderr).toBe("");
    const unknown = run(t, "--server", "rerank");
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("--server rerank: no such server in citadel:vllm.servers (chat, embed)");
  });

  it("passes a run within the margin, records it, and shows the comparison", () => {
    const t = lab("qwen3-8b-run2.json");
    const seeded = seed(t.cwd);
    const result = run(t, "--server", "chat");
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`compared with ${path.join("baselines", seeded)}:`);
    expect(result.stdout).toMatch(/^ok {5}ttft p95 \(s\) +0\.112 +0\.119 +6\.0%$/m);
    expect(result.stdout).toContain("no regression beyond 15%");
    expect(recorded(t.cwd)).toHaveLength(2);
  });

  it("fails a regression with the table, keeps the run aside, and records nothing", () => {
    const t = lab("qwen3-8b-slower.json");
    const seeded = seed(t.cwd);
    const result = run(t, "--server", "chat");
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/^WORSE {2}ttft p95 \(s\) +0\.112 +0\.147 +31\.0%$/m);
    expect(result.stdout).toContain("11 metrics regressed beyond 15%");
    expect(result.stdout).toContain("Run with --accept to make it the new baseline.");
    expect(recorded(t.cwd)).toEqual([seeded]);
    const kept = readdirSync(path.join(t.cwd, "out"));
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatch(/^rejected-.*-qwen3-8b\.json$/);
    expect(t.h.exists(TEXTFILE)).toBe(false);
  });

  it("records a regression as the new baseline with --accept", () => {
    const t = lab("qwen3-8b-slower.json");
    seed(t.cwd);
    const result = run(t, "--accept", "--server", "chat");
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("11 metrics regressed beyond 15%");
    expect(recorded(t.cwd)).toHaveLength(2);
    expect(t.h.read(TEXTFILE)).toContain(
      'citadel_vllm_baseline_tokens_per_second{model="qwen3-8b",tokens="output"} 411.591999912',
    );
  });

  it("stops before benchmarking when a recorded file is broken, and rejects unknown flags", () => {
    const t = lab("qwen3-8b-run1.json");
    mkdirSync(path.join(t.cwd, "baselines"));
    writeFileSync(path.join(t.cwd, "baselines", "x.json"), "{}");
    const broken = run(t);
    // 4: something went wrong; 1 is kept for a regression, 3 for a lab that cannot be reached.
    expect(broken.status).toBe(4);
    expect(broken.stderr).toMatch(/^baseline: baselines\/x.json is not a recorded baseline: date: /);
    expect(() => readFileSync(t.log)).toThrow();
    const usage = run(t, "--acept");
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain("usage: npm run baseline --");
  });

  it("exits 3, not 1 (a regression), when the vLLM host cannot be reached over SSH", () => {
    const t = lab("qwen3-8b-run1.json");
    // ssh(1) exits 255 when it cannot connect: what a lab that is down gives.
    const down = scratchDir("citadel-ssh-down-");
    writeFileSync(
      path.join(down, "ssh"),
      '#!/usr/bin/env bash\necho "ssh: connect to host 192.168.10.29 port 22: No route to host" >&2\nexit 255\n',
    );
    chmodSync(path.join(down, "ssh"), 0o755);
    const result = run({ ...t, env: { ...t.env, PATH: `${down}:${t.env.PATH}` } }, "--server", "chat");
    expect(result.status).toBe(3);
    // The benchmark's stderr goes straight to the terminal (its progress), ssh's message with it.
    expect(result.stderr).toContain("ssh: connect to host 192.168.10.29 port 22: No route to host");
    expect(result.stderr).toContain("baseline: cannot reach citadel (192.168.10.29)");
    expect(() => readdirSync(path.join(t.cwd, "baselines"))).toThrow();
  });
});

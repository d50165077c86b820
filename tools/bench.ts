/**
 * `npm run bench`: how the lab's plan performs. Synth time (median of several runs), resource and
 * remote-command counts, the critical path, and the blast-radius table with what each change
 * touches. Measures; it asserts nothing (the tests do).
 */
import "../lib/compile-cache";
import { performance } from "node:perf_hooks";
import type { SynthResult } from "../lib/synth/harness";
import { parseFlags } from "../lib/cli";
import { readStackFile, StackFileError } from "../lib/synth/stackfile";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  ciTimesFile,
  coldBuildSeconds,
  median,
  mutationScores,
  readCiRuns,
  tierMedian,
  timeNpmStart,
  upstreamBuildSeconds,
  type CiRun,
} from "../lib/loop";

export const HELP = {
  usage: "npm run bench -- [--config <stack yaml>] [--runs <n>] [--start-runs <n>]",
  flags: {
    config: "the stack file to measure",
    runs: "how many in-process synths the median synth time is taken over (after one warm-up)",
    "start-runs": "how many whole `npm start` processes the median start time is taken over",
  },
  exits: {
    0: "measured and printed (bench asserts nothing)",
    2: "bad flags or stack config (the message names the key)",
    1: "anything else went wrong (the message says what)",
  },
};

/** Progress on stderr, so the tables on stdout stay clean. */
const progress = (line: string) => console.error(`bench: ${line}`);

async function main(): Promise<void> {
  const args = parseFlags(
    process.argv.slice(2),
    { config: "Pulumi.citadel.yaml", runs: "7", "start-runs": "5" },
    [],
    HELP,
  );
  const stackFile = args.config;
  const runs = Number(args.runs);
  if (!Number.isInteger(runs) || runs < 1)
    throw new StackFileError(`--runs takes a whole number of at least 1, not ${args.runs}`);
  const stack = readStackFile(stackFile);
  // The program and Pulumi's runtime load only now: --help and a bad flag answer without them.
  const [
    { synthesize },
    { runLab },
    { BLAST_RADIUS, blastRadiusRows, BLAST_HEAD, criticalPath },
    { runDiff },
  ] = await Promise.all([
    import("../lib/synth/harness.js"),
    import("../lib/synth/program.js"),
    import("../lib/convergence.js"),
    import("../lib/diff/run.js"),
  ]);
  progress(`synth of ${stackFile}: warm-up, then ${runs} timed runs…`);
  await synthesize({ stack, program: runLab }); // warm-up: module loading is not synth time
  const times: number[] = [];
  let lab: SynthResult | undefined;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    lab = await synthesize({ stack, program: runLab });
    times.push(performance.now() - t0);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] as number;
  const result = lab as SynthResult;
  const custom = result.resources.filter((r) => r.custom);
  const remote = custom.filter((r) => r.type === "command:remote:Command").length;
  const cp = criticalPath(result);

  // npm run diff between two refs (HEAD and the working tree), warm: the ref's worktree shares this
  // checkout's dependencies when the lockfiles are equal; its own npm start runs meanwhile.
  progress("npm run diff, HEAD against the working tree…");
  const d0 = performance.now();
  await runDiff({ base: "HEAD", config: stackFile });
  const diffSeconds = (performance.now() - d0) / 1000;

  const startRuns = Number(args["start-runs"]);
  if (!Number.isInteger(startRuns) || startRuns < 1)
    throw new StackFileError(`--start-runs takes a whole number of at least 1, not ${args["start-runs"]}`);
  progress(`npm start as a whole process, ${startRuns} runs…`);
  const loop = loopRows(stackFile, startRuns);

  const rows = await blastRadiusRows(stackFile, result, (i, change) =>
    progress(`blast radius ${i + 1} of ${BLAST_RADIUS.length}: ${change}…`),
  );

  console.log(`citadel bench (${stackFile}, ${runs} runs after a warm-up)\n`);
  console.log(
    table(
      ["measure", "value"],
      [
        [
          "synth time, median",
          `${median.toFixed(0)} ms (min ${sorted[0]?.toFixed(0)}, max ${sorted[sorted.length - 1]?.toFixed(0)})`,
        ],
        ["resources", `${result.resources.length} (${custom.length} provider resources)`],
        ["remote commands", String(remote)],
        [
          "critical path",
          `${cp.length} remote steps in a chain of ${cp.chain.length} resources: ${cp.chain.join(" -> ")}`,
        ],
        ["npm run diff, HEAD vs working tree", `${diffSeconds.toFixed(1)} s`],
      ],
    ),
  );
  console.log(`\nthe development loop (medians; .ci/run records its tiers in ${ciTimesFile()})\n`);
  console.log(table(["measure", "value"], loop));
  console.log("\nblast radius of single-knob changes\n");
  console.log(table(BLAST_HEAD, rows));
}

export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] as number)).join(" | ")} |`;
  return [line(head), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

/** `npm start` timed here, and the tiers that `.ci/run` recorded of its own runs. */
function loopRows(stackFile: string, startRuns: number): string[][] {
  const out = mkdtempSync(path.join(tmpdir(), "citadel-bench-"));
  let start: number[];
  try {
    start = timeNpmStart(path.join(__dirname, ".."), stackFile, out, startRuns);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  const runs = readCiRuns(ciTimesFile());
  const recorded = (tier: keyof CiRun["seconds"], cold?: boolean) => {
    const m = tierMedian(runs, tier, cold);
    return m
      ? `${fmt(m.seconds)} (${m.runs} run${m.runs === 1 ? "" : "s"})`
      : "not recorded yet: run bash .ci/run";
  };
  const builds = upstreamBuildSeconds();
  const cold = coldBuildSeconds(builds);
  return [
    ["npm start, whole process", `${fmt(median(start) as number)} (${startRuns} runs)`],
    ["npm test (.ci/run)", recorded("test")],
    ["upstream builds, cold (.ci/run)", recorded("upstream", true)],
    [
      "upstream builds, cold, in their lanes (cache records)",
      cold
        ? `${fmt(cold.seconds)}: the longest of ${cold.lanes.map((l) => `${l.names.join(" + ")} ${fmt(l.seconds)}`).join(", ")}`
        : "not every build is cached: run npm run upstream",
    ],
    [
      "upstream builds, each (cache records)",
      builds.length > 0 ? builds.map((b) => `${b.name} ${fmt(b.seconds)}`).join(", ") : "none cached",
    ],
    ["conformance tier, warm (.ci/run)", recorded("conformance", false)],
    [".ci/run, cold", recorded("total", true)],
    [".ci/run, warm", recorded("total", false)],
    [
      "mutation score (each file's last npm run mutate)",
      mutationScores(path.join(__dirname, "..", "out", "mutation", "mutation.json"))
        .map(
          (m) =>
            `${m.file} ${m.score.toFixed(1)}% (${m.killed}/${m.total}${m.run ? ` at ${m.run.commit}` : ""}${m.run?.testFiles ? `, tests: ${m.run.testFiles.join(" ")}` : ""}${m.untested ? `, ${m.untested} survived untested` : ""})`,
        )
        .join(", ") || "not run yet: npm run mutate",
    ],
  ];
}

function fmt(seconds: number): string {
  return seconds >= 120 ? `${(seconds / 60).toFixed(1)} min` : `${seconds.toFixed(1)} s`;
}

if (require.main === module)
  main().catch((err: unknown) => {
    if (err instanceof StackFileError) {
      console.error(err.message);
      process.exit(2);
    }
    console.error(err);
    process.exit(1);
  });

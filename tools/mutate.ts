/**
 * `npm run mutate`: StrykerJS over the modules listed in stryker.config.json (`-- --mutate <file>`
 * narrows it; every argument goes to `stryker run`). Stryker writes one report per run
 * (`jsonReporter.fileName`); this merges that run's files into the kept report,
 * `out/mutation/mutation.json`, each with the commit and date of the run that measured it, so the
 * scores of separate per-module runs add up. Stryker's own `--incremental` does not: it writes
 * only the files of the current run (`mutationTestReport(results)` in
 * @stryker-mutator/core@10.0.0 dist/src/reporters/mutation-test-report-helper.js). `npm run bench`
 * reads the kept report.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { mergeMutationRun, mutationScores, type MutationReport } from "../lib/loop";

const ROOT = path.join(__dirname, "..");
/** The kept report that `npm run bench` reads. */
export const MUTATION_LEDGER = path.join(ROOT, "out", "mutation", "mutation.json");

/** The commit the worktree is at, with `-dirty` when it has uncommitted changes. */
function commitOf(root: string): string {
  const git = (...args: string[]) => execFileSync("git", ["-C", root, ...args], { encoding: "utf8" }).trim();
  return git("rev-parse", "--short=12", "HEAD") + (git("status", "--porcelain") ? "-dirty" : "");
}

/** Where a narrowed run's Stryker config is written (out/ is ours and gitignored). */
const NARROWED_CONFIG = path.join(ROOT, "out", "mutation", "stryker.narrowed.json");

/**
 * `--testFiles a,b` (or `--testFiles=a,b`) taken out of Stryker's arguments. Stryker 10.0.0 uses
 * `--testFiles` only for its dry run: a mutant's run gets `--findRelatedTests` on the mutated file
 * and a test-name filter, not the files (`mutantRun` in @stryker-mutator/jest-runner@10.0.0
 * dist/src/jest-test-runner.js). So every mutant loaded every test file related to the module
 * (42 for components/plan/vram.ts, as most tests synthesise the lab: 10 s a mutant where the
 * narrowed test takes 1 s), and a static mutant ran with the paths as its test-name filter, which
 * matches no test. `narrowedConfig` narrows jest itself instead.
 */
export function splitTestFiles(argv: string[]): { testFiles: string[]; rest: string[] } {
  const rest: string[] = [];
  const testFiles: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--testFiles") testFiles.push(...(argv[++i] ?? "").split(",").filter(Boolean));
    else if (a.startsWith("--testFiles="))
      testFiles.push(...a.slice("--testFiles=".length).split(",").filter(Boolean));
    else rest.push(a);
  }
  return { testFiles, rest };
}

/**
 * The Stryker config of a run narrowed to `testFiles`: jest's `testMatch` is those files and
 * nothing finds related tests, so each mutant runs only them (still filtered by Stryker's per-test
 * coverage), and a static mutant runs all of them.
 */
export function narrowedConfig<C extends { jest: { enableFindRelatedTests?: boolean; config?: object } }>(
  config: C,
  testFiles: string[],
): C {
  return {
    ...config,
    jest: {
      ...config.jest,
      enableFindRelatedTests: false,
      config: {
        ...config.jest.config,
        testMatch: testFiles.map((f) => `<rootDir>/${path.posix.normalize(f)}`),
      },
    },
  };
}

export function main(argv: string[]): number {
  const config = JSON.parse(readFileSync(path.join(ROOT, "stryker.config.json"), "utf8")) as {
    jsonReporter: { fileName: string };
    jest: { enableFindRelatedTests?: boolean; config?: object };
  };
  const { testFiles, rest } = splitTestFiles(argv);
  const missing = testFiles.filter((f) => !existsSync(path.join(ROOT, f)));
  if (missing.length > 0) {
    console.error(
      `mutate: --testFiles names ${missing.join(", ")}, which do not exist: give test files by their path from the repository root, e.g. --testFiles tests/vram.test.ts`,
    );
    return 2;
  }
  if (rest.includes("--incremental"))
    console.error(
      "mutate: warning: --incremental keeps a surviving static mutant's result while its code is unchanged, even when tests were added since: a static mutant has no covering tests to compare (mutantCanBeReused in @stryker-mutator/core@10.0.0 dist/src/mutants/incremental-differ.js). After adding tests, measure without it.",
    );
  const strykerArgs = ["run"];
  if (testFiles.length > 0) {
    mkdirSync(path.dirname(NARROWED_CONFIG), { recursive: true });
    writeFileSync(NARROWED_CONFIG, JSON.stringify(narrowedConfig(config, testFiles), null, 2) + "\n");
    strykerArgs.push(path.relative(ROOT, NARROWED_CONFIG));
  }
  const runFile = path.join(ROOT, config.jsonReporter.fileName);
  const started = Date.now();
  const commit = commitOf(ROOT);
  const stryker = spawnSync(path.join(ROOT, "node_modules", ".bin", "stryker"), [...strykerArgs, ...rest], {
    cwd: ROOT,
    stdio: "inherit",
  });
  if (stryker.error) throw stryker.error;
  if (stryker.status !== 0) return stryker.status ?? 1;
  if (argv.includes("--help") || argv.includes("-h")) return 0;
  if (!existsSync(runFile) || statSync(runFile).mtimeMs < started) {
    console.error(
      `mutate: stryker run exited 0 but wrote no report to ${config.jsonReporter.fileName}: ` +
        `keep "json" in stryker.config.json's reporters`,
    );
    return 4;
  }
  const run = JSON.parse(readFileSync(runFile, "utf8")) as MutationReport;
  const kept = existsSync(MUTATION_LEDGER)
    ? (JSON.parse(readFileSync(MUTATION_LEDGER, "utf8")) as MutationReport)
    : undefined;
  const merged = mergeMutationRun(kept, run, {
    commit,
    date: new Date(started).toISOString(),
    ...(testFiles.length > 0 ? { testFiles } : {}),
  });
  mkdirSync(path.dirname(MUTATION_LEDGER), { recursive: true });
  writeFileSync(MUTATION_LEDGER, JSON.stringify(merged, null, 2) + "\n");
  console.log(`mutate: kept in ${path.relative(ROOT, MUTATION_LEDGER)} (npm run bench reports it):`);
  for (const m of mutationScores(MUTATION_LEDGER))
    console.log(
      `  ${m.file} ${m.score.toFixed(1)}% (${m.killed}/${m.total}) ${m.run ? `at ${m.run.commit}, ${m.run.date}` : "run not recorded"}${m.run?.testFiles ? `, tests: ${m.run.testFiles.join(" ")}` : ""}${m.untested ? `; ${m.untested} survived with no test run (see lib/loop.ts mutationScores)` : ""}`,
    );
  return 0;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));

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

export function main(argv: string[]): number {
  const config = JSON.parse(readFileSync(path.join(ROOT, "stryker.config.json"), "utf8")) as {
    jsonReporter: { fileName: string };
  };
  const runFile = path.join(ROOT, config.jsonReporter.fileName);
  const started = Date.now();
  const commit = commitOf(ROOT);
  const stryker = spawnSync(path.join(ROOT, "node_modules", ".bin", "stryker"), ["run", ...argv], {
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
  const merged = mergeMutationRun(kept, run, { commit, date: new Date(started).toISOString() });
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

/**
 * The development loop's figures, for `npm run bench`: `npm start` as a whole process, and what
 * `.ci/run` recorded of its own tiers (it appends one line per run to `ciTimesFile()`, outside the
 * repo). Medians, so that one run on a shared machine does not set the figure.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import type { PinName } from "../components/pins";
import { buildLanes, cacheVersion, entryName, UPSTREAM } from "./upstream";
import { cacheRoot, entryDir, readEntry } from "./upstream/cache";

/** One `.ci/run`, as it records itself: whether its upstream cache started empty, and seconds per tier. */
export interface CiRun {
  at: string;
  /** True when the upstream build cache had no complete entry when the run started. */
  cold: boolean;
  /** The run's exit status: only runs that passed (0) count towards the figures. */
  status?: number;
  seconds: Partial<Record<"install" | "test" | "upstream" | "conformance" | "e2e" | "total", number>>;
}

/** `$XDG_CACHE_HOME/citadel/ci-times.jsonl` (or under ~/.cache), where `.ci/run` appends its times. */
export function ciTimesFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME ? env.XDG_CACHE_HOME : path.join(homedir(), ".cache");
  return path.join(base, "citadel", "ci-times.jsonl");
}

/** The recorded runs; lines that are not a run are skipped (a killed run may leave half a line). */
export function readCiRuns(file: string): CiRun[] {
  if (!existsSync(file)) return [];
  const runs: CiRun[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as CiRun;
      if (typeof r.cold === "boolean" && r.seconds && typeof r.seconds === "object") runs.push(r);
    } catch {
      // half a line from a killed run
    }
  }
  return runs;
}

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Median seconds of one tier over the recorded runs that match `cold`, with how many there were. */
export function tierMedian(
  runs: readonly CiRun[],
  tier: keyof CiRun["seconds"],
  cold?: boolean,
): { seconds: number; runs: number } | undefined {
  const values = runs
    .filter((r) => (r.status ?? 0) === 0 && (cold === undefined || r.cold === cold))
    .map((r) => r.seconds[tier])
    .filter((v): v is number => typeof v === "number");
  const m = median(values);
  return m === undefined ? undefined : { seconds: m, runs: values.length };
}

/** Wall seconds of `npm start` as a user runs it (a new process each time), `runs` times. */
export function timeNpmStart(root: string, config: string, outDir: string, runs: number): number[] {
  const tsx = path.join(root, "node_modules", ".bin", "tsx");
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(tsx, ["tools/synth.ts", "--config", config, "--out", outDir], {
      cwd: root,
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`npm start exited ${r.status}: ${r.stderr.trim()}`);
    times.push((performance.now() - t0) / 1000);
  }
  return times;
}

/**
 * Seconds each upstream build at the current pins and recipes took, from its cache entry's record
 * (lib/upstream/cache.ts); a program whose entry is not built yet is left out.
 */
export function upstreamBuildSeconds(root: string = cacheRoot()): { name: PinName; seconds: number }[] {
  return UPSTREAM.flatMap((name) => {
    const info = readEntry(entryDir(root, entryName(name), cacheVersion(name)));
    return info ? [{ name, seconds: info.seconds }] : [];
  });
}

/**
 * The cold upstream build as `.ci/run` runs it (ensureAll's lanes side by side, each lane's builds
 * one after another), from the builds' recorded seconds: each lane's sum, and the longest of them.
 * The records were themselves made in those lanes, sharing the cores. Undefined while a build at
 * the current pins has no record.
 */
export function coldBuildSeconds(
  builds: readonly { name: PinName; seconds: number }[],
  names: readonly PinName[] = UPSTREAM,
): { seconds: number; lanes: { names: PinName[]; seconds: number }[] } | undefined {
  const recorded = new Map(builds.map((b) => [b.name, b.seconds]));
  if (names.some((n) => !recorded.has(n))) return undefined;
  const lanes = buildLanes(names)
    .filter((lane) => lane.length > 0)
    .map((lane) => ({ names: lane, seconds: lane.reduce((s, n) => s + (recorded.get(n) as number), 0) }));
  return { seconds: Math.max(...lanes.map((l) => l.seconds)), lanes };
}

/** One StrykerJS JSON report (mutation-testing-report-schema), as far as the ledger reads it. */
export interface MutationReport {
  schemaVersion: string;
  files: Record<string, MutationFile>;
  testFiles?: Record<string, { tests: { id: string; name: string }[] }>;
}

/** A mutated file in a report; in the ledger it also carries the run that measured it. */
export interface MutationFile {
  mutants: {
    status: string;
    killedBy?: string[];
    coveredBy?: string[];
    testsCompleted?: number;
    [key: string]: unknown;
  }[];
  [key: string]: unknown;
  /** Ledger only: the commit (with `-dirty` when the worktree had changes) and date of the run. */
  run?: MutationRun;
}

/** The run that measured a file: which code, when, and against which tests. */
export interface MutationRun {
  commit: string;
  date: string;
  /**
   * The run's `--testFiles` when it was narrowed to them: the score counts only what those tests
   * kill. @default every test jest finds related to the file
   */
  testFiles?: string[];
}

/**
 * The kept report (`out/mutation/mutation.json`) with one run's files merged in by path. A file the
 * run measured replaces its kept entry whole (its source may have changed) and carries the run's
 * commit and date (and its `--testFiles`, when it was narrowed to them); files the run did not measure keep theirs, so scores of `npm run mutate -- --mutate
 * <file>` runs add up. Stryker numbers the tests anew in each run, so the test ids in `killedBy` and
 * `coveredBy` are replaced by the tests' names (`file › name`), which mean the same in every run.
 */
export function mergeMutationRun(
  kept: MutationReport | undefined,
  run: MutationReport,
  stamp: MutationRun,
): MutationReport {
  const { testFiles = [], ...when } = stamp;
  const measured: MutationRun = testFiles.length > 0 ? { ...when, testFiles: [...testFiles] } : when;
  const names = new Map<string, string>();
  for (const [file, t] of Object.entries(run.testFiles ?? {}))
    for (const test of t.tests) names.set(test.id, file ? `${file} › ${test.name}` : test.name);
  const named = (ids: string[] | undefined): string[] | undefined => ids?.map((id) => names.get(id) ?? id);
  const files: Record<string, MutationFile> = { ...(kept?.files ?? {}) };
  for (const [file, f] of Object.entries(run.files))
    files[file] = {
      ...f,
      mutants: f.mutants.map((m) => ({
        ...m,
        ...(m.killedBy ? { killedBy: named(m.killedBy) } : {}),
        ...(m.coveredBy ? { coveredBy: named(m.coveredBy) } : {}),
      })),
      run: measured,
    };
  return {
    schemaVersion: run.schemaVersion,
    files: Object.fromEntries(Object.entries(files).sort(([a], [b]) => a.localeCompare(b))),
  };
}

/**
 * Mutation scores per file from the kept report of `npm run mutate` (see `mergeMutationRun`):
 * killed and timed-out mutants over every mutant that ran, with the run that measured the file.
 * `untested` counts the survivors no test ran against (`testsCompleted: 0`): Stryker 10.0.0 runs a
 * static mutant with the `--testFiles` paths as its test filter (`globalTestFilter` in
 * @stryker-mutator/core@10.0.0 dist/src/mutants/mutant-test-planner.js), and the jest runner
 * takes a filter as test names (`testNamePattern` in @stryker-mutator/jest-runner@10.0.0
 * dist/src/jest-test-runner.js), so in a run narrowed that way such a mutant survived a run of no
 * test. tools/mutate.ts now narrows jest itself and hands Stryker no `--testFiles`, so new runs
 * have none; an entry kept from an older run may.
 */
export function mutationScores(
  file: string,
): { file: string; score: number; killed: number; total: number; untested: number; run?: MutationRun }[] {
  if (!existsSync(file)) return [];
  const report = JSON.parse(readFileSync(file, "utf8")) as MutationReport;
  return Object.entries(report.files)
    .map(([name, f]) => {
      const ran = f.mutants.filter((m) => ["Killed", "Timeout", "Survived", "NoCoverage"].includes(m.status));
      const killed = ran.filter((m) => m.status === "Killed" || m.status === "Timeout").length;
      const untested = ran.filter((m) => m.status === "Survived" && m.testsCompleted === 0).length;
      return {
        file: name,
        score: ran.length ? (100 * killed) / ran.length : 0,
        killed,
        total: ran.length,
        untested,
        ...(f.run ? { run: f.run } : {}),
      };
    })
    .sort((a, b) => a.file.localeCompare(b.file));
}

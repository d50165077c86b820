/** The development loop's figures (lib/loop.ts): what `npm run bench` reports from `.ci/run`'s records. */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  ciTimesFile,
  coldBuildSeconds,
  median,
  mergeMutationRun,
  mutationScores,
  readCiRuns,
  tierMedian,
  type MutationReport,
} from "../lib/loop";
import { GO_LANES, UPSTREAM } from "../lib/upstream";
import { scratchDir } from "./support/scratch";

function recorded(lines: string[]): string {
  const file = path.join(scratchDir("citadel-loop-"), "ci-times.jsonl");
  writeFileSync(file, lines.join("\n") + "\n");
  return file;
}

const run = (cold: boolean, total: number, status = 0, test = 100) =>
  JSON.stringify({ at: "2026-12-06T00:00:00Z", cold, status, seconds: { test, total } });

describe("the development loop's figures", () => {
  it("takes the middle value, and the mean of the middle two for an even count", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeUndefined();
  });

  it("reads .ci/run's records, skipping the half line a killed run leaves", () => {
    const file = recorded([run(true, 4000), '{"at": "2026-12-06', run(false, 900)]);
    expect(readCiRuns(file).map((r) => r.seconds.total)).toEqual([4000, 900]);
    expect(readCiRuns(path.join(tmpdir(), "no-such-citadel-times.jsonl"))).toEqual([]);
  });

  it("keeps cold and warm runs apart and leaves failed runs out", () => {
    const runs = readCiRuns(
      recorded([run(true, 4000), run(true, 4400), run(false, 900), run(false, 700), run(false, 5000, 1)]),
    );
    expect(tierMedian(runs, "total", true)).toEqual({ seconds: 4200, runs: 2 });
    expect(tierMedian(runs, "total", false)).toEqual({ seconds: 800, runs: 2 });
    expect(tierMedian(runs, "test")).toEqual({ seconds: 100, runs: 4 });
    expect(tierMedian(runs, "e2e")).toBeUndefined();
  });

  it("keeps the records outside the repo, under the user's cache", () => {
    expect(ciTimesFile({ XDG_CACHE_HOME: "/var/cache/x" })).toBe("/var/cache/x/citadel/ci-times.jsonl");
    expect(ciTimesFile({})).toMatch(/\/\.cache\/citadel\/ci-times\.jsonl$/);
  });
});

describe("the cold upstream build npm run bench reports", () => {
  it("runs the lanes side by side and each lane's builds one after another, as ensureAll does", () => {
    // Distinct powers of two: every lane's sum names exactly the builds it added.
    const builds = UPSTREAM.map((name, i) => ({ name, seconds: 2 ** i }));
    const cold = coldBuildSeconds(builds);
    if (!cold) throw new Error("every build has a record, so the cold build has a figure");
    const secondsOf = (names: readonly string[]) =>
      names.reduce((sum, n) => sum + (builds.find((b) => b.name === n)?.seconds ?? NaN), 0);
    expect(cold.lanes.map((l) => l.names)).toEqual([
      [...GO_LANES[0]],
      [...GO_LANES[1]],
      UPSTREAM.filter((n) => !GO_LANES.flat().includes(n)),
    ]);
    expect(cold.lanes.map((l) => l.seconds)).toEqual(cold.lanes.map((l) => secondsOf(l.names)));
    expect(cold.seconds).toBe(Math.max(...cold.lanes.map((l) => secondsOf(l.names))));
    // Every build is in exactly one lane.
    expect(cold.lanes.flatMap((l) => l.names).sort()).toEqual([...UPSTREAM].sort());
  });

  it("has no figure while a build at the current pins has no record", () => {
    expect(coldBuildSeconds(UPSTREAM.slice(1).map((name) => ({ name, seconds: 60 })))).toBeUndefined();
  });
});

describe("the mutation scores npm run bench reports", () => {
  it("counts killed and timed-out mutants over every mutant that ran, per file", () => {
    const file = recorded([
      JSON.stringify({
        schemaVersion: "1",
        files: {
          "b.ts": {
            mutants: [
              { status: "Killed" },
              { status: "Survived" },
              { status: "Timeout" },
              { status: "NoCoverage" },
            ],
          },
          "a.ts": { mutants: [{ status: "Killed" }, { status: "CompileError" }] },
        },
      }),
    ]);
    expect(mutationScores(file)).toEqual([
      { file: "a.ts", score: 100, killed: 1, total: 1, untested: 0 },
      { file: "b.ts", score: 50, killed: 2, total: 4, untested: 0 },
    ]);
  });

  // A Stryker run numbers its tests from 0 and names them in testFiles (mutation-testing-report-schema).
  const strykerRun = (files: MutationReport["files"], tests: string[]): MutationReport => ({
    schemaVersion: "1.0",
    files,
    testFiles: { "tests/t.test.ts": { tests: tests.map((name, i) => ({ id: String(i), name })) } },
  });

  it("keeps the files of earlier runs when a run measures other files, each with its own run", () => {
    const first = mergeMutationRun(
      undefined,
      strykerRun({ "b.ts": { mutants: [{ status: "Survived", coveredBy: ["0"] }] } }, ["b works"]),
      { commit: "aaa", date: "2026-12-06T13:00:00.000Z" },
    );
    const second = mergeMutationRun(
      first,
      strykerRun({ "a.ts": { mutants: [{ status: "Killed", killedBy: ["1"], coveredBy: ["0", "1"] }] } }, [
        "a starts",
        "a ends",
      ]),
      { commit: "bbb", date: "2026-12-06T14:00:00.000Z" },
    );
    const file = recorded([JSON.stringify(second)]);
    expect(mutationScores(file)).toEqual([
      {
        file: "a.ts",
        score: 100,
        killed: 1,
        total: 1,
        untested: 0,
        run: { commit: "bbb", date: "2026-12-06T14:00:00.000Z" },
      },
      {
        file: "b.ts",
        score: 0,
        killed: 0,
        total: 1,
        untested: 0,
        run: { commit: "aaa", date: "2026-12-06T13:00:00.000Z" },
      },
    ]);
    // Test ids mean nothing outside their run: the kept report names the tests instead.
    expect(second.files["a.ts"]?.mutants[0]).toMatchObject({
      killedBy: ["tests/t.test.ts › a ends"],
      coveredBy: ["tests/t.test.ts › a starts", "tests/t.test.ts › a ends"],
    });
    expect(second.files["b.ts"]?.mutants[0]?.coveredBy).toEqual(["tests/t.test.ts › b works"]);
    expect(Object.keys(second.files)).toEqual(["a.ts", "b.ts"]);
  });

  it("records the tests a run was narrowed to, since its score counts only what they kill", () => {
    const run = strykerRun({ "a.ts": { mutants: [{ status: "Killed" }] } }, []);
    const merged = mergeMutationRun(undefined, run, {
      commit: "ccc",
      date: "2026-12-06T15:00:00.000Z",
      testFiles: ["tests/a.test.ts"],
    });
    expect(merged.files["a.ts"]?.run).toEqual({
      commit: "ccc",
      date: "2026-12-06T15:00:00.000Z",
      testFiles: ["tests/a.test.ts"],
    });
    const whole = mergeMutationRun(merged, run, {
      commit: "ddd",
      date: "2026-12-06T16:00:00.000Z",
      testFiles: [],
    });
    expect(whole.files["a.ts"]?.run).toEqual({ commit: "ddd", date: "2026-12-06T16:00:00.000Z" });
  });

  it("counts apart the survivors no test ran against, as a run narrowed with --testFiles leaves static ones", () => {
    const file = recorded([
      JSON.stringify({
        schemaVersion: "1.0",
        files: {
          "a.ts": {
            mutants: [
              { status: "Survived", testsCompleted: 0, static: true },
              { status: "Survived", testsCompleted: 3 },
              { status: "Killed", testsCompleted: 1 },
            ],
          },
        },
      }),
    ]);
    expect(mutationScores(file)).toEqual([
      { file: "a.ts", score: (100 * 1) / 3, killed: 1, total: 3, untested: 1 },
    ]);
  });

  it("replaces a file's whole entry when a later run measures it again", () => {
    const before = mergeMutationRun(
      undefined,
      strykerRun({ "a.ts": { mutants: [{ status: "Survived" }, { status: "Survived" }] } }, []),
      { commit: "aaa", date: "2026-12-06T13:00:00.000Z" },
    );
    const after = mergeMutationRun(before, strykerRun({ "a.ts": { mutants: [{ status: "Killed" }] } }, []), {
      commit: "bbb-dirty",
      date: "2026-12-06T14:00:00.000Z",
    });
    expect(mutationScores(recorded([JSON.stringify(after)]))).toEqual([
      {
        file: "a.ts",
        score: 100,
        killed: 1,
        total: 1,
        untested: 0,
        run: { commit: "bbb-dirty", date: "2026-12-06T14:00:00.000Z" },
      },
    ]);
  });
});

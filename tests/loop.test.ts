/** The development loop's figures (lib/loop.ts): what `npm run bench` reports from `.ci/run`'s records. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ciTimesFile, median, mutationScores, readCiRuns, tierMedian } from "../lib/loop";

function recorded(lines: string[]): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "citadel-loop-")), "ci-times.jsonl");
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
      { file: "a.ts", score: 100, killed: 1, total: 1 },
      { file: "b.ts", score: 50, killed: 2, total: 4 },
    ]);
  });
});

/**
 * jest's globalTeardown: the run's temp dir (tmp-setup.ts) must be empty but for the caches tools
 * keep there. What else is left is something a test, or a program it ran, made and did not remove:
 * the run fails naming each entry, whose prefix says who made it, and the directory is kept to
 * look at.
 */
import { readdirSync, rmdirSync } from "node:fs";
import * as path from "node:path";
import { removeTree } from "./remove";

/**
 * What tools keep in the temp dir for their own reuse: tsx's compile cache and IPC sockets
 * (tsx-<uid>), Node's module compile cache, which tsx turns on, and the haste map of a jest a test
 * runs (jest_<uid in base 36>, jest's default cacheDirectory: mutate-tool.test.ts). Made in this
 * run's directory, by this run, so removed with it.
 */
const TOOL_CACHES = [/^tsx-\d+$/, /^node-compile-cache$/, /^jest_[0-9a-z]+$/];

/** Removes the run's temp dir `dir`; throws, keeping it, when the tests left anything in it. */
export function closeRunTmp(dir: string): void {
  for (const entry of readdirSync(dir))
    if (TOOL_CACHES.some((re) => re.test(entry))) removeTree(path.join(dir, entry));
  const left = readdirSync(dir).sort();
  if (left.length === 0) {
    rmdirSync(dir);
    return;
  }
  throw new Error(
    [
      `the tests left ${left.length} ${left.length === 1 ? "entry" : "entries"} in the run's temp dir ${dir}:`,
      ...left.map((e) => `  ${e}`),
      "Each was made by a test or a program it ran, and not removed: its prefix names the maker",
      "(grep -rn for it in tests, lib and tools). Make it with scratchDir (tests/support/scratch.ts),",
      `or remove it in a finally. ${dir} is kept to look at; remove it once read.`,
    ].join("\n"),
  );
}

export default function teardown(): void {
  const dir = process.env.CITADEL_JEST_TMPDIR;
  // TMPDIR as it was before globalSetup, before anything can throw: a next run in this process
  // (jest --watch, Stryker) makes its directory where this one's was made.
  const outer = process.env.CITADEL_JEST_OUTER_TMPDIR;
  if (outer === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = outer;
  delete process.env.CITADEL_JEST_OUTER_TMPDIR;
  delete process.env.CITADEL_JEST_TMPDIR;
  if (dir) closeRunTmp(dir);
}

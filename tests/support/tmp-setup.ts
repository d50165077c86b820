/**
 * jest's globalSetup: a temp dir of this run's own, `<tmpdir>/citadel-jest-XXXXXX`, made the
 * TMPDIR of every test and of every program a test starts (Node's os.tmpdir(), mktemp(1) and
 * Python's tempfile all read it). globalTeardown (tmp-teardown.ts) fails the run, naming them,
 * when anything is left in it. A snapshot of the shared temp dir compared before and after would
 * blame this run for what others on the machine make and remove meanwhile: another worktree's npm
 * test, or the e2e tier's SSH dirs, which come and go during a run.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

export default function setup(): void {
  const dir = mkdtempSync(path.join(tmpdir(), "citadel-jest-"));
  // What TMPDIR was, for globalTeardown to put back: jest --watch and Stryker's jest runner start
  // run after run in one process, and each run's directory is gone after it.
  if (process.env.TMPDIR === undefined) delete process.env.CITADEL_JEST_OUTER_TMPDIR;
  else process.env.CITADEL_JEST_OUTER_TMPDIR = process.env.TMPDIR;
  process.env.CITADEL_JEST_TMPDIR = dir;
  // The workers are started after globalSetup, with this environment.
  process.env.TMPDIR = dir;
}

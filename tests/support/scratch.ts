/**
 * Scratch directories for tests: made in the temp dir under a prefix that names their maker
 * (`citadel-out-` for npm start's output in synth.test.ts, and so on: a leftover's name says where
 * to look), and removed when the test file ends, also after a failed test, since jest runs
 * afterAll hooks whatever the tests did. Removal goes through removeTree, so a tree with something
 * still mounted below it fails the file, naming the mount, instead of being deleted through it.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { atEnd, releaseEach, removeTree } from "./remove";

/** What this test file (a module registry per file under jest) made and has not removed yet. */
const made: string[] = [];

/** A new, empty directory `<tmpdir>/<prefix>XXXXXX`, removed with everything in it when the file ends. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/**
 * Removes every scratch directory made so far, newest first, going on past one that cannot be
 * removed so it strands none of the others; then throws naming each that is left.
 */
export function removeScratch(): void {
  releaseEach(made.splice(0).reverse(), removeTree);
}

atEnd(removeScratch);

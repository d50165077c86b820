/**
 * Removing a directory tree the tests or a tier made, never through a mount: Node's rmSync, like
 * rm -r, walks into a filesystem mounted below the tree and deletes its files, and some of ours
 * bind the machine's own /usr, /dev or /etc (the conformance sandbox) or mount loop devices
 * (tests/support/loops.ts, SimHost). So a mount still there is an error that names it, and
 * nothing is deleted: whoever mounted it unmounts it first.
 */
import { lstatSync, readFileSync, realpathSync, rmSync } from "node:fs";
import * as path from "node:path";

/** A mountinfo path with its octal escapes (\040 space, \011 tab, \012 newline, \134 backslash: proc(5)) undone. */
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * The mount points at or below `dir`, from `mountinfo` (the text of /proc/self/mountinfo by
 * default: this process's mount namespace, the one rmSync would walk). `dir` is compared as given,
 * so pass it resolved (realpath): mountinfo lists resolved paths.
 */
export function mountsUnder(
  dir: string,
  mountinfo: string = readFileSync("/proc/self/mountinfo", "utf8"),
): string[] {
  const root = dir.replace(/\/+$/, "") || "/";
  const below = root === "/" ? "/" : `${root}/`;
  return mountinfo
    .split("\n")
    .filter(Boolean)
    .map((line) => unescapeMountPath(line.split(" ")[4] ?? ""))
    .filter((m) => m === root || m.startsWith(below));
}

/**
 * Removes `dir` and everything below it, unless something is mounted at or below it: then throws,
 * naming the mounts, and deletes nothing. A path that does not exist is left alone; a symlink is
 * removed as a link (rmSync never follows it).
 */
export function removeTree(dir: string): void {
  let isDir: boolean;
  try {
    isDir = lstatSync(dir).isDirectory();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  if (isDir) {
    const mounts = mountsUnder(realpathSync(dir));
    if (mounts.length > 0)
      throw new Error(
        `not removing ${dir}: ${mounts.join(", ")} ${mounts.length === 1 ? "is" : "are"} still mounted there; ` +
          `whatever mounted ${mounts.length === 1 ? "it" : "them"} must unmount first (umount, losetup -d), then remove ${path.basename(dir)}`,
      );
  }
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Calls `release` on each item in turn, going on past one that fails so that it strands none of
 * the others; then throws naming each that failed.
 */
export function releaseEach<T>(items: Iterable<T>, release: (item: T) => void): void {
  const problems: string[] = [];
  for (const item of items) {
    try {
      release(item);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  if (problems.length > 0) throw new Error(problems.join("\n"));
}

/**
 * Runs `teardown` when the test file ends under jest (its afterAll: a module registry per file, so
 * one hook each), elsewhere (a tier's runner) when the process exits, failing it if `teardown` throws.
 */
export function atEnd(teardown: () => void): void {
  if (typeof afterAll === "function") afterAll(teardown);
  else
    process.once("exit", () => {
      try {
        teardown();
      } catch (e) {
        console.error((e as Error).message);
        process.exitCode = 1;
      }
    });
}

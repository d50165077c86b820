/** Scratch directories (tests/support/scratch.ts) and their removal, never through a mount (remove.ts). */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { requireRoot } from "./support/loops";
import { mountsUnder, removeTree } from "./support/remove";
import { removeScratch, scratchDir } from "./support/scratch";
import setup from "./support/tmp-setup";
import teardown, { closeRunTmp } from "./support/tmp-teardown";

/** /proc/self/mountinfo's lines (proc(5)): the mount point is the fifth field, escaped. */
const MOUNTINFO = [
  "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
  "90 22 0:50 / /tmp/citadel-a rw,relatime shared:40 - tmpfs tmpfs rw",
  "91 90 0:51 / /tmp/citadel-a/sub/deep rw,relatime shared:41 - tmpfs tmpfs rw",
  "92 22 0:52 / /tmp/citadel-ab rw,relatime shared:42 - tmpfs tmpfs rw",
  "93 22 0:53 / /tmp/citadel-a\\040b/x rw,relatime shared:43 - tmpfs tmpfs rw",
  "",
].join("\n");

describe("mountsUnder", () => {
  it("finds the mounts at and below a directory, not a sibling that shares its prefix", () => {
    expect(mountsUnder("/tmp/citadel-a", MOUNTINFO)).toEqual(["/tmp/citadel-a", "/tmp/citadel-a/sub/deep"]);
    expect(mountsUnder("/tmp/citadel-a/sub/", MOUNTINFO)).toEqual(["/tmp/citadel-a/sub/deep"]);
    expect(mountsUnder("/tmp/citadel-b", MOUNTINFO)).toEqual([]);
  });

  it("reads mountinfo's octal escapes, so a path with a space is matched as itself", () => {
    expect(mountsUnder("/tmp/citadel-a b", MOUNTINFO)).toEqual(["/tmp/citadel-a b/x"]);
  });

  it("sees every mount below /", () => {
    expect(mountsUnder("/", MOUNTINFO)).toHaveLength(5);
  });
});

describe("removeTree", () => {
  it("removes a tree, and leaves a path that is not there alone", () => {
    const dir = scratchDir("citadel-remove-");
    mkdirSync(path.join(dir, "a", "b"), { recursive: true });
    writeFileSync(path.join(dir, "a", "b", "f"), "x");
    removeTree(dir);
    expect(existsSync(dir)).toBe(false);
    expect(() => removeTree(dir)).not.toThrow();
  });

  it("refuses a tree with a filesystem mounted below it, naming the mount, and deletes nothing", () => {
    requireRoot("scratch removal");
    // Made as scratch, so that it is removed also when an expectation below fails (once unmounted).
    const dir = scratchDir("citadel-remove-");
    const mnt = path.join(dir, "mnt");
    mkdirSync(mnt);
    writeFileSync(path.join(dir, "beside"), "mine");
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]);
    try {
      writeFileSync(path.join(mnt, "theirs"), "not mine");
      expect(() => removeTree(dir)).toThrow(`${realpathSync(mnt)} is still mounted there`);
      expect(readFileSync(path.join(mnt, "theirs"), "utf8")).toBe("not mine");
      expect(readFileSync(path.join(dir, "beside"), "utf8")).toBe("mine");
    } finally {
      spawnSync("umount", [mnt]);
    }
    // Unmounted, the tree goes.
    removeTree(dir);
    expect(existsSync(dir)).toBe(false);
  });
});

describe("scratchDir", () => {
  it("makes a new directory under the temp dir with its maker's prefix, removed by removeScratch", () => {
    const a = scratchDir("citadel-scratch-test-");
    const b = scratchDir("citadel-scratch-test-");
    expect(path.dirname(a)).toBe(tmpdir());
    expect(path.basename(a)).toMatch(/^citadel-scratch-test-[A-Za-z0-9]{6}$/);
    expect(b).not.toBe(a);
    writeFileSync(path.join(a, "f"), "x");
    removeScratch();
    expect(existsSync(a)).toBe(false);
    expect(existsSync(b)).toBe(false);
  });

  it("removes the others when one still has a mount, then fails naming it", () => {
    requireRoot("scratch removal");
    const mounted = scratchDir("citadel-scratch-test-");
    const other = scratchDir("citadel-scratch-test-");
    const mnt = path.join(mounted, "mnt");
    mkdirSync(mnt);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]);
    try {
      expect(() => removeScratch()).toThrow(`not removing ${mounted}`);
      expect(existsSync(other)).toBe(false);
      expect(existsSync(mnt)).toBe(true);
    } finally {
      spawnSync("umount", [mnt]);
      // removeScratch took it off its list whatever happened: this test made it, so it removes it.
      removeTree(mounted);
    }
  });
});

describe("the run's temp dir, at the end of the run", () => {
  it("is removed when only the tools' caches are in it", () => {
    const dir = scratchDir("citadel-jest-test-");
    mkdirSync(path.join(dir, "tsx-0"));
    writeFileSync(path.join(dir, "tsx-0", "cache"), "x");
    mkdirSync(path.join(dir, "node-compile-cache"));
    mkdirSync(path.join(dir, "jest_0"));
    closeRunTmp(dir);
    expect(existsSync(dir)).toBe(false);
  });

  it("fails naming what the tests left, and keeps it", () => {
    const dir = scratchDir("citadel-jest-test-");
    mkdirSync(path.join(dir, "tsx-0"));
    mkdirSync(path.join(dir, "citadel-out-Ab12Cd"));
    writeFileSync(path.join(dir, "tmp.XyZ"), "");
    expect(() => closeRunTmp(dir)).toThrow(
      `the tests left 2 entries in the run's temp dir ${dir}:\n  citadel-out-Ab12Cd\n  tmp.XyZ\n`,
    );
    expect(existsSync(path.join(dir, "citadel-out-Ab12Cd"))).toBe(true);
  });

  it("is a new one each run, inside the temp dir, with TMPDIR put back after it for the next run", () => {
    // This worker's own run markers, restored whatever happens below.
    const saved = ["TMPDIR", "CITADEL_JEST_TMPDIR", "CITADEL_JEST_OUTER_TMPDIR"].map(
      (k) => [k, process.env[k]] as const,
    );
    // Read from process.env: a test's process.env is jest's copy, which os.tmpdir() does not see.
    const outer = process.env.TMPDIR;
    expect(outer).toBe(tmpdir());
    const made: string[] = [];
    try {
      for (let run = 0; run < 2; run++) {
        setup();
        const dir = process.env.TMPDIR as string;
        made.push(dir);
        expect(path.dirname(dir)).toBe(outer);
        expect(path.basename(dir)).toMatch(/^citadel-jest-/);
        teardown();
        expect(process.env.TMPDIR).toBe(outer);
        expect(existsSync(dir)).toBe(false);
      }
    } finally {
      for (const [k, v] of saved) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      // What a failed expectation above kept from teardown.
      for (const dir of made) removeTree(dir);
    }
  });
});

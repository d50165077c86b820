/**
 * The e2e image cache is shared by every checkout on the machine (tests/tiers/e2e/prune-cache.sh,
 * run by image.sh after a build): it keeps the two most recently used layers of each kind, so two
 * branches with different shims do not rebuild each other's image, and never removes a layer that
 * a running process (a VM booted from it) holds open.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  openSync,
  closeSync,
  readdirSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";

const SCRIPT = path.join(__dirname, "tiers", "e2e", "prune-cache.sh");

describe("the e2e image cache's pruning", () => {
  it("keeps the two most recently used keys of each layer and any layer a running process holds open", async () => {
    const cache = mkdtempSync(path.join(os.tmpdir(), "e2e-cache-"));
    const day = (d: number) => new Date(`2026-12-0${d}T10:00:00Z`);
    for (const [i, k] of ["a", "b", "c", "d"].entries()) {
      const dir = path.join(cache, `image-${k}`);
      mkdirSync(dir);
      writeFileSync(path.join(dir, "root.img"), "");
      utimesSync(dir, day(i + 1), day(i + 1));
    }
    for (const [i, k] of ["x", "y", "z"].entries()) {
      const f = path.join(cache, `base-${k}.tar`);
      writeFileSync(f, "");
      utimesSync(f, day(i + 1), day(i + 1));
    }
    writeFileSync(path.join(cache, "unrelated"), "");
    // A process holding the oldest image's root open, as qemu holds its backing file.
    const fd = openSync(path.join(cache, "image-a", "root.img"), "r");
    const holder = spawn("sleep", ["60"], { stdio: [fd, "ignore", "ignore"] });
    closeSync(fd);
    try {
      const r = spawnSync("bash", [SCRIPT, cache, "2", "image-*", "base-*.tar"], { encoding: "utf8" });
      expect(r.status).toBe(0);
      expect(readdirSync(cache).sort()).toEqual([
        "base-y.tar",
        "base-z.tar",
        "image-a",
        "image-c",
        "image-d",
        "unrelated",
      ]);
      expect(r.stdout).toContain("kept image-a: a running process holds it open");
      expect(r.stdout).toContain("removed the older layer image-b");
    } finally {
      holder.kill("SIGKILL");
      rmSync(cache, { recursive: true, force: true });
    }
  });
});

/**
 * Real block devices for the storage guards' tests: loop devices over scratch images, made blank
 * or holding a filesystem with data, an LVM signature or an md superblock, probed by the real
 * blkid and wipefs. Needs root, as CI has.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmdirSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { removeTree } from "./remove";

export const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: "utf8" }).trim();

/** Fails the suite at once, with how to run it, when not root. */
export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `the ${what} tests need root for losetup/mkfs/mount; run \`sudo npm test\` (CI runs as root)`,
    );
  }
}

/** Loop devices and mounts a suite made, released in reverse in `afterAll`. */
export class Loops {
  private readonly attached: string[] = [];
  private readonly mounted: string[] = [];
  private readonly scratch: string[] = [];

  /** A loop device over a new sparse image of `size`, prepared (e.g. formatted) before it is attached. */
  device(prepare?: (image: string) => void, size = "64M"): string {
    const dir = mkdtempSync(path.join(tmpdir(), "citadel-disk-"));
    this.scratch.push(dir);
    const image = path.join(dir, "disk.img");
    execFileSync("truncate", ["-s", size, image]);
    prepare?.(image);
    const dev = sh("losetup", ["--find", "--show", image]);
    this.attached.push(dev);
    return dev;
  }

  /** Remembers a mount a script made, to unmount it at the end. */
  mountedAt(target: string): void {
    if (!this.mounted.includes(target)) this.mounted.push(target);
  }

  /**
   * Unmounts and detaches everything, going on past a failure so one never strands the rest, then
   * removes the images it made; throws naming a directory that still has a mount below it, which
   * is kept rather than deleted through.
   */
  release(): void {
    for (const m of this.mounted.reverse()) spawnSync("umount", ["-l", m], { stdio: "ignore" });
    for (const d of this.attached) spawnSync("losetup", ["-d", d], { stdio: "ignore" });
    const problems: string[] = [];
    for (const d of this.scratch.splice(0)) {
      try {
        removeTree(d);
      } catch (e) {
        problems.push((e as Error).message);
      }
    }
    if (problems.length > 0) throw new Error(problems.join("\n"));
  }
}

/** A new mount point `<tmpdir>/<prefix>XXXXXX` with `mount <args> <it>` done; removed again if the mount fails. */
function mountAt(prefix: string, args: string[]): string {
  const mnt = mkdtempSync(path.join(tmpdir(), prefix));
  try {
    execFileSync("mount", [...args, mnt]);
  } catch (e) {
    rmdirSync(mnt);
    throw e;
  }
  return mnt;
}

/**
 * Unmounts `mnt` and removes the mount point. When umount fails, its error is what is thrown and
 * the directory stays: rmdir would fail on it anyway (EBUSY), and nothing is deleted through it.
 */
function unmountAndRemove(mnt: string): void {
  execFileSync("umount", [mnt]);
  rmdirSync(mnt);
}

/** Makes a filesystem holding one file, as a disk that already carries someone's data. */
export function withData(label: string) {
  return (image: string) => {
    execFileSync("mkfs.ext4", ["-q", "-F", "-L", label, image]);
    const mnt = mountAt("citadel-seed-", ["-o", "loop", image]);
    try {
      writeFileSync(path.join(mnt, "precious.txt"), "do not lose me\n");
    } finally {
      unmountAndRemove(mnt);
    }
  };
}

export function readFileOn(dev: string, file: string): string {
  const mnt = mountAt("citadel-check-", ["-o", "ro", dev]);
  try {
    return readFileSync(path.join(mnt, file), "utf8");
  } finally {
    unmountAndRemove(mnt);
  }
}

/**
 * Writes an md v1.2 superblock (4 KiB into the device) of array `name` with `uuid`, as mdadm
 * would leave on a member of another machine's array, so blkid and wipefs find a
 * linux_raid_member. Field offsets and the checksum follow struct mdp_superblock_1 and
 * calc_sb_1_csum (md_p.h and super1.c@mdadm-4.3); with max_dev 0 the checksum covers 256 bytes.
 */
export function withMdSuperblock(name: string, uuidHex: string) {
  return (image: string) => {
    const sb = Buffer.alloc(256);
    sb.writeUInt32LE(0xa92b4efc, 0); // magic
    sb.writeUInt32LE(1, 4); // major_version
    Buffer.from(uuidHex, "hex").copy(sb, 16); // set_uuid
    sb.write(name, 32, 32, "ascii"); // set_name
    sb.writeUInt32LE(1, 72); // level
    sb.writeBigUInt64LE(100000n, 80); // size, in sectors
    sb.writeUInt32LE(2, 92); // raid_disks
    sb.writeBigUInt64LE(2048n, 128); // data_offset
    sb.writeBigUInt64LE(100000n, 136); // data_size
    sb.writeBigUInt64LE(8n, 144); // super_offset: 4096 / 512
    let sum = 0n;
    for (let i = 0; i < 256; i += 4) sum += BigInt(sb.readUInt32LE(i));
    sb.writeUInt32LE(Number((sum & 0xffffffffn) + (sum >> 32n)) >>> 0, 216); // sb_csum
    const fd = openSync(image, "r+");
    writeSync(fd, sb, 0, 256, 4096);
    closeSync(fd);
  };
}

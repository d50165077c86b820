/**
 * The disk-format guard on real loop devices (needs root, as CI has): a blank disk is formatted
 * and mounted by UUID once; a disk that holds anything else is never formatted, and its data
 * survives. Nothing here is stubbed except the scratch root that holds fstab and mount points.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { openSync, readFileSync, writeSync, closeSync, mkdirSync } from "node:fs";
import * as path from "node:path";
import { SimHost } from "./support/hostsim";
import { Loops, readFileOn, requireRoot, sh, withData } from "./support/loops";

const script = "host/scripts/prepare-disk.sh";

beforeAll(() => requireRoot("disk-guard"));

const loops = new Loops();
afterAll(() => loops.release());

function params(dev: string) {
  return {
    DEVICE: dev,
    FILESYSTEM: "ext4",
    LABEL: "data",
    MOUNT_POINT: "/srv/data",
    MOUNT_OPTIONS: "defaults,noatime",
    PROTECTED_DEVICES: "",
  };
}

describe("prepare-disk.sh on loop devices", () => {
  it("formats a blank disk, mounts it by UUID with nofail, and a second run leaves disk and fstab alone", () => {
    const host = new SimHost();
    const dev = loops.device();
    const target = path.join(host.root, "srv/data");
    const first = host.run(script, params(dev));
    loops.mountedAt(target);
    expect(first.stderr).toBe("");
    expect(first.status).toBe(0);
    expect(first.stdout).toContain(`changed: formatted blank ${dev} as ext4 labelled data`);
    const uuid = sh("blkid", ["-p", "-o", "value", "-s", "UUID", dev]);
    const fstab = host.read("/etc/fstab");
    expect(fstab).toBe(`UUID=${uuid} ${target} ext4 defaults,noatime,nofail 0 2\n`);
    expect(sh("findmnt", ["-rno", "SOURCE", "--mountpoint", target])).toBe(dev);

    const second = host.run(script, params(dev));
    expect(second.status).toBe(0);
    expect(second.stdout).toContain(
      "already holds the expected ext4 filesystem labelled data; not formatting",
    );
    expect(second.stdout.trim().split("\n").pop()).toBe(
      `no changes: disk ${dev} at /srv/data already converged`,
    );
    expect(host.read("/etc/fstab")).toBe(fstab);
    expect(sh("blkid", ["-p", "-o", "value", "-s", "UUID", dev])).toBe(uuid);
  });

  it("never reformats a disk holding another filesystem; the file survives and fstab is untouched", () => {
    const host = new SimHost();
    host.file("/etc/fstab", "# existing fstab\n");
    const dev = loops.device(withData("old-photos"));
    const run = host.run(script, params(dev));
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain(`refusing to format ${dev}: it carries filesystem ext4 labelled old-photos`);
    expect(run.stderr).toContain("Nothing was changed");
    expect(readFileOn(dev, "precious.txt")).toBe("do not lose me\n");
    expect(host.read("/etc/fstab")).toBe("# existing fstab\n");
    expect(sh("blkid", ["-p", "-o", "value", "-s", "LABEL", dev])).toBe("old-photos");
  });

  it("adopts the expected filesystem without formatting it, keeping its data", () => {
    const host = new SimHost();
    const dev = loops.device(withData("data"));
    const uuidBefore = sh("blkid", ["-p", "-o", "value", "-s", "UUID", dev]);
    const run = host.run(script, params(dev));
    loops.mountedAt(path.join(host.root, "srv/data"));
    expect(run.status).toBe(0);
    expect(run.stdout).not.toContain("formatted");
    expect(sh("blkid", ["-p", "-o", "value", "-s", "UUID", dev])).toBe(uuidBefore);
    expect(readFileSync(path.join(host.root, "srv/data/precious.txt"), "utf8")).toBe("do not lose me\n");
  });

  it("refuses a disk that is an LVM physical volume", () => {
    const host = new SimHost();
    const dev = loops.device();
    execFileSync("pvcreate", ["-q", dev], { stdio: "ignore" });
    try {
      const run = host.run(script, params(dev));
      expect(run.status).not.toBe(0);
      expect(run.stderr).toContain("it carries filesystem LVM2_member");
      expect(sh("blkid", ["-p", "-o", "value", "-s", "TYPE", dev])).toBe("LVM2_member");
    } finally {
      execFileSync("pvremove", ["-q", dev], { stdio: "ignore" });
    }
  });

  it("refuses a disk with a partition table", () => {
    const host = new SimHost();
    const dev = loops.device((image) => {
      // A minimal MBR: one Linux partition from sector 2048, and the 0x55AA boot signature.
      const mbr = Buffer.alloc(512);
      mbr.writeUInt8(0x83, 446 + 4);
      mbr.writeUInt32LE(2048, 446 + 8);
      mbr.writeUInt32LE(65536, 446 + 12);
      mbr.writeUInt16LE(0xaa55, 510);
      const fd = openSync(image, "r+");
      writeSync(fd, mbr, 0, 512, 0);
      closeSync(fd);
    });
    const run = host.run(script, params(dev));
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("partition table dos");
    expect(host.exists("/etc/fstab") ? host.read("/etc/fstab") : "").toBe("");
  });

  it("refuses the device that holds the LVM physical volume named in config", () => {
    const host = new SimHost();
    const dev = loops.device();
    const run = host.run(script, { ...params(dev), PROTECTED_DEVICES: dev });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain(`${dev} holds ${dev} (the LVM physical volume); refusing to touch it`);
    // blkid exits 2 when it finds no signature at all: the disk is still blank.
    expect(spawnSync("blkid", ["-p", dev]).status).toBe(2);
  });

  it("refuses a blank disk whose size is far from the size config declares: probably the wrong disk", () => {
    const host = new SimHost();
    const dev = loops.device();
    const run = host.run(script, { ...params(dev), SIZE_BYTES: String(2 * 1024 ** 4) });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain(
      `${dev} is 67108864 bytes but storage.disks[].size says ${2 * 1024 ** 4}; is this the right disk?`,
    );
    expect(spawnSync("blkid", ["-p", dev]).status).toBe(2);
    const right = host.run(script, { ...params(dev), SIZE_BYTES: String(64 * 1024 ** 2) });
    loops.mountedAt(path.join(host.root, "srv/data"));
    expect(right.status).toBe(0);
  });

  it("refuses a mount point that fstab already gives to another filesystem", () => {
    const host = new SimHost();
    const target = path.join(host.root, "srv/data");
    mkdirSync(target, { recursive: true });
    host.file("/etc/fstab", `UUID=1111-2222 ${target} ext4 defaults 0 2\n`);
    const dev = loops.device();
    const run = host.run(script, params(dev));
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("already mounts UUID=1111-2222 at /srv/data");
  });
});

/**
 * prepare-raid.sh with real loop devices as members (probed by the real blkid, wipefs and lsblk)
 * and a loop device standing in for the assembled array (formatted by the real mkfs, mounted by the
 * real mount). mdadm and update-initramfs are shims: this machine's kernel has no md driver, so a
 * real array cannot be assembled here. The shim keeps the arrays as state and answers in
 * mdadm-4.3's formats (tests/support/shims/shim); needs root, as CI has.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import * as path from "node:path";
import { mutations, SimHost, type RunResult } from "./support/hostsim";
import { Loops, readFileOn, requireRoot, sh, withData, withMdSuperblock } from "./support/loops";

const script = "host/scripts/prepare-raid.sh";
const KEY = "citadel:hosts.pi.storage.raids[0]";
const UUID = "8f1c2d3e:4a5b6c7d:8e9fa0b1:c2d3e4f5";
const PACKAGE_CONF = "# mdadm.conf, as the package writes it\nHOMEHOST <system>\nMAILADDR root\n";

beforeAll(() => requireRoot("RAID guard"));
const loops = new Loops();
afterAll(() => loops.release());

/** A simulated Pi with mdadm's package config, four members and a blank stand-in for the array. */
function pi(memberPrep: (((image: string) => void) | undefined)[] = []) {
  const host = new SimHost(["mdadm", "update-initramfs", "udevadm"]);
  host.file("/etc/mdadm/mdadm.conf", PACKAGE_CONF);
  const members = [0, 1, 2, 3].map((i) => loops.device(memberPrep[i]));
  const array = loops.device(undefined, "128M");
  host.set("md-device", array);
  const params = {
    NAME: "ladon",
    LEVEL: 10,
    MEMBERS: members.join(" "),
    FILESYSTEM: "ext4",
    LABEL: "ladon",
    MOUNT_POINT: "/srv/ladon",
    MOUNT_OPTIONS: "defaults,noatime",
    KEY,
    PROTECTED_DEVICES: "",
  };
  const run = (extra: Record<string, string> = {}) => {
    const result = host.run(script, { ...params, ...extra });
    // Whatever the exit status: a run that fails after its mount step leaves the mount behind.
    const target = path.join(host.root, "srv/ladon");
    if (spawnSync("findmnt", ["-rno", "TARGET", "--mountpoint", target]).status === 0)
      loops.mountedAt(target);
    return result;
  };
  return { host, members, array, params, run };
}

/** An array already in the shim's kernel state, e.g. created by hand or assembled at boot. */
function existingArray(
  host: SimHost,
  a: {
    name: string;
    uuid: string;
    state: string;
    device: string;
    members: string[];
    present?: string[];
    /** Present members the kernel failed: still listed, "faulty" in sysfs. */
    faulty?: string[];
  },
) {
  // A host with an array has mdadm installed.
  host.set("dpkg/mdadm", "4.3-1ubuntu2");
  host.set(
    `md/${a.uuid}`,
    [
      `NAME=${a.name}`,
      "LEVEL=10",
      "DEVICES=4",
      "METADATA=1.2",
      `DEVICE=${a.state === "stopped" ? "" : a.device}`,
      `STATE=${a.state}`,
      `MEMBERS=${a.members.join(" ")}`,
      `PRESENT=${(a.present ?? a.members).join(" ")}`,
      `FAULTY=${(a.faulty ?? []).join(" ")}`,
      `UUID=${a.uuid}`,
      "",
    ].join("\n"),
  );
  const md = `/sys/block/${path.basename(a.device)}/md`;
  const present = a.present ?? a.members;
  host.file(`${md}/degraded`, `${4 - present.length + (a.faulty ?? []).length}\n`);
  host.file(`${md}/sync_action`, "idle\n");
  // The kernel's per-member state (Documentation/admin-guide/md.rst, md/dev-XXX/state).
  for (const m of present)
    host.file(`${md}/dev-${path.basename(m)}/state`, (a.faulty ?? []).includes(m) ? "faulty\n" : "in_sync\n");
}

const blkid = (dev: string, tag: string) => sh("blkid", ["-p", "-o", "value", "-s", tag, dev]);
const isBlank = (dev: string) => spawnSync("blkid", ["-p", dev]).status === 2;
const creates = (run: RunResult) => run.calls.filter((c) => c.startsWith("mdadm --create"));
const lastLine = (run: RunResult) => run.stdout.trim().split("\n").pop();

describe("prepare-raid.sh: create once, then converge", () => {
  it("creates the array from blank members, formats it, mounts it by UUID and records it for boot; a second run changes nothing", () => {
    const { host, members, array, run } = pi();
    const first = run();
    expect(first.stderr).toBe("");
    expect(first.status).toBe(0);
    expect(creates(first)).toEqual([
      `mdadm --create /dev/md/ladon --run --level=10 --raid-devices=4 --metadata=1.2 --bitmap=internal --name=ladon ${members.join(" ")}`,
    ]);
    expect(first.stdout).toContain(`changed: created RAID10 /dev/md/ladon from ${members.join(" ")}`);
    expect(first.stdout).toContain(`changed: formatted blank ${array} as ext4 labelled ladon`);
    expect(first.stdout).toContain(`note: ${array} is running resync`);
    // The filesystem is real: made on the stand-in for the array, mounted by its UUID.
    expect(blkid(array, "LABEL")).toBe("ladon");
    const fsUuid = blkid(array, "UUID");
    const target = path.join(host.root, "srv/ladon");
    const fstab = host.read("/etc/fstab");
    expect(fstab).toBe(`UUID=${fsUuid} ${target} ext4 defaults,noatime,nofail 0 2\n`);
    expect(sh("findmnt", ["-rno", "SOURCE", "--mountpoint", target])).toBe(array);
    // mdadm.conf keeps the package's lines and gains the array's, and the initramfs is rebuilt once.
    const conf = host.read("/etc/mdadm/mdadm.conf");
    expect(conf).toBe(`${PACKAGE_CONF}ARRAY /dev/md/ladon metadata=1.2 UUID=${UUID}\n`);
    expect(first.calls.filter((c) => c.startsWith("update-initramfs"))).toEqual(["update-initramfs -u"]);
    expect(first.calls).toContainEqual(
      expect.stringMatching(/^apt-get .* install --no-install-recommends mdadm$/),
    );
    // The members were only read: the shim stands in for mdadm, so they stay blank.
    for (const m of members) expect(isBlank(m)).toBe(true);

    const second = run();
    expect(second.stderr).toBe("");
    expect(second.status).toBe(0);
    expect(mutations(second)).toEqual([]);
    expect(second.stdout).not.toContain("formatted");
    expect(second.stdout).toContain(
      "already holds the expected ext4 filesystem labelled ladon; not formatting",
    );
    expect(lastLine(second)).toBe("no changes: RAID10 /dev/md/ladon at /srv/ladon already converged");
    expect(host.read("/etc/fstab")).toBe(fstab);
    expect(host.read("/etc/mdadm/mdadm.conf")).toBe(conf);
    expect(blkid(array, "UUID")).toBe(fsUuid);
  });

  it("stops when the initramfs rebuild fails, and the next run rebuilds it though mdadm.conf already has the line", () => {
    const { host, members, array, run } = pi();
    existingArray(host, { name: "pi:ladon", uuid: UUID, state: "running", device: array, members });
    host.set("initramfs-fails", 1);
    const failed = run();
    expect(failed.status).toBe(1);
    expect(failed.stderr).toContain("update-initramfs: failed for /boot/initrd.img-6.8.0-48-generic with 1.");
    expect(failed.stderr).toContain("error: rebuilding the initramfs for the new ARRAY line failed");
    expect(host.read("/etc/mdadm/mdadm.conf")).toContain(`ARRAY /dev/md/ladon metadata=1.2 UUID=${UUID}\n`);
    expect(host.exists("/var/lib/citadel/raid-ladon.initramfs-pending")).toBe(true);
    rmSync(path.join(host.state, "initramfs-fails"));
    const retry = run();
    expect(retry.status).toBe(0);
    expect(mutations(retry)).toContain("update-initramfs -u");
    expect(host.exists("/var/lib/citadel/raid-ladon.initramfs-pending")).toBe(false);
    expect(mutations(run())).toEqual([]);
  });

  it("replaces an older ARRAY line for the same array, and redoes an initramfs rebuild that failed", () => {
    const { host, members, array, run } = pi();
    existingArray(host, { name: "pi:ladon", uuid: UUID, state: "running", device: array, members });
    host.file(
      "/etc/mdadm/mdadm.conf",
      `${PACKAGE_CONF}ARRAY /dev/md/ladon metadata=1.2 UUID=${UUID} name=pi:ladon\n`,
    );
    // A run that wrote the line but died before the initramfs was rebuilt leaves its marker.
    host.file("/var/lib/citadel/raid-ladon.initramfs-pending", "");
    const first = run();
    expect(first.status).toBe(0);
    expect(host.read("/etc/mdadm/mdadm.conf")).toBe(
      `${PACKAGE_CONF}ARRAY /dev/md/ladon metadata=1.2 UUID=${UUID}\n`,
    );
    expect(first.calls.filter((c) => c.startsWith("update-initramfs"))).toEqual(["update-initramfs -u"]);
    expect(host.exists("/var/lib/citadel/raid-ladon.initramfs-pending")).toBe(false);
    expect(mutations(run())).toEqual([]);
  });
});

describe("prepare-raid.sh: the guard", () => {
  it("refuses to create the array when a member holds a filesystem: nothing is created and its data survives", () => {
    const { host, members, run } = pi([undefined, undefined, withData("old-photos")]);
    const result = run();
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("refusing to create RAID10 ladon:");
    expect(result.stderr).toContain(
      `  ${members[2]} (${KEY}.members[2]) carries filesystem ext4 labelled old-photos`,
    );
    expect(result.stderr).toContain("Nothing was changed");
    expect(result.stderr).toContain(`otherwise fix ${KEY}.members`);
    expect(creates(result)).toEqual([]);
    expect(mutations(result).filter((c) => c.startsWith("mdadm"))).toEqual([]);
    expect(readFileOn(members[2]!, "precious.txt")).toBe("do not lose me\n");
    for (const i of [0, 1, 3]) expect(isBlank(members[i]!)).toBe(true);
    expect(host.read("/etc/mdadm/mdadm.conf")).toBe(PACKAGE_CONF);
    expect(host.exists("/etc/fstab")).toBe(false);
  });

  it("names every member that is not blank at once: another machine's RAID superblock and an LVM PV", () => {
    const { host, members, run } = pi([
      withMdSuperblock("otherbox:photos", "0123456789abcdef0123456789abcdef"),
      undefined,
      undefined,
      withData("scratch"),
    ]);
    const lvm = members[1]!;
    // The real pvcreate, in the host's lvm2 sandbox: this machine's LVM never sees the PV.
    host.lvmDevices([lvm]);
    host.lvmTool("pvcreate", ["-q", lvm]);
    try {
      const result = run();
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain(
        `  ${members[0]} (${KEY}.members[0]) carries an md RAID superblock of array otherbox:photos`,
      );
      expect(result.stderr).toContain(`  ${lvm} (${KEY}.members[1]) carries an LVM physical volume`);
      expect(result.stderr).toContain(
        `  ${members[3]} (${KEY}.members[3]) carries filesystem ext4 labelled scratch`,
      );
      expect(result.stderr).not.toContain(`${members[2]} (`);
      expect(creates(result)).toEqual([]);
      expect(blkid(members[0]!, "TYPE")).toBe("linux_raid_member");
    } finally {
      host.lvmTool("pvremove", ["-q", lvm]);
    }
  });

  it("refuses a member that is not a block device, naming its key", () => {
    const { members, run } = pi();
    const result = run({
      MEMBERS: `${members.slice(0, 3).join(" ")} /dev/disk/by-id/ata-HAT_SSD_BAY4_SERIAL_UNRECORDED`,
    });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(
      `/dev/disk/by-id/ata-HAT_SSD_BAY4_SERIAL_UNRECORDED is not a block device on this host; check ${KEY}.members[3]`,
    );
    expect(creates(result)).toEqual([]);
  });

  it("refuses members far from memberSize: probably the wrong disks", () => {
    const { run } = pi();
    const result = run({ MEMBER_SIZE_BYTES: String(1024 ** 4) });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(
      `is 67108864 bytes but ${KEY}.memberSize says ${1024 ** 4}; is this the right disk?`,
    );
    expect(creates(result)).toEqual([]);
  });

  it("refuses the drive that holds the LVM physical volume", () => {
    const { members, run } = pi();
    const result = run({ PROTECTED_DEVICES: members[1]! });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(
      `holds ${members[1]} (the LVM physical volume); refusing to touch it; fix ${KEY}.members[1]`,
    );
    expect(creates(result)).toEqual([]);
  });
});

describe("prepare-raid.sh: existing arrays are adopted, never recreated", () => {
  it("adopts a running array made by hand by its UUID, whatever its name, and keeps its filesystem", () => {
    const { host, members, array, run } = pi();
    existingArray(host, {
      name: "workbench:0",
      uuid: "11111111:22222222:33333333:44444444",
      state: "running",
      device: array,
      members,
    });
    withData("ladon")(array);
    const uuidBefore = blkid(array, "UUID");
    const result = run({ UUID: "11111111:22222222:33333333:44444444" });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(creates(result)).toEqual([]);
    expect(result.stdout).not.toContain("formatted");
    expect(blkid(array, "UUID")).toBe(uuidBefore);
    expect(readFileSync(path.join(host.root, "srv/ladon/precious.txt"), "utf8")).toBe("do not lose me\n");
    expect(host.read("/etc/mdadm/mdadm.conf")).toContain(
      "ARRAY /dev/md/ladon metadata=1.2 UUID=11111111:22222222:33333333:44444444\n",
    );
  });

  it("assembles an array that is not running from the members that carry its superblock, by name", () => {
    const { host, members, array, run } = pi();
    existingArray(host, { name: "pi:ladon", uuid: UUID, state: "stopped", device: array, members });
    const result = run();
    expect(result.status).toBe(0);
    expect(creates(result)).toEqual([]);
    expect(result.calls).toContain(
      `mdadm --assemble /dev/md/ladon --run --uuid=${UUID} ${members.join(" ")}`,
    );
    expect(result.stdout).toContain(`changed: assembled the existing array ladon (UUID ${UUID})`);
  });

  it("reports a degraded array loudly, names the missing member and how to add it back, and still mounts it", () => {
    const { host, members, array, run } = pi();
    expect(run().status).toBe(0);
    const fsUuid = blkid(array, "UUID");
    // One SSD of the four died: the array runs on three.
    existingArray(host, {
      name: "pi:ladon",
      uuid: UUID,
      state: "running",
      device: array,
      members,
      present: members.slice(0, 3),
    });
    const result = run();
    expect(result.status).toBe(0);
    const warning = `WARNING: RAID10 ladon (${array}) is DEGRADED: 1 member(s) missing. It was adopted as it is and is mounted; it is never recreated.`;
    expect(result.stderr).toContain(warning);
    expect(result.stdout).toContain(warning);
    expect(result.stderr).toContain(
      `WARNING: ${members[3]} (${KEY}.members[3]) is not in ${array}; once the drive is checked (smartctl -a ${members[3]}), add it back with: mdadm --manage ${array} --add ${members[3]}`,
    );
    expect(mutations(result)).toEqual([]);
    expect(blkid(array, "UUID")).toBe(fsUuid);
    expect(sh("findmnt", ["-rno", "SOURCE", "--mountpoint", path.join(host.root, "srv/ladon")])).toBe(array);
  });

  it("reports a member the kernel failed but still lists (faulty) with the commands that take it out and add it back", () => {
    // Found by the e2e tier's Pi VM: after `mdadm --fail`, the member stays in the array until it
    // is removed by hand, so it counted as present and no warning named it or the --add command.
    const { host, members, array, run } = pi();
    expect(run().status).toBe(0);
    const fsUuid = blkid(array, "UUID");
    // One SSD failed: the kernel marked it faulty and it stays listed until removed by hand.
    existingArray(host, {
      name: "pi:ladon",
      uuid: UUID,
      state: "running",
      device: array,
      members,
      faulty: [members[1] as string],
    });
    const result = run();
    expect(result.status).toBe(0);
    expect(result.stderr).toContain(`WARNING: RAID10 ladon (${array}) is DEGRADED: 1 member(s) missing.`);
    expect(result.stderr).toContain(
      `WARNING: ${members[1]} (${KEY}.members[1]) has FAILED in ${array} (marked faulty); once the drive is checked (smartctl -a ${members[1]}) or replaced, take it out and add it back with: mdadm --manage ${array} --remove ${members[1]} && mdadm --manage ${array} --add ${members[1]}`,
    );
    expect(result.stderr).not.toContain(`${members[0]} (${KEY}.members[0])`);
    expect(mutations(result)).toEqual([]);
    expect(blkid(array, "UUID")).toBe(fsUuid);
  });

  it("assembles a degraded array after a reboot without the dead member, and never touches that member", () => {
    const { host, members, array, run } = pi();
    existingArray(host, {
      name: "pi:ladon",
      uuid: UUID,
      state: "stopped",
      device: array,
      members: members.slice(0, 3),
    });
    const result = run();
    expect(result.status).toBe(0);
    expect(result.calls).toContain(
      `mdadm --assemble /dev/md/ladon --run --uuid=${UUID} ${members.slice(0, 3).join(" ")}`,
    );
    expect(result.stderr).toContain("is DEGRADED: 1 member(s) missing");
    expect(creates(result)).toEqual([]);
    expect(isBlank(members[3]!)).toBe(true);
  });

  it("stops at an array that is assembled but inactive, changing nothing", () => {
    const { host, members, array, run } = pi();
    existingArray(host, {
      name: "pi:ladon",
      uuid: UUID,
      state: "inactive",
      device: array,
      members,
      present: members.slice(0, 1),
    });
    const result = run();
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(
      `${array} (${KEY}) is assembled but inactive: too few members to start it`,
    );
    expect(mutations(result)).toEqual([]);
    expect(isBlank(array)).toBe(true);
  });

  it("refuses an array with the expected name but another UUID than config pins", () => {
    const { host, members, array, run } = pi();
    existingArray(host, { name: "pi:ladon", uuid: UUID, state: "running", device: array, members });
    const result = run({ UUID: "11111111:22222222:33333333:44444444" });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(
      `the assembled array ${array} is named ladon but its UUID is ${UUID}, not 11111111:22222222:33333333:44444444; fix ${KEY}.uuid`,
    );
    expect(mutations(result)).toEqual([]);
  });

  it("never formats an adopted array that holds another filesystem", () => {
    const { host, members, array, run } = pi();
    existingArray(host, { name: "pi:ladon", uuid: UUID, state: "running", device: array, members });
    withData("archive")(array);
    const result = run();
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(
      `refusing to format ${array}: it carries filesystem ext4 labelled archive`,
    );
    expect(readFileOn(array, "precious.txt")).toBe("do not lose me\n");
  });
});

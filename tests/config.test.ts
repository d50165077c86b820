/** The one lab schema: the committed lab passes, and each kind of mistake is named by its key. */
import fc from "fast-check";
import * as pulumi from "@pulumi/pulumi";
import {
  LabConfigError,
  formatPath,
  parseSize,
  formatSize,
  isSameDiskOrPartition,
} from "../components/config";
import { parseLabConfig } from "../components/plan";
import { fromConfigMap, parseStackText, StackFileError, stackConfigSource } from "../lib/synth/stackfile";
import {
  addMonitoringPi,
  citadelHost,
  LAB_SECRETS,
  labConfigMap,
  PI_SECRETS,
  piConfigMap,
  piRaid,
} from "./support/lab";

const SET = LAB_SECRETS;

function load(config: Record<string, unknown>, secrets: string[] = SET) {
  return parseLabConfig(stackConfigSource(fromConfigMap(config), secrets), "Pulumi.citadel.yaml");
}

function problemsOf(config: Record<string, unknown>, secrets: string[] = SET): LabConfigError {
  try {
    load(config, secrets);
  } catch (err) {
    if (err instanceof LabConfigError) return err;
    throw err;
  }
  throw new Error("the config was accepted");
}

describe("the committed lab config", () => {
  it("passes, with defaults applied once", () => {
    const { lab } = load(labConfigMap());
    const citadel = lab.hosts.citadel!;
    expect(citadel.address).toBe("192.168.10.29");
    expect(citadel.nvidia?.gpus).toEqual({
      count: 2,
      model: "NVIDIA GeForce RTX 4070 Ti SUPER",
      memoryGiB: 16,
    });
    expect(citadel.storage?.disks.map((d) => d.mountPoint)).toEqual(["/srv/data", "/srv/backup"]);
    expect(citadel.docker?.dataRoot).toBe("/srv/data/docker");
  });

  it("keeps a legitimate 0 and false instead of replacing them with defaults", () => {
    const config = labConfigMap();
    citadelHost(config).nvidia.persistenceMode = false;
    citadelHost(config).nvidia.iommuKernelArgs = [];
    const { lab } = load(config);
    expect(lab.hosts.citadel!.nvidia!.persistenceMode).toBe(false);
    expect(lab.hosts.citadel!.nvidia!.iommuKernelArgs).toEqual([]);
  });

  it("accepts a second host (the monitoring Pi) as config only", () => {
    const config = labConfigMap();
    addMonitoringPi(config, "ladon.hana-x.lab");
    expect(Object.keys(load(config).lab.hosts).sort()).toEqual(["citadel", "pi"]);
  });

  it("accepts a distribution build of Docker, as dockerd reports it (Debian's 20.10.24+dfsg1)", () => {
    const config = labConfigMap();
    citadelHost(config).docker.version = "20.10.24+dfsg1";
    expect(load(config).lab.hosts.citadel?.docker?.version).toBe("20.10.24+dfsg1");
  });
});

type Mutation = (config: Record<string, any>) => void;
const host = citadelHost;
const invalid: [string, Mutation, string, RegExp][] = [
  [
    "an address that is not an IP",
    (c) => (host(c).address = "192.168.10.299"),
    "citadel:hosts.citadel.address",
    /is not an IP address or a host name.*example: "192.168.10.29"/,
  ],
  [
    "an address with spaces",
    (c) => (host(c).address = "citadel lab"),
    "citadel:hosts.citadel.address",
    /not an IP address or a host name/,
  ],
  [
    "a typo in a host key",
    (c) => (host(c).adress = "192.168.10.29"),
    "citadel:hosts.citadel.adress",
    /unknown key "adress" \(did you mean "address"\?\); known keys here: address, arch/,
  ],
  ["a typo in a top-level key", (c) => (c["citadel:host"] = {}), "citadel:host", /unknown key "host"/],
  [
    "a typo deep in storage",
    (c) => (host(c).storage.disks[0].mountpoint = "/srv/x"),
    "citadel:hosts.citadel.storage.disks[0].mountpoint",
    /unknown key/,
  ],
  [
    "two hosts with one address",
    (c) => (c["citadel:hosts"].twin = structuredClone(host(c))),
    "citadel:hosts.twin.address",
    /already the address of host "citadel"/,
  ],
  [
    "a duplicate mount point",
    (c) => (host(c).storage.disks[1].mountPoint = "/srv/data"),
    "citadel:hosts.citadel.storage.disks[1].mountPoint",
    /already used by disks\[0\]/,
  ],
  [
    "a duplicate device",
    (c) => (host(c).storage.disks[1].device = "/dev/nvme1n1"),
    "citadel:hosts.citadel.storage.disks[1].device",
    /already used by disks\[0\]/,
  ],
  [
    "a duplicate label",
    (c) => (host(c).storage.disks[1].label = "data"),
    "citadel:hosts.citadel.storage.disks[1].label",
    /already used/,
  ],
  [
    "an LV target below today's size",
    (c) => (host(c).storage.lvm.size = "50GiB"),
    "citadel:hosts.citadel.storage.lvm.size",
    /smaller than today's 100GiB; storage only grows/,
  ],
  [
    "an LV size that is not a size",
    (c) => (host(c).storage.lvm.size = "lots"),
    "citadel:hosts.citadel.storage.lvm.size",
    /not a size with a binary unit/,
  ],
  [
    "a secondary disk on the PV's drive",
    (c) => (host(c).storage.disks[0].device = "/dev/nvme0n1"),
    "citadel:hosts.citadel.storage.disks[0].device",
    /holds the LVM physical volume \/dev\/nvme0n1p3/,
  ],
  [
    "a secondary disk that is the PV",
    (c) => (host(c).storage.disks[0].device = "/dev/nvme0n1p3"),
    "citadel:hosts.citadel.storage.disks[0].device",
    /holds the LVM physical volume/,
  ],
  [
    "a system path as mount point",
    (c) => (host(c).storage.disks[0].mountPoint = "/var"),
    "citadel:hosts.citadel.storage.disks[0].mountPoint",
    /system path/,
  ],
  [
    "an SSH port out of range",
    (c) => (host(c).ssh.port = 70000),
    "citadel:hosts.citadel.ssh.port",
    /example: 22/,
  ],
  [
    "a host key that is not a public key",
    (c) => (host(c).ssh.hostKey = "AAAAC3Nza"),
    "citadel:hosts.citadel.ssh.hostKey",
    /ssh-keyscan/,
  ],
  [
    "a non-root user without sudo",
    (c) => (host(c).sudo = "none"),
    "citadel:hosts.citadel.sudo",
    /needs passwordless sudo/,
  ],
  [
    "a docker data-root off every mount",
    (c) => (host(c).docker.dataRoot = "/opt/docker"),
    "citadel:hosts.citadel.docker.dataRoot",
    /not inside a mount declared in storage.disks or storage.raids \(\/srv\/data, \/srv\/backup\)/,
  ],
  [
    "a driver branch that is not one",
    (c) => (host(c).nvidia.driver.branch = "58"),
    "citadel:hosts.citadel.nvidia.driver.branch",
    /three-digit driver branch.*example: "580"/,
  ],
  [
    "an unpinned toolkit",
    (c) => (host(c).nvidia.toolkitVersion = "latest"),
    "citadel:hosts.citadel.nvidia.toolkitVersion",
    /apt version such as 1.20.2-1/,
  ],
  [
    "an unpinned docker engine",
    (c) => (host(c).docker.version = "latest"),
    "citadel:hosts.citadel.docker.version",
    /engine version such as 28.5.2/,
  ],
  ["an unknown arch", (c) => (host(c).arch = "x86"), "citadel:hosts.citadel.arch", /example: "amd64"/],
  [
    "a missing RAM size",
    (c) => delete host(c).memoryGiB,
    "citadel:hosts.citadel.memoryGiB",
    /expected number/,
  ],
  ["no hosts at all", (c) => delete c["citadel:hosts"], "citadel:hosts", /expected record/],
  [
    "a zero GPU count",
    (c) => (host(c).nvidia.gpus.count = 0),
    "citadel:hosts.citadel.nvidia.gpus.count",
    /example: 2/,
  ],
  [
    "a host name with a non-ASCII letter",
    (c) => (c["citadel:hosts"]["cïtadel"] = host(c)),
    "citadel:hosts.cïtadel",
    /the name "cïtadel" is not allowed: host names are lower-case letters, digits and -/,
  ],
];

describe("invalid configs are rejected with the key path", () => {
  it.each(invalid)("%s", (_what, mutate, key, message) => {
    const config = labConfigMap();
    mutate(config);
    const err = problemsOf(config);
    const line = err.message.split("\n").find((l) => l.startsWith(`  - ${key}: `));
    expect(line).toBeDefined();
    expect(line).toMatch(message);
    expect(err.message).toMatch(
      /^Invalid lab config in Pulumi.citadel.yaml \(\d+ problems?\); nothing was applied:/,
    );
  });

  it("reports every problem at once", () => {
    const config = labConfigMap();
    host(config).address = "999.1.1.1";
    host(config).ssh.port = 0;
    host(config).storage.lvm.size = "1GiB";
    host(config).typo = true;
    const err = problemsOf(config);
    // Field errors and the cross-field grow-only rule come back together.
    expect(err.problems.map((p) => p.path).sort()).toEqual([
      "citadel:hosts.citadel.address",
      "citadel:hosts.citadel.ssh.port",
      "citadel:hosts.citadel.storage.lvm.size",
      "citadel:hosts.citadel.typo",
    ]);
    expect(err.message).toContain("(4 problems)");
  });

  it("is an error the engine prints without a stack trace, as it prints a pulumi.RunError", () => {
    const err = problemsOf({ ...labConfigMap(), "citadel:typo": true });
    // cmd/run/run.js@3.276.0 hides the stack exactly when RunError.isInstance(err) holds.
    expect(pulumi.RunError.isInstance(err)).toBe(true);
    expect(pulumi.RunError.isInstance(new Error(err.message))).toBe(false);
  });
});

describe("RAID arrays (storage.raids)", () => {
  const loadPi = (config: Record<string, unknown>) =>
    parseLabConfig(
      stackConfigSource(fromConfigMap(config), PI_SECRETS),
      "examples/Pulumi.monitoring-pi.yaml",
    );
  const piProblems = (mutate: Mutation): string[] => {
    const config = piConfigMap();
    mutate(config);
    try {
      loadPi(config);
    } catch (err) {
      if (err instanceof LabConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
      throw err;
    }
    return [];
  };
  const raid = (c: Record<string, any>) => piRaid(c);
  const pi = (c: Record<string, any>) => c["citadel:hosts"].pi;
  const members = (n: number) => Array.from({ length: n }, (_, i) => `/dev/disk/by-id/ata-SSD_${i}`);

  it("accepts the Pi example: four SSDs in RAID10, named, with defaults applied once", () => {
    const { lab } = loadPi(piConfigMap());
    const storage = lab.hosts.pi!.storage!;
    expect(storage.raids).toHaveLength(1);
    expect(storage.raids[0]).toMatchObject({ level: 10, name: "ladon", mountPoint: "/srv/ladon" });
    expect(storage.raids[0]!.members).toHaveLength(4);
    expect(storage.scrubSchedule).toBe("Sun *-*-1..7 01:00:00");
  });

  it("defaults the filesystem, mount options and scrub schedule", () => {
    const config = piConfigMap();
    delete raid(config).filesystem;
    delete raid(config).mountOptions;
    delete pi(config).storage.scrubSchedule;
    const parsed = loadPi(config).lab.hosts.pi!.storage!;
    expect(parsed.raids[0]).toMatchObject({ filesystem: "ext4", mountOptions: ["defaults"] });
    expect(parsed.scrubSchedule).toBe("Sun *-*-1..7 01:00:00");
  });

  // mdadm-4.3's own minimums (Create.c, mdadm.c), and 3 for RAID5 (see components/config/raid.ts).
  it.each([
    [1, 1, "RAID1 needs at least 2 members, but 1 is listed"],
    [5, 2, "RAID5 needs at least 3 members, but 2 are listed"],
    [6, 3, "RAID6 needs at least 4 members, but 3 are listed"],
    [10, 1, "RAID10 needs at least 2 members, but 1 is listed"],
  ])("refuses RAID%i with %i member(s), naming the key", (level, count, message) => {
    expect(
      piProblems((c) => {
        raid(c).level = level;
        raid(c).members = members(count);
      }),
    ).toEqual([`citadel:hosts.pi.storage.raids[0].members: ${message}; add members or choose another level`]);
  });

  it.each([
    [1, 2],
    [5, 3],
    [6, 4],
    // md's RAID10 is not nested 1+0: two members, and odd counts, are valid with near=2.
    [10, 2],
    [10, 3],
  ])("accepts RAID%i with %i members", (level, count) => {
    expect(
      piProblems((c) => {
        raid(c).level = level;
        raid(c).members = members(count);
      }),
    ).toEqual([]);
  });

  it("refuses a level mdadm has but citadel does not create (no redundancy)", () => {
    expect(piProblems((c) => (raid(c).level = 0))).toEqual([
      "citadel:hosts.pi.storage.raids[0].level: must be 1, 5, 6 or 10, the redundant mdadm levels",
    ]);
  });

  it("refuses a member that is also a secondary disk, or a partition of one", () => {
    expect(
      piProblems((c) => {
        pi(c).storage.disks = [
          { device: "/dev/disk/by-id/ata-HAT_SSD_BAY3_SERIAL_UNRECORDED", label: "x", mountPoint: "/srv/x" },
        ];
      }),
    ).toEqual([
      "citadel:hosts.pi.storage.raids[0].members[2]: /dev/disk/by-id/ata-HAT_SSD_BAY3_SERIAL_UNRECORDED is also disks[0] (/dev/disk/by-id/ata-HAT_SSD_BAY3_SERIAL_UNRECORDED); a drive is either a disk or a RAID member, so remove it from one",
    ]);
    expect(
      piProblems((c) => {
        pi(c).storage.disks = [
          {
            device: "/dev/disk/by-id/ata-HAT_SSD_BAY4_SERIAL_UNRECORDED-part1",
            label: "x",
            mountPoint: "/srv/x",
          },
        ];
      }),
    ).toEqual([
      expect.stringMatching(/^citadel:hosts\.pi\.storage\.raids\[0\]\.members\[3\]: .* is also disks\[0\]/),
    ]);
  });

  it("refuses a member listed twice, or in two arrays", () => {
    expect(piProblems((c) => (raid(c).members[1] = raid(c).members[0]))).toEqual([
      "citadel:hosts.pi.storage.raids[0].members[1]: /dev/disk/by-id/ata-HAT_SSD_BAY1_SERIAL_UNRECORDED is already listed as raids[0].members[0]; a drive belongs to one array, once",
    ]);
    expect(
      piProblems((c) => {
        const second = structuredClone(raid(c));
        Object.assign(second, { name: "other", label: "other", mountPoint: "/srv/other", level: 1 });
        second.members = [raid(c).members[3], "/dev/disk/by-id/usb-Stick"];
        pi(c).storage.raids.push(second);
      }),
    ).toEqual([
      "citadel:hosts.pi.storage.raids[1].members[0]: /dev/disk/by-id/ata-HAT_SSD_BAY4_SERIAL_UNRECORDED is already listed as raids[0].members[3]; a drive belongs to one array, once",
    ]);
  });

  it("refuses a member on the LVM physical volume's drive", () => {
    const config = labConfigMap();
    citadelHost(config).storage.raids = [
      { level: 1, members: ["/dev/nvme0n1", "/dev/sdb"], label: "mirror", mountPoint: "/srv/mirror" },
    ];
    const err = problemsOf(config);
    expect(err.message).toContain(
      "citadel:hosts.citadel.storage.raids[0].members[0]: /dev/nvme0n1 holds the LVM physical volume /dev/nvme0n1p3; a RAID member must be a different drive",
    );
  });

  it("keeps mount points, labels and md names unique across disks and arrays", () => {
    expect(
      piProblems((c) => {
        pi(c).storage.disks = [{ device: "/dev/sdz", label: "ladon", mountPoint: "/srv/ladon" }];
      }),
    ).toEqual([
      "citadel:hosts.pi.storage.raids[0].mountPoint: mount point /srv/ladon is already used by disks[0]; each disk and array needs its own",
      "citadel:hosts.pi.storage.raids[0].label: label ladon is already used by disks[0]; each disk and array needs its own",
    ]);
    expect(
      piProblems((c) => {
        const second = structuredClone(raid(c));
        Object.assign(second, { label: "two", mountPoint: "/srv/two", level: 1 });
        second.members = ["/dev/sdx", "/dev/sdy"];
        pi(c).storage.raids.push(second);
      }),
    ).toEqual([
      "citadel:hosts.pi.storage.raids[1].name: md name ladon is already used by raids[0]; give each array its own name",
    ]);
  });

  it("refuses a UUID that is not mdadm's form, and one array declared twice by UUID", () => {
    expect(piProblems((c) => (raid(c).uuid = "3b2a6f1e-9c0d-4e7a-51f2-b8c36d7e8f90"))).toEqual([
      "citadel:hosts.pi.storage.raids[0].uuid: must be an md UUID such as 3b2a6f1e:9c0d4e7a:51f2b8c3:6d7e8f90",
    ]);
    expect(
      piProblems((c) => {
        raid(c).uuid = "3b2a6f1e:9c0d4e7a:51f2b8c3:6d7e8f90";
        const second = structuredClone(raid(c));
        Object.assign(second, { name: "two", label: "two", mountPoint: "/srv/two", level: 1 });
        second.uuid = second.uuid.toUpperCase();
        second.members = ["/dev/sdx", "/dev/sdy"];
        pi(c).storage.raids.push(second);
      }),
    ).toEqual([
      "citadel:hosts.pi.storage.raids[1].uuid: UUID 3B2A6F1E:9C0D4E7A:51F2B8C3:6D7E8F90 is already raids[0]'s; one array is declared once",
    ]);
  });

  it("lets Docker's data-root and the LadonStack's data sit on the array, and checks retention against its usable size", () => {
    expect(piProblems((c) => (pi(c).docker.dataRoot = "/srv/elsewhere/docker"))).toEqual([
      "citadel:hosts.pi.docker.dataRoot: /srv/elsewhere/docker is not inside a mount declared in storage.disks or storage.raids (/srv/ladon); put it under one, or use /var/lib/docker",
    ]);
    // 4 x 32 GiB in RAID10 is 64 GiB; 80% of it cannot hold 50 GiB of Prometheus and 31 days of 1 GiB of logs.
    expect(piProblems((c) => (raid(c).memberSize = "32GiB"))).toEqual([
      expect.stringMatching(
        /^citadel:ladon\.prometheus\.retentionSize: .*more than 80% of the 64GiB volume at \/srv\/ladon/,
      ),
    ]);
  });
});

describe("secrets", () => {
  it("names the missing required secret and the exact command that sets it", () => {
    const config = labConfigMap();
    host(config).ssh.auth = "privateKey";
    const err = problemsOf(config);
    expect(err.message).toContain(
      "citadel:sshPrivateKey: required secret is not set (SSH private key for hosts with ssh.auth: privateKey",
    );
    expect(err.message).toContain(
      "run `pulumi config set --secret citadel:sshPrivateKey < ~/.ssh/id_ed25519`",
    );
  });

  it("accepts the required secret when it is set as a secret", () => {
    const config = labConfigMap();
    host(config).ssh.auth = "privateKey";
    expect(load(config, ["sshPrivateKey", ...SET]).secretKeys).toEqual([...SET, "sshPrivateKey"].sort());
  });

  it("rejects a secret stored in plaintext without echoing its value", () => {
    const config = labConfigMap();
    config["citadel:sshPrivateKey"] = "-----BEGIN OPENSSH PRIVATE KEY----- hunter2";
    const err = problemsOf(config);
    expect(err.message).toContain("citadel:sshPrivateKey: is stored in plaintext");
    expect(err.message).not.toContain("hunter2");
  });

  it("treats a secure: value in the stack file as a set secret", () => {
    const config = labConfigMap();
    host(config).ssh.auth = "privateKey";
    config["citadel:sshPrivateKey"] = { secure: "v1:abc" };
    expect(load(config).secretKeys).toEqual([...SET, "sshPrivateKey"].sort());
  });
});

describe("stack file parsing", () => {
  it("rejects a host declared twice instead of silently keeping the last one", () => {
    const text =
      "config:\n  citadel:hosts:\n    citadel:\n      address: 192.168.10.29\n    citadel:\n      address: 192.168.10.35\n";
    expect(() => parseStackText(text, "citadel")).toThrow(StackFileError);
    expect(() => parseStackText(text, "citadel")).toThrow(/Map keys must be unique/);
  });
});

describe("helpers", () => {
  it("formats paths the way `pulumi config set --path` names them", () => {
    expect(formatPath(["hosts", "citadel", "storage", "disks", 0, "device"])).toBe(
      "citadel:hosts.citadel.storage.disks[0].device",
    );
  });

  it("parses and formats sizes", () => {
    expect(parseSize("100GiB")).toBe(100 * 1024 ** 3);
    expect(parseSize("1.5TiB")).toBe(1.5 * 1024 ** 4);
    expect(parseSize("100GB")).toBeUndefined();
    expect(formatSize(3 * 1024 ** 4)).toBe("3TiB");
    // formatSize is for people: two decimals, so a round trip is within half a percent.
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 50 }),
        (n) => Math.abs((parseSize(formatSize(n)) as number) - n) / n < 0.005,
      ),
    );
  });

  it("recognises a disk's own partitions", () => {
    expect(isSameDiskOrPartition("/dev/nvme0n1", "/dev/nvme0n1p3")).toBe(true);
    expect(isSameDiskOrPartition("/dev/sda", "/dev/sda2")).toBe(true);
    expect(isSameDiskOrPartition("/dev/disk/by-id/nvme-X", "/dev/disk/by-id/nvme-X-part3")).toBe(true);
    expect(isSameDiskOrPartition("/dev/sda", "/dev/sdb1")).toBe(false);
    expect(isSameDiskOrPartition("/dev/nvme1n1", "/dev/nvme1n10")).toBe(false);
    expect(isSameDiskOrPartition("/dev/mmcblk0", "/dev/mmcblk0p2")).toBe(true);
    expect(isSameDiskOrPartition("/dev/nvme1n1", "/dev/nvme0n1p3")).toBe(false);
  });
});

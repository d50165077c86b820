/**
 * The host and ops config checks that read more than one key (components/config/schema.ts
 * `checkLab`, `storageProblems`, `checkDocker`, the host key's blob): each refusal at its key with
 * its message, and the edge values accepted. Pure and fast (no synthesis), from the committed
 * stack file with a key or two changed.
 */
import {
  isSameDiskOrPartition,
  type ConfigProblem,
  storageProblems,
  type RaidConfig,
} from "../components/config";
import { addMonitoringPi, labConfigMap } from "./support/lab";
import { loadLab, messagesAt, problemsOf, verdict, withKey, type ConfigMap } from "./support/verdict";

const HOST = "citadel:hosts.citadel";

/** An SSH wire string: a 4-byte big-endian length, then the bytes (RFC 4251 5). */
const sshString = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
/** A host key line of `type` over a blob naming `inner` with a key of `bytes` bytes (RFC 8709 4). */
const hostKey = (type: string, inner: string, bytes: number) =>
  `${type} ${Buffer.concat([sshString(Buffer.from(inner)), sshString(Buffer.alloc(bytes, 7))]).toString("base64")}`;

describe("hosts", () => {
  const address = (value: string) =>
    messagesAt(verdict(withKey(`${HOST}.address`, value)), `${HOST}.address`);
  const notAnAddress = (value: string) => [`${JSON.stringify(value)} is not an IP address or a host name`];

  it.each([
    ["a one-letter label", "x.lab"],
    ["a name of 253 characters", `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`],
    ["digits and dots after a letter", "a1.2"],
    ["digits and dots before a letter", "1.2a"],
  ])("takes %s as an address", (_what, value) => {
    expect(address(value)).toEqual([]);
  });

  it.each([
    ["a name of 254 characters", `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(62)}`],
    ["digits and dots that are no IP address", "192.168.10.299"],
    ["a label that ends in -", "citadel-.lab"],
  ])("refuses %s as an address", (_what, value) => {
    expect(address(value)).toEqual(notAnAddress(value));
  });

  it.each(["/", "/boot", "/boot/efi", "/etc", "/usr", "/var", "/home", "/proc", "/sys", "/dev"])(
    "never mounts a data disk over the system path %s",
    (system) => {
      const config = labConfigMap();
      config["citadel:hosts"].citadel.storage.disks[0].mountPoint = system;
      expect(messagesAt(verdict(config), `${HOST}.storage.disks[0].mountPoint`)).toEqual([
        system === "/"
          ? "must be an absolute path without a trailing slash"
          : `${system} is a system path, not a data mount`,
      ]);
    },
  );

  it("needs at least one host", () => {
    expect(messagesAt(verdict(withKey("citadel:hosts", {})), "citadel:hosts")).toEqual([
      "declare at least one host",
    ]);
  });

  it("takes a kernel argument with or without a value", () => {
    expect(verdict(withKey(`${HOST}.nvidia.iommuKernelArgs`, ["intel_iommu=on", "nomodeset"]))).toBe(
      "accepted",
    );
  });

  it("puts Docker's data at Docker's own default, /var/lib/docker, when the stack names no data root", () => {
    const config = withKey(`${HOST}.docker`, { version: "28.5.2" });
    expect(loadLab(config).lab.hosts.citadel?.docker?.dataRoot).toBe("/var/lib/docker");
  });

  it("backs up more host paths only when they are absolute", () => {
    expect(verdict(withKey("citadel:ops.backups.extraPaths", ["/srv/extra", "/etc/citadel"]))).toBe(
      "accepted",
    );
    expect(
      messagesAt(
        verdict(withKey("citadel:ops.backups.extraPaths", ["srv/extra"])),
        "citadel:ops.backups.extraPaths",
      ),
    ).toEqual(["must be an absolute path"]);
  });

  it("gives the Grafana provider an http or https URL only", () => {
    expect(verdict(withKey("citadel:ladon.grafana.url", "https://grafana.hana-x.lab"))).toBe("accepted");
    for (const url of ["xhttps://192.168.10.29:9900", "httpx://192.168.10.29:9900", "ftp://192.168.10.29"])
      expect([
        url,
        messagesAt(verdict(withKey("citadel:ladon.grafana.url", url)), "citadel:ladon.grafana.url"),
      ]).toEqual([url, [expect.any(String)]]);
  });

  it("takes toolkit versions with numbers of several digits", () => {
    expect(verdict(withKey(`${HOST}.nvidia.toolkitVersion`, "10.20.30-12"))).toBe("accepted");
  });

  it("refuses one address for two hosts, whatever its case", () => {
    const config = withKey(`${HOST}.address`, "Citadel.LAB");
    addMonitoringPi(config, "citadel.lab");
    expect(messagesAt(verdict(config), "citadel:hosts.pi.address")).toEqual([
      'citadel.lab is already the address of host "citadel"; each host is declared once',
    ]);
  });

  it("asks a user that is not root for passwordless sudo, and lets root be", () => {
    expect(messagesAt(verdict(withKey(`${HOST}.sudo`, "none")), `${HOST}.sudo`)).toEqual([
      'user "hxadmin" is not root, so it needs passwordless sudo; set sudo: passwordless',
    ]);
    const root = withKey(`${HOST}.ssh.user`, "root", withKey(`${HOST}.sudo`, "none"));
    expect(verdict(root)).toBe("accepted");
  });

  it("takes an ed25519 host key whose blob names its type and holds 32 bytes, and nothing else", () => {
    expect(verdict(withKey(`${HOST}.ssh.hostKey`, hostKey("ssh-ed25519", "ssh-ed25519", 32)))).toBe(
      "accepted",
    );
    const refused = (key: string) =>
      messagesAt(verdict(withKey(`${HOST}.ssh.hostKey`, key)), `${HOST}.ssh.hostKey`);
    const notA = (type: string) =>
      `the base64 part does not encode a ${type} key (encoding: the key's type is also written inside it, RFC 4253 6.6); copy the line ssh-keyscan -t ed25519 <address> | cut -d' ' -f2- prints, unchanged`;
    expect(refused(hostKey("ssh-ed25519", "ssh-ed25519", 31))).toEqual([notA("ssh-ed25519")]);
    expect(refused(hostKey("ssh-ed25519", "ssh-ed25519", 33))).toEqual([notA("ssh-ed25519")]);
    expect(refused(hostKey("ssh-rsa", "ssh-ed25519", 32))).toEqual([notA("ssh-rsa")]);
    expect(refused(hostKey("ssh-ed25519", "ssh-ed25519x", 32))).toEqual([notA("ssh-ed25519")]);
    expect(refused("ssh-ed25519 AAA=")).toEqual([notA("ssh-ed25519")]);
    // Another key type is checked for its name only: its length is its own.
    expect(verdict(withKey(`${HOST}.ssh.hostKey`, hostKey("ssh-rsa", "ssh-rsa", 300)))).toBe("accepted");
  });

  it("refuses an LV smaller than it is today, and takes today's size", () => {
    expect(
      messagesAt(verdict(withKey(`${HOST}.storage.lvm.size`, "99GiB")), `${HOST}.storage.lvm.size`),
    ).toEqual([
      '99GiB is smaller than today\'s 100GiB; storage only grows, so use 100GiB or more, or "all-free"',
    ]);
    expect(verdict(withKey(`${HOST}.storage.lvm.size`, "100GiB"))).toBe("accepted");
  });

  it("puts Docker's data root inside a declared mount, or at Docker's own default", () => {
    const docker = (dataRoot: string): ConfigMap =>
      withKey(`${HOST}.docker`, { version: "28.5.2", dataRoot });
    expect(verdict(docker("/srv/data/docker"))).toBe("accepted");
    expect(verdict(docker("/var/lib/docker"))).toBe("accepted");
    for (const root of ["/opt/docker", "/srv/data", "/srv/database/docker"])
      expect([root, messagesAt(verdict(docker(root)), `${HOST}.docker.dataRoot`)]).toEqual([
        root,
        [
          `${root} is not inside a mount declared in storage.disks or storage.raids (/srv/data, /srv/backup); put it under one, or use /var/lib/docker`,
        ],
      ]);
    const bare = withKey(`${HOST}.storage`, undefined, docker("/opt/docker"));
    expect(messagesAt(verdict(bare), `${HOST}.docker.dataRoot`)).toEqual([
      "/opt/docker is not inside a mount declared in storage.disks or storage.raids (none); put it under one, or use /var/lib/docker",
    ]);
  });

  it("needs a log rotation size above zero", () => {
    const config = withKey(`${HOST}.docker`, { version: "28.5.2", log: { maxSize: "0m" } });
    expect(messagesAt(verdict(config), `${HOST}.docker.log.maxSize`)).toEqual([
      '0m is no size: log rotation needs a positive max-size; use "50m"',
    ]);
  });
});

describe("ops", () => {
  it("refuses SSH from anywhere unless acknowledged", () => {
    const open = withKey("citadel:ops.firewall.adminSubnet", "0.0.0.0/0");
    expect(messagesAt(verdict(open), "citadel:ops.firewall.adminSubnet")).toEqual([
      "0.0.0.0/0 lets SSH in from the whole internet; give the subnet of the machine that runs pulumi (e.g. 192.168.10.0/24), or acknowledge it with ops.firewall.adminFromAnywhere: true",
    ]);
    expect(verdict(withKey("citadel:ops.firewall.adminFromAnywhere", true, open))).toBe("accepted");
  });

  it("backs up to a host that exists, outside the data it backs up", () => {
    expect(
      messagesAt(verdict(withKey("citadel:ops.backups.host", "vault")), "citadel:ops.backups.host"),
    ).toEqual(['no host named "vault" in citadel:hosts (citadel)']);
    expect(
      messagesAt(
        verdict(withKey("citadel:ops.backups.repository", "/srv/data/ladon/restic")),
        "citadel:ops.backups.repository",
      ),
    ).toEqual([
      "/srv/data/ladon/restic is inside the data it backs up (/srv/data/ladon); put it on the backup disk",
    ]);
    expect(verdict(withKey("citadel:ops.backups.repository", "/srv/data/ladon-restic"))).toBe("accepted");
  });

  it("checks the backup host only once the hosts themselves are valid, so one mistake is not reported twice", () => {
    const config = withKey("citadel:ops.backups.host", "vault", withKey(`${HOST}.sudo`, "none"));
    const problems = verdict(config);
    expect(messagesAt(problems, `${HOST}.sudo`)).toHaveLength(1);
    expect(messagesAt(problems, "citadel:ops.backups.host")).toEqual([]);
    // The firewall reads no host: its check runs beside a broken host.
    const both = withKey("citadel:ops.firewall.adminSubnet", "0.0.0.0/0", withKey(`${HOST}.sudo`, "none"));
    expect(messagesAt(verdict(both), "citadel:ops.firewall.adminSubnet")).toHaveLength(1);
  });
});

/** The problems the loader reports for `config`; it must refuse it. */
function problems(config: ConfigMap): ConfigProblem[] {
  const found = problemsOf(config);
  if (found === "accepted") throw new Error("the config was accepted");
  return found;
}

const RAID = (label: string, members: string[], more: ConfigMap = {}): ConfigMap => ({
  level: 1,
  members,
  label,
  mountPoint: `/srv/${label}`,
  ...more,
});

describe("one mistake, one message: a rule that spans fields waits until the fields it reads are valid", () => {
  it("storage: a broken label hides the grow-only rule until it is fixed", () => {
    const config = withKey(`${HOST}.storage.lvm.size`, "99GiB");
    config["citadel:hosts"].citadel.storage.disks[0].label = "data disk";
    expect(messagesAt(verdict(config), `${HOST}.storage`)).toEqual(["must be 1-12 letters, digits, _ or -"]);
  });

  it("docker: a broken version hides the data root's placement until it is fixed", () => {
    const config = withKey(`${HOST}.docker`, { version: "latest", dataRoot: "/opt/docker" });
    expect(messagesAt(verdict(config), `${HOST}.docker`)).toEqual([
      "must be an engine version such as 28.5.2",
    ]);
  });

  it("firewall: a broken subnet beside it hides the SSH-from-anywhere rule until it is fixed", () => {
    // A value of the wrong type aborts zod's checks of the whole lab; a broken pattern does not.
    const config = withKey(
      "citadel:ops.firewall.labSubnet",
      "192.168.10.0/33",
      withKey("citadel:ops.firewall.adminSubnet", "0.0.0.0/0"),
    );
    const all = verdict(config);
    expect(messagesAt(all, "citadel:ops.firewall.adminSubnet")).toEqual([]);
    expect(messagesAt(all, "citadel:ops.firewall.labSubnet")).toHaveLength(1);
  });

  it("backups: the repository is placed against the LadonStack's data only once that section is valid", () => {
    const config = withKey(
      "citadel:ops.backups.host",
      "vault",
      withKey("citadel:ladon.prometheus.retentionTime", "15 days"),
    );
    const all = verdict(config);
    expect(messagesAt(all, "citadel:ladon.prometheus.retentionTime")).toHaveLength(1);
    expect(messagesAt(all, "citadel:ops.backups")).toEqual([]);
  });

  it("a rule that spans fields gives its own fix and no field example, which would mislead", () => {
    const cases: [string, unknown][] = [
      [`${HOST}.sudo`, "none"],
      [`${HOST}.storage.lvm.size`, "99GiB"],
      [`${HOST}.docker.dataRoot`, "/opt/docker"],
      ["citadel:ops.firewall.adminSubnet", "0.0.0.0/0"],
      ["citadel:ops.backups.host", "vault"],
      ["citadel:ops.backups.repository", "/srv/data/ladon/restic"],
    ];
    for (const [key, value] of cases) {
      const found = problems(withKey(key, value));
      expect([key, found.map((p) => p.path)]).toEqual([key, [key]]);
      expect([key, found[0]?.example]).toEqual([key, undefined]);
    }
    // A field's own rule does quote its example: the contrast that makes the case above mean something.
    expect(problems(withKey(`${HOST}.docker.dataRoot`, "srv"))[0]?.example).toBe("/srv/data/docker");
  });
});

describe("RAID arrays' names, labels and mount points", () => {
  const raids = (...arrays: ConfigMap[]): ConfigMap => {
    const config = withKey(`${HOST}.storage.raids`, arrays);
    return config;
  };
  const M = ["/dev/disk/by-id/ata-A", "/dev/disk/by-id/ata-B"];
  const N = ["/dev/disk/by-id/ata-C", "/dev/disk/by-id/ata-D"];

  it("reports two arrays named after one label once, as a duplicate label", () => {
    expect(
      messagesAt(verdict(raids(RAID("md", M), RAID("md", N, { mountPoint: "/srv/md2" }))), `${HOST}.storage`),
    ).toEqual(["label md is already used by raids[0]; each disk and array needs its own"]);
    // The loader keeps one problem a key, so the rule is asked too: one problem, not a second as an md name.
    const array = (label: string, members: string[], mountPoint: string): RaidConfig => ({
      level: 1,
      members,
      filesystem: "ext4",
      label,
      mountPoint,
      mountOptions: ["defaults"],
    });
    expect(
      storageProblems({ disks: [], raids: [array("md", M, "/srv/md"), array("md", N, "/srv/md2")] }),
    ).toEqual([
      {
        path: ["raids", 1, "label"],
        message: "label md is already used by raids[0]; each disk and array needs its own",
      },
    ]);
  });

  it("names the key that set the md name twice: the label when the later array has no name", () => {
    const all = verdict(raids(RAID("one", M, { name: "fast" }), RAID("fast", N)));
    expect(messagesAt(all, `${HOST}.storage.raids[1].label`)).toEqual([
      "md name fast is already used by raids[0]; give each array its own name",
    ]);
    const named = verdict(raids(RAID("one", M, { name: "fast" }), RAID("two", N, { name: "fast" })));
    expect(messagesAt(named, `${HOST}.storage.raids[1].name`)).toEqual([
      "md name fast is already used by raids[0]; give each array its own name",
    ]);
  });

  it("names the array that already has a mount point", () => {
    expect(
      messagesAt(
        verdict(raids(RAID("one", M), RAID("two", N, { mountPoint: "/srv/one" }))),
        `${HOST}.storage`,
      ),
    ).toEqual(["mount point /srv/one is already used by raids[0]; each disk and array needs its own"]);
  });
});

describe("a drive and its partitions", () => {
  it.each([
    ["/dev/sda", "/dev/sda", true],
    ["/dev/sda", "/dev/sda2", true],
    ["/dev/sda", "/dev/sdab", false],
    ["/dev/sda", "/dev/sda2x", false],
    ["/dev/nvme0n1", "/dev/nvme0n1p3", true],
    ["/dev/nvme0n1", "/dev/nvme0n10", false],
    ["/dev/nvme0n1", "/dev/nvme0n1p3x", false],
    ["/dev/nvme0n1", "/dev/nvme0n1xp3", false],
    ["/dev/disk/by-id/nvme-X", "/dev/disk/by-id/nvme-X-part3", true],
    ["/dev/disk/by-id/nvme-X", "/dev/disk/by-id/nvme-Xa-part3", false],
    ["/dev/disk/by-id/nvme-X", "/dev/disk/by-id/nvme-X-part3a", false],
    ["/dev/disk/by-id/nvme-X", "/dev/disk/by-id/nvme-X-part", false],
    ["/dev/md1", "/dev/md1p2", true],
    ["/dev/md1", "/dev/md12", false],
    // Partition numbers of two digits, and a name with a digit inside it but not at its end.
    ["/dev/disk/by-id/nvme-X", "/dev/disk/by-id/nvme-X-part12", true],
    ["/dev/nvme0n1", "/dev/nvme0n1p12", true],
    ["/dev/sda", "/dev/sda12", true],
    ["/dev/sda", "/dev/sdax2", false],
    ["/dev/vd1a", "/dev/vd1a2", true],
  ])("%s and %s: %s", (disk, pv, same) => {
    expect(isSameDiskOrPartition(disk, pv)).toBe(same);
  });
});

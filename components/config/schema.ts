/**
 * The one schema of the lab. Every stack setting under the `citadel:` namespace is declared here,
 * with an example that the loader quotes when a value is wrong. Later layers (vLLM, LadonStack,
 * backups) add their own top-level sections to `LabConfigSchema`.
 */
import { isIP } from "node:net";
import { z } from "zod";
import { HOST_PINS } from "../pins";
import type { Problem } from "../shared/problem";
import { SIZE_PATTERN, parseSize } from "./units";
import { VllmSchema } from "./vllm";
import { LadonSchema } from "./ladon";
import { OnCalendar, OpsSchema } from "./ops";
import { DEFAULT_SCRUB_SCHEDULE, RAID_LEVELS, RAID_MIN_MEMBERS } from "./raid";

const example = (value: unknown) => ({ example: value });

const HOSTNAME =
  /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
const ALL_DIGITS_AND_DOTS = /^[0-9.]+$/;

/** An IPv4/IPv6 address or an RFC 1123 host name. "192.168.10.299" is neither. */
export const Address = z
  .string()
  .refine((v) => isIP(v) !== 0 || (HOSTNAME.test(v) && !ALL_DIGITS_AND_DOTS.test(v)), {
    error: (issue) => `${JSON.stringify(issue.input)} is not an IP address or a host name`,
  })
  .meta(example("192.168.10.29"));

export const Size = z
  .string()
  .regex(SIZE_PATTERN, { error: (i) => `${JSON.stringify(i.input)} is not a size with a binary unit` })
  .meta(example("100GiB"));

const DevicePath = z
  .string()
  .regex(/^\/dev\/[A-Za-z0-9._:/-]+$/, { error: "must be a block device path under /dev" })
  .meta(example("/dev/disk/by-id/nvme-Samsung_SSD_990_PRO_2TB_S7DNNJ0X000000A"));

const MountPoint = z
  .string()
  .regex(/^\/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$/, { error: "must be an absolute path without a trailing slash" })
  .refine((p) => !SYSTEM_PATHS.has(p), {
    error: (i) => `${String(i.input)} is a system path, not a data mount`,
  })
  .meta(example("/srv/data"));

const SYSTEM_PATHS = new Set([
  "/",
  "/boot",
  "/boot/efi",
  "/etc",
  "/usr",
  "/var",
  "/home",
  "/proc",
  "/sys",
  "/dev",
]);

const HostKey = z
  .string()
  .regex(/^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,3}$/, {
    error: "must be the host's public key as `ssh-keyscan -t ed25519 <address>` prints it, without the host",
  })
  .refine(hostKeyBlobMatches, {
    error: (i) =>
      `the base64 part does not encode a ${String(i.input).split(" ")[0]} key (encoding: the key's type is also written inside it, RFC 4253 6.6); copy the line ssh-keyscan -t ed25519 <address> | cut -d' ' -f2- prints, unchanged`,
  })
  .meta(example("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"));

/**
 * Whether a host key's base64 blob names the same type as its prefix (RFC 4253 6.6: the blob
 * starts with the key type as an SSH string), and an ed25519 blob holds exactly one 32-byte key
 * (RFC 8709 4). A key pasted with the wrong prefix, or cut short, fails here instead of at connect.
 */
function hostKeyBlobMatches(key: string): boolean {
  const [type, data] = key.split(" ") as [string, string | undefined];
  if (data === undefined) return true; // the pattern reports it
  const blob = Buffer.from(data, "base64");
  if (blob.length < 4) return false;
  const length = blob.readUInt32BE(0);
  if (blob.subarray(4, 4 + length).toString("latin1") !== type) return false;
  return type !== "ssh-ed25519" || blob.length === 4 + 11 + 4 + 32;
}

const LvmName = z
  .string()
  .regex(/^[A-Za-z0-9+_.][A-Za-z0-9+_.-]*$/, { error: "must be an LVM name (letters, digits, + _ . -)" })
  .meta(example("ubuntu-vg"));

const SshSchema = z.strictObject({
  /** The login user. Non-root users need passwordless sudo (`sudo: passwordless`). */
  user: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: "must be a Unix user name" })
    .meta(example("hxadmin")),
  /** @default 22 */
  port: z.number().int().min(1).max(65535).default(22).meta(example(22)),
  /** Pinned host key; any other key is refused, so a spoofed host never receives a command. */
  hostKey: HostKey,
  /** `agent` uses SSH_AUTH_SOCK; `privateKey` reads the secret `citadel:sshPrivateKey`. @default "agent" */
  auth: z.enum(["agent", "privateKey"]).default("agent").meta(example("agent")),
});

const LvmSchema = z.strictObject({
  vg: LvmName,
  lv: LvmName.meta(example("ubuntu-lv")),
  /** The physical volume under the VG; secondary disks may never be this device or its disk. */
  pv: DevicePath.meta(example("/dev/nvme0n1p3")),
  /** The LV's size today (`lvs --units b`). The target may never be smaller: storage only grows. */
  currentSize: Size,
  /** Target size, or `all-free` to take every free extent of the VG. */
  size: z.union([z.literal("all-free"), Size]).meta(example("3TiB")),
  /** The filesystem on the LV, grown online after the LV. @default "ext4" */
  filesystem: z.enum(["ext4", "xfs"]).default("ext4").meta(example("ext4")),
});

/** `nofail` is always added so a dead disk never blocks boot. @default ["defaults"] */
const MountOptions = z
  .array(z.string().regex(/^[a-z0-9_=.,-]+$/, { error: "must be a mount option such as noatime" }))
  .default(["defaults"])
  .meta(example(["defaults", "noatime"]));

const Label = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,12}$/, { error: "must be 1-12 letters, digits, _ or -" })
  .meta(example("data"));

const OptionalSize = z
  .string()
  .regex(SIZE_PATTERN, { error: (i) => `${JSON.stringify(i.input)} is not a size with a binary unit` })
  .optional()
  .meta(example("1TiB"));

const DiskSchema = z.strictObject({
  /** Prefer a stable `/dev/disk/by-id/...` path; kernel names such as /dev/sda can move between boots. */
  device: DevicePath,
  /** @default "ext4" */
  filesystem: z.enum(["ext4", "xfs"]).default("ext4").meta(example("ext4")),
  /** Filesystem label, also how an existing filesystem is recognised as the expected one. */
  label: Label,
  mountPoint: MountPoint,
  /** The disk's size, for checking what is placed on it (e.g. retention). @default unknown */
  size: OptionalSize,
  /** `nofail` is always added so a dead disk never blocks boot. @default ["defaults"] */
  mountOptions: MountOptions,
});

const RaidSchema = z.strictObject({
  /** mdadm RAID level: 1 (mirror), 5, 6 (parity) or 10 (striped mirrors, md's near=2 layout). */
  level: z
    .literal(RAID_LEVELS, { error: "must be 1, 5, 6 or 10, the redundant mdadm levels" })
    .meta(example(10)),
  /**
   * The member drives, whole disks; prefer `/dev/disk/by-id/...` paths. The array is created only
   * when every member is blank (no filesystem, partition table, RAID superblock or LVM signature).
   */
  members: z
    .array(DevicePath)
    .meta(
      example([
        "/dev/disk/by-id/ata-Samsung_SSD_870_EVO_1TB_S6PTNX0T000001A",
        "/dev/disk/by-id/ata-Samsung_SSD_870_EVO_1TB_S6PTNX0T000002B",
      ]),
    ),
  /** The filesystem made on the array. @default "ext4" */
  filesystem: z.enum(["ext4", "xfs"]).default("ext4").meta(example("ext4")),
  /** Filesystem label on the array, also how an existing filesystem is recognised as the expected one. */
  label: Label,
  mountPoint: MountPoint,
  /** `nofail` is always added so a dead array never blocks boot. @default ["defaults"] */
  mountOptions: MountOptions,
  /**
   * The md array's name (/dev/md/<name>); an existing array with this name is adopted, never
   * recreated. @default the label
   */
  name: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,32}$/, { error: "must be 1-32 letters, digits, _ or -" })
    .optional()
    .meta(example("ladon")),
  /**
   * The array's UUID as `mdadm --detail` prints it, to adopt an array made by hand whatever its
   * name. @default none (adopted by name)
   */
  uuid: z
    .string()
    .regex(/^[0-9a-fA-F]{8}(:[0-9a-fA-F]{8}){3}$/, {
      error: "must be an md UUID such as 3b2a6f1e:9c0d4e7a:51f2b8c3:6d7e8f90",
    })
    .optional()
    .meta(example("3b2a6f1e:9c0d4e7a:51f2b8c3:6d7e8f90")),
  /**
   * Each member's size: a member far from it is probably the wrong disk, and the array's usable
   * size (from it, the level and the count) checks what is placed on it. @default unknown
   */
  memberSize: OptionalSize,
});

const StorageSchema = z.strictObject({
  lvm: LvmSchema.optional(),
  /** @default [] */
  disks: z.array(DiskSchema).default([]),
  /** mdadm software RAID arrays, each mounted like a disk. @default [] */
  raids: z.array(RaidSchema).default([]),
  /**
   * When the monthly scrub (`check`) of every array starts, as systemd OnCalendar. Only hosts with
   * raids get the timer. @default "Sun *-*-1..7 01:00:00" (the first Sunday of the month)
   */
  scrubSchedule: OnCalendar.meta(example(DEFAULT_SCRUB_SCHEDULE)).default(DEFAULT_SCRUB_SCHEDULE),
});

const NvidiaSchema = z.strictObject({
  driver: z.strictObject({
    /** Driver branch from Ubuntu's archive, pinned deliberately (old branch names are transitional). */
    branch: z
      .string()
      .regex(/^\d{3}$/, { error: "must be a three-digit driver branch" })
      .meta(example("580")),
    /** `server` installs the -server (production branch) packages. @default "server" */
    flavor: z.enum(["server", "desktop"]).default("server").meta(example("server")),
    /** Headless driver plus utils, no X stack, for a compute server. @default true */
    headless: z.boolean().default(true).meta(example(true)),
  }),
  /** nvidia-container-toolkit apt version, every package of the toolkit pinned to it. */
  toolkitVersion: z
    .string()
    .regex(/^\d+\.\d+\.\d+-\d+$/, { error: `must be an apt version such as ${HOST_PINS.nvidiaToolkit}` })
    .meta(example(HOST_PINS.nvidiaToolkit)),
  gpus: z.strictObject({
    count: z.number().int().min(1).max(16).meta(example(2)),
    model: z.string().min(1).meta(example("NVIDIA GeForce RTX 4070 Ti SUPER")),
    memoryGiB: z.number().positive().max(256).meta(example(16)),
  }),
  /** Keep the driver loaded between jobs with nvidia-persistenced. @default true */
  persistenceMode: z.boolean().default(true).meta(example(true)),
  /** Kernel arguments added through /etc/default/grub.d. @default ["intel_iommu=on", "iommu=pt"] */
  iommuKernelArgs: z
    .array(z.string().regex(/^[a-z0-9_.]+(=[A-Za-z0-9_.,:-]+)?$/, { error: "must be a kernel argument" }))
    .default(["intel_iommu=on", "iommu=pt"])
    .meta(example(["intel_iommu=on", "iommu=pt"])),
  /** Reboot when the driver or kernel arguments need it, then wait for SSH. @default false */
  allowReboot: z.boolean().default(false).meta(example(false)),
});

const DockerSchema = z.strictObject({
  /** Docker Engine version from Docker's apt repository; packages are held at it. */
  version: z
    .string()
    // A distribution build reports a suffix (Debian's docker.io: 20.10.24+dfsg1; the e2e tier's mirror).
    .regex(/^\d+\.\d+\.\d+(\+[a-z0-9.]+)?$/, {
      error: `must be an engine version such as ${HOST_PINS.dockerEngine}`,
    })
    .meta(example(HOST_PINS.dockerEngine)),
  /** Where images, containers and volumes live; must sit on one of the host's mounts. @default "/var/lib/docker" */
  dataRoot: z
    .string()
    .regex(/^\/[A-Za-z0-9._/-]+$/, { error: "must be an absolute path" })
    .default("/var/lib/docker")
    .meta(example("/srv/data/docker")),
  log: z
    .strictObject({
      /** @default "json-file" */
      driver: z.enum(["json-file", "local"]).default("json-file").meta(example("json-file")),
      /** @default "50m" */
      maxSize: z
        .string()
        .regex(/^\d+[kmg]$/, { error: 'must be a size such as "50m"' })
        .refine((v) => Number(v.slice(0, -1)) > 0, {
          error: (i) => `${String(i.input)} is no size: log rotation needs a positive max-size; use "50m"`,
        })
        .default("50m")
        .meta(example("50m")),
      /** @default 5 */
      maxFile: z.number().int().min(1).max(100).default(5).meta(example(5)),
    })
    .prefault({}),
});

const HostSchema = z.strictObject({
  address: Address,
  ssh: SshSchema,
  /** `none` when the SSH user is root, `passwordless` for `sudo -n`. */
  sudo: z.enum(["none", "passwordless"]).meta(example("passwordless")),
  arch: z.enum(["amd64", "arm64"]).meta(example("amd64")),
  memoryGiB: z.number().positive().max(4096).meta(example(64)),
  /** CPU cores (threads), for `npm run assess`'s CPU budget. @default unknown */
  cpus: z.number().int().positive().max(1024).optional().meta(example(4)),
  storage: StorageSchema.optional(),
  nvidia: NvidiaSchema.optional(),
  docker: DockerSchema.optional(),
});

/** A host's name: length and characters are separate rules, so each message names the one broken. */
const HostName = z
  .string()
  .max(31, { error: (i) => `it is ${String(i.input).length} characters long; a host name has at most 31` })
  .regex(/^[a-z][a-z0-9-]*$/, {
    error: "host names are lower-case letters, digits and -, starting with a letter",
  });

/** The whole lab's shape, before the rules that span fields. */
const LabShape = z.strictObject({
  hosts: z
    .record(HostName, HostSchema)
    .refine((h) => Object.keys(h).length > 0, { error: "declare at least one host" })
    .meta(example({ citadel: { address: "192.168.10.29" } })),
  /** The vLLM model server. @default none (no vLLM) */
  vllm: VllmSchema.optional(),
  /** The observability stack. @default none */
  ladon: LadonSchema.optional(),
  /**
   * Backups, firewall, post-deploy validation and the LLM baseline.
   * @default {} (no backups, no firewall, no post-deploy validation, the default baseline workload)
   */
  ops: OpsSchema.prefault({}),
});

/**
 * The whole lab. Keys are the Pulumi config keys under the `citadel:` namespace. The config's own
 * rules only: `labSchemaWith` adds the plan's.
 */
export const LabConfigSchema = LabShape.superRefine((lab, ctx) => checkLab(lab, ctx));

/**
 * The cross-field rules of the plan layer (components/plan/checks.ts): vLLM's resolution (models,
 * placement, VRAM, ports) and the LadonStack's (placement, memory, retention). Config imports
 * nothing above it, so the plan hands them in; they run inside the schema's own check, at their
 * place among its rules and only when every field they read is valid, so a lab's problems come out
 * in one list, in one order. Paths are relative to the section checked.
 */
export interface PlanChecks {
  vllm(lab: LabConfig, vllm: NonNullable<LabConfig["vllm"]>): readonly Problem[];
  ladon(lab: LabConfig, ladon: NonNullable<LabConfig["ladon"]>): readonly Problem[];
}

/** The lab's schema with the plan's cross-field rules: what the plan's `parseLabConfig` checks. */
export function labSchemaWith(plan: PlanChecks): typeof LabConfigSchema {
  return LabShape.superRefine((lab, ctx) => checkLab(lab, ctx, plan));
}

export type LabConfig = z.output<typeof LabConfigSchema>;
export type HostConfig = z.output<typeof HostSchema>;
export type StorageConfig = z.output<typeof StorageSchema>;
export type DiskConfig = z.output<typeof DiskSchema>;
export type RaidConfig = z.output<typeof RaidSchema>;
export type LvmConfig = z.output<typeof LvmSchema>;
export type NvidiaConfig = z.output<typeof NvidiaSchema>;
export type DockerConfig = z.output<typeof DockerSchema>;

type Ctx = z.RefinementCtx<LabConfig>;

/** Marks issues from rules that span fields: their message says the fix, and a field example would mislead. */
export const CROSS_FIELD = { crossField: true } as const;

/**
 * Rules that span fields: uniqueness, grow-only storage and disks kept away from the LVM PV. A rule
 * runs only when every field it reads is valid, so one mistake gives one message (a GPU count of 0
 * is reported on its key, not again as "GPU index 0 does not exist").
 */
function checkLab(lab: LabConfig, ctx: Ctx, plan?: PlanChecks): void {
  // An unknown key breaks only itself; its object is otherwise read as usual. Issues added by the
  // rules below count too, so a later rule does not repeat an earlier one's mistake.
  const broken = () =>
    ctx.issues.flatMap((i) =>
      i.code === "unrecognized_keys" ? i.keys.map((k) => [...(i.path ?? []), k]) : [i.path ?? []],
    );
  const clean = (...prefix: PropertyKey[]) =>
    !broken().some((path) => prefix.every((seg, k) => k >= path.length || path[k] === seg));
  const seenAddress = new Map<string, string>();
  for (const [name, host] of Object.entries(lab.hosts)) {
    const at = ["hosts", name];
    const previous = seenAddress.get(host.address.toLowerCase());
    if (previous !== undefined) {
      ctx.addIssue({
        code: "custom",
        params: CROSS_FIELD,
        path: [...at, "address"],
        message: `${host.address} is already the address of host "${previous}"; each host is declared once`,
      });
    }
    seenAddress.set(host.address.toLowerCase(), name);
    if (host.ssh.user !== "root" && host.sudo === "none") {
      ctx.addIssue({
        code: "custom",
        params: CROSS_FIELD,
        path: [...at, "sudo"],
        message: `user "${host.ssh.user}" is not root, so it needs passwordless sudo; set sudo: passwordless`,
      });
    }
    if (!clean(...at, "storage")) continue;
    for (const p of host.storage ? storageProblems(host.storage) : []) {
      ctx.addIssue({
        code: "custom",
        path: [...at, "storage", ...p.path],
        message: p.message,
        params: CROSS_FIELD,
      });
    }
    if (host.docker && clean(...at, "docker")) checkDocker(host, [...at, "docker"], ctx);
  }
  // Sections that read other hosts run only when the whole lab's hosts are valid.
  const hostsClean = clean("hosts");
  if (plan && lab.vllm && hostsClean && clean("vllm")) {
    for (const p of plan.vllm(lab, lab.vllm)) {
      ctx.addIssue({ code: "custom", path: ["vllm", ...p.path], message: p.message, params: CROSS_FIELD });
    }
  }
  const firewall = lab.ops?.firewall;
  if (
    firewall &&
    clean("ops", "firewall") &&
    firewall.adminSubnet === "0.0.0.0/0" &&
    !firewall.adminFromAnywhere
  ) {
    ctx.addIssue({
      code: "custom",
      params: CROSS_FIELD,
      path: ["ops", "firewall", "adminSubnet"],
      message:
        "0.0.0.0/0 lets SSH in from the whole internet; give the subnet of the machine that runs pulumi (e.g. 192.168.10.0/24), or acknowledge it with ops.firewall.adminFromAnywhere: true",
    });
  }
  const backups = lab.ops?.backups;
  if (backups && hostsClean && clean("ops", "backups") && clean("ladon")) {
    const host = lab.hosts[backups.host];
    if (!host) {
      ctx.addIssue({
        code: "custom",
        params: CROSS_FIELD,
        path: ["ops", "backups", "host"],
        message: `no host named "${backups.host}" in citadel:hosts (${Object.keys(lab.hosts).join(", ")})`,
      });
    } else if (lab.ladon && backups.repository.startsWith(`${lab.ladon.dataDir}/`)) {
      ctx.addIssue({
        code: "custom",
        params: CROSS_FIELD,
        path: ["ops", "backups", "repository"],
        message: `${backups.repository} is inside the data it backs up (${lab.ladon.dataDir}); put it on the backup disk`,
      });
    }
  }
  if (plan && lab.ladon && hostsClean && clean("ladon") && clean("vllm")) {
    for (const p of plan.ladon(lab, lab.ladon)) {
      ctx.addIssue({ code: "custom", path: ["ladon", ...p.path], message: p.message, params: CROSS_FIELD });
    }
  }
}

/**
 * Storage rules: grow-only LVM; unique devices, mount points and labels across disks and raids; no
 * secondary disk or RAID member on the LVM physical volume; enough members for each RAID level,
 * and no member that is also a disk or in another array. Shared by the schema and by `Storage`,
 * which checks its own args.
 */
export function storageProblems(storage: {
  lvm?: LvmConfig;
  disks: readonly DiskConfig[];
  raids?: readonly RaidConfig[];
}): Problem[] {
  const problems: Problem[] = [];
  const raids = storage.raids ?? [];
  const lvm = storage.lvm;
  if (lvm && lvm.size !== "all-free") {
    // Zod still runs this rule when a size string was malformed; that one is reported on its own.
    const target = parseSize(lvm.size);
    const today = parseSize(lvm.currentSize);
    if (target !== undefined && today !== undefined && target < today) {
      problems.push({
        path: ["lvm", "size"],
        message: `${lvm.size} is smaller than today's ${lvm.currentSize}; storage only grows, so use ${lvm.currentSize} or more, or "all-free"`,
      });
    }
  }
  // Disks and arrays share mount points and labels: each is one filesystem mounted once.
  const volumes = [
    ...storage.disks.map((d, i) => ({ key: ["disks", i] as (string | number)[], at: `disks[${i}]`, v: d })),
    ...raids.map((r, i) => ({ key: ["raids", i] as (string | number)[], at: `raids[${i}]`, v: r })),
  ];
  const unique = (field: "mountPoint" | "label", what: string) => {
    const seen = new Map<string, string>();
    for (const { key, at, v } of volumes) {
      const value = v[field];
      const first = seen.get(value);
      if (first !== undefined) {
        problems.push({
          path: [...key, field],
          message: `${what} ${value} is already used by ${first}; each disk and array needs its own`,
        });
      } else seen.set(value, at);
    }
  };
  const seenDevice = new Map<string, number>();
  storage.disks.forEach((disk, i) => {
    const first = seenDevice.get(disk.device);
    if (first !== undefined) {
      problems.push({
        path: ["disks", i, "device"],
        message: `device ${disk.device} is already used by disks[${first}]; each disk needs its own`,
      });
    } else seenDevice.set(disk.device, i);
  });
  unique("mountPoint", "mount point");
  unique("label", "label");
  if (lvm) {
    storage.disks.forEach((disk, i) => {
      if (isSameDiskOrPartition(disk.device, lvm.pv)) {
        problems.push({
          path: ["disks", i, "device"],
          message: `${disk.device} holds the LVM physical volume ${lvm.pv}; a secondary disk must be a different drive`,
        });
      }
    });
  }
  problems.push(...raidProblems(raids, storage.disks, lvm));
  return problems;
}

/** The md name of an array: its `name`, else its label. */
export function raidName(raid: Pick<RaidConfig, "name" | "label">): string {
  return raid.name ?? raid.label;
}

/** True when two device paths name the same drive, or one is a partition of the other. */
function overlaps(a: string, b: string): boolean {
  return isSameDiskOrPartition(a, b) || isSameDiskOrPartition(b, a);
}

function raidProblems(
  raids: readonly RaidConfig[],
  disks: readonly DiskConfig[],
  lvm: LvmConfig | undefined,
): Problem[] {
  const problems: Problem[] = [];
  const owner = new Map<string, string>();
  const names = new Map<string, number>();
  const uuids = new Map<string, number>();
  raids.forEach((raid, i) => {
    const at = ["raids", i];
    const min = RAID_MIN_MEMBERS[raid.level];
    if (raid.members.length < min) {
      problems.push({
        path: [...at, "members"],
        message: `RAID${raid.level} needs at least ${min} members, but ${raid.members.length} ${raid.members.length === 1 ? "is" : "are"} listed; add members or choose another level`,
      });
    }
    const name = raidName(raid);
    const sameName = names.get(name);
    // Two arrays named after one label are already reported as a duplicate label.
    if (sameName !== undefined && (raid.name ?? raids[sameName]?.name) !== undefined) {
      problems.push({
        path: [...at, raid.name === undefined ? "label" : "name"],
        message: `md name ${name} is already used by raids[${sameName}]; give each array its own name`,
      });
    } else names.set(name, i);
    if (raid.uuid !== undefined) {
      const uuid = raid.uuid.toLowerCase();
      const sameUuid = uuids.get(uuid);
      if (sameUuid !== undefined) {
        problems.push({
          path: [...at, "uuid"],
          message: `UUID ${raid.uuid} is already raids[${sameUuid}]'s; one array is declared once`,
        });
      } else uuids.set(uuid, i);
    }
    raid.members.forEach((member, k) => {
      const key = [...at, "members", k];
      const here = `raids[${i}].members[${k}]`;
      const previous = [...owner.entries()].find(([m]) => overlaps(m, member));
      if (previous) {
        problems.push({
          path: key,
          message: `${member} is already listed as ${previous[1]}; a drive belongs to one array, once`,
        });
      } else owner.set(member, here);
      const diskIndex = disks.findIndex((d) => overlaps(d.device, member));
      if (diskIndex >= 0) {
        problems.push({
          path: key,
          message: `${member} is also disks[${diskIndex}] (${disks[diskIndex]?.device}); a drive is either a disk or a RAID member, so remove it from one`,
        });
      }
      if (lvm && isSameDiskOrPartition(member, lvm.pv)) {
        problems.push({
          path: key,
          message: `${member} holds the LVM physical volume ${lvm.pv}; a RAID member must be a different drive`,
        });
      }
    });
  });
  return problems;
}

/** True when `pv` is `disk` itself or one of its partitions (/dev/nvme0n1p3, /dev/sda2, by-id -part3). */
export function isSameDiskOrPartition(disk: string, pv: string): boolean {
  if (disk === pv) return true;
  if (!pv.startsWith(disk)) return false;
  const suffix = pv.slice(disk.length);
  if (disk.startsWith("/dev/disk/")) return /^-part\d+$/.test(suffix);
  // Names ending in a digit (nvme0n1, mmcblk0) take a "p" before the partition number;
  // otherwise /dev/nvme1n10 would pass for a partition of /dev/nvme1n1.
  return /\d$/.test(disk) ? /^p\d+$/.test(suffix) : /^\d+$/.test(suffix);
}

function checkDocker(host: HostConfig, at: string[], ctx: Ctx): void {
  const docker = host.docker;
  if (!docker || docker.dataRoot === "/var/lib/docker") return;
  const mounts = [...(host.storage?.disks ?? []), ...(host.storage?.raids ?? [])].map((d) => d.mountPoint);
  if (!mounts.some((m) => docker.dataRoot.startsWith(`${m}/`))) {
    ctx.addIssue({
      code: "custom",
      params: CROSS_FIELD,
      path: [...at, "dataRoot"],
      message: `${docker.dataRoot} is not inside a mount declared in storage.disks or storage.raids (${mounts.join(", ") || "none"}); put it under one, or use /var/lib/docker`,
    });
  }
}

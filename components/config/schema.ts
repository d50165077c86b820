/**
 * The one schema of the lab. Every stack setting under the `citadel:` namespace is declared here,
 * with an example that the loader quotes when a value is wrong. Later layers (vLLM, LadonStack,
 * backups) add their own top-level sections to `LabConfigSchema`.
 */
import { isIP } from "node:net";
import { z } from "zod";
import { resolveVllm } from "../llm/resolve";
import { SIZE_PATTERN, parseSize } from "./units";
import { VllmSchema } from "./vllm";
import { LadonSchema } from "./ladon";
import { OpsSchema } from "./ops";
import { ladonProblems } from "../ladon/plan";

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
  .meta(example("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"));

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

const DiskSchema = z.strictObject({
  /** Prefer a stable `/dev/disk/by-id/...` path; kernel names such as /dev/sda can move between boots. */
  device: DevicePath,
  /** @default "ext4" */
  filesystem: z.enum(["ext4", "xfs"]).default("ext4").meta(example("ext4")),
  /** Filesystem label, also how an existing filesystem is recognised as the expected one. */
  label: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,12}$/, { error: "must be 1-12 letters, digits, _ or -" })
    .meta(example("data")),
  mountPoint: MountPoint,
  /** The disk's size, for checking what is placed on it (e.g. retention). @default unknown */
  size: z
    .string()
    .regex(SIZE_PATTERN, { error: (i) => `${JSON.stringify(i.input)} is not a size with a binary unit` })
    .optional()
    .meta(example("1TiB")),
  /** `nofail` is always added so a dead disk never blocks boot. @default ["defaults"] */
  mountOptions: z
    .array(z.string().regex(/^[a-z0-9_=.,-]+$/, { error: "must be a mount option such as noatime" }))
    .default(["defaults"])
    .meta(example(["defaults", "noatime"])),
});

const StorageSchema = z.strictObject({
  lvm: LvmSchema.optional(),
  /** @default [] */
  disks: z.array(DiskSchema).default([]),
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
    .regex(/^\d+\.\d+\.\d+-\d+$/, { error: "must be an apt version such as 1.18.0-1" })
    .meta(example("1.18.0-1")),
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
    .regex(/^\d+\.\d+\.\d+$/, { error: "must be an engine version such as 28.5.1" })
    .meta(example("28.5.1")),
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

const HostName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,30}$/, { error: "host names are lower-case letters, digits and -" });

/** The whole lab. Keys are the Pulumi config keys under the `citadel:` namespace. */
export const LabConfigSchema = z
  .strictObject({
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
  })
  .superRefine(checkLab);

export type LabConfig = z.output<typeof LabConfigSchema>;
export type HostConfig = z.output<typeof HostSchema>;
export type StorageConfig = z.output<typeof StorageSchema>;
export type DiskConfig = z.output<typeof DiskSchema>;
export type LvmConfig = z.output<typeof LvmSchema>;
export type NvidiaConfig = z.output<typeof NvidiaSchema>;
export type DockerConfig = z.output<typeof DockerSchema>;

type Ctx = z.RefinementCtx<LabConfig>;

/** Marks issues from rules that span fields: their message says the fix, and a field example would mislead. */
export const CROSS_FIELD = { crossField: true } as const;

/** Rules that span fields: uniqueness, grow-only storage and disks kept away from the LVM PV. */
function checkLab(lab: LabConfig, ctx: Ctx): void {
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
    for (const p of host.storage ? storageProblems(host.storage) : []) {
      ctx.addIssue({
        code: "custom",
        path: [...at, "storage", ...p.path],
        message: p.message,
        params: CROSS_FIELD,
      });
    }
    if (host.docker) checkDocker(host, [...at, "docker"], ctx);
  }
  if (lab.vllm) {
    for (const p of resolveVllm(lab, lab.vllm).problems) {
      ctx.addIssue({ code: "custom", path: ["vllm", ...p.path], message: p.message, params: CROSS_FIELD });
    }
  }
  const backups = lab.ops.backups;
  if (backups) {
    const host = lab.hosts[backups.host];
    if (!host) {
      ctx.addIssue({
        code: "custom",
        params: CROSS_FIELD,
        path: ["ops", "backups", "host"],
        message: `no host named "${backups.host}" in citadel:hosts`,
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
  if (lab.ladon) {
    for (const p of ladonProblems(lab, lab.ladon)) {
      ctx.addIssue({ code: "custom", path: ["ladon", ...p.path], message: p.message, params: CROSS_FIELD });
    }
  }
}

/** A problem found by a cross-field rule, with its path relative to the object checked. */
export interface FieldProblem {
  path: (string | number)[];
  message: string;
}

/**
 * Storage rules: grow-only LVM, unique devices, mount points and labels, and no secondary disk on
 * the LVM physical volume. Shared by the schema and by `Storage`, which checks its own args.
 */
export function storageProblems(storage: { lvm?: LvmConfig; disks: readonly DiskConfig[] }): FieldProblem[] {
  const problems: FieldProblem[] = [];
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
  const unique = (field: "device" | "mountPoint" | "label", what: string) => {
    const seen = new Map<string, number>();
    storage.disks.forEach((disk, i) => {
      const value = disk[field];
      const first = seen.get(value);
      if (first !== undefined) {
        problems.push({
          path: ["disks", i, field],
          message: `${what} ${value} is already used by disks[${first}]; each disk needs its own`,
        });
      } else seen.set(value, i);
    });
  };
  unique("device", "device");
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
  const mounts = (host.storage?.disks ?? []).map((d) => d.mountPoint);
  if (!mounts.some((m) => docker.dataRoot.startsWith(`${m}/`))) {
    ctx.addIssue({
      code: "custom",
      params: CROSS_FIELD,
      path: [...at, "dataRoot"],
      message: `${docker.dataRoot} is not inside a mount declared in storage.disks (${mounts.join(", ") || "none"}); put it under one, or use /var/lib/docker`,
    });
  }
}

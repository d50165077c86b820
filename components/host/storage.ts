import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { parseSize, storageProblems, type DiskConfig, type LvmConfig } from "../config";
import { hostScript, type HostTarget } from "../remote";

export interface StorageArgs {
  /** The host whose disks these are. */
  host: HostTarget;
  /**
   * The logical volume to grow online into its VG's free space. It only ever grows.
   * @default undefined (LVM is left alone)
   */
  lvm?: LvmConfig;
  /**
   * Secondary disks, formatted only when blank and mounted by UUID with `nofail`.
   * @default []
   */
  disks?: readonly DiskConfig[];
}

/**
 * The host's storage: grows the root LV and prepares secondary disks. Every step is `protect`ed
 * and retained on delete, and none has a delete script: removing one from config never touches
 * data on the host.
 */
export class Storage extends pulumi.ComponentResource {
  /** The LV growth step, when `lvm` is set. */
  readonly lvm?: command.remote.Command;
  /** One step per secondary disk, by mount point; containers that use a mount depend on its step. */
  readonly mounts: Readonly<Record<string, command.remote.Command>>;

  constructor(name: string, args: StorageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("citadel:host:Storage", name, {}, opts);
    const disks = args.disks ?? [];
    const problems = storageProblems({ lvm: args.lvm, disks });
    if (problems.length > 0) {
      throw new Error(
        `Storage ${name}: ${problems.map((p) => `${p.path.join(".")}: ${p.message}`).join("; ")}`,
      );
    }
    const keep: pulumi.CustomResourceOptions = { parent: this, protect: true, retainOnDelete: true };

    if (args.lvm) this.lvm = this.growLvm(name, args.host, args.lvm, keep);
    const mounts: Record<string, command.remote.Command> = {};
    for (const disk of disks) {
      mounts[disk.mountPoint] = this.prepareDisk(name, args.host, disk, args.lvm?.pv, keep);
    }
    this.mounts = mounts;
    this.registerOutputs({ mountPoints: Object.keys(mounts) });
  }

  /** The step that provides `path`: the disk mounted at it or above it, if any. */
  mountFor(path: string): command.remote.Command | undefined {
    const owner = Object.keys(this.mounts)
      .filter((m) => path === m || path.startsWith(`${m}/`))
      .sort((a, b) => b.length - a.length)[0];
    return owner === undefined ? undefined : this.mounts[owner];
  }

  /** The step a directory depends on: the disk mounted over it, else the root LV's growth. */
  stepFor(path: string): command.remote.Command | undefined {
    return this.mountFor(path) ?? this.lvm;
  }

  private growLvm(name: string, host: HostTarget, lvm: LvmConfig, opts: pulumi.CustomResourceOptions) {
    return hostScript(
      `${name}-lvm`,
      {
        host,
        script: "host/scripts/grow-lvm.sh",
        params: {
          VG: lvm.vg,
          LV: lvm.lv,
          TARGET: lvm.size === "all-free" ? "all-free" : String(parseSize(lvm.size)),
          FILESYSTEM: lvm.filesystem,
        },
        replaceOnChange: false,
      },
      opts,
    );
  }

  private prepareDisk(
    name: string,
    host: HostTarget,
    disk: DiskConfig,
    pv: string | undefined,
    opts: pulumi.CustomResourceOptions,
  ) {
    return hostScript(
      `${name}-disk-${disk.label}`,
      {
        host,
        script: "host/scripts/prepare-disk.sh",
        params: {
          DEVICE: disk.device,
          FILESYSTEM: disk.filesystem,
          LABEL: disk.label,
          MOUNT_POINT: disk.mountPoint,
          MOUNT_OPTIONS: disk.mountOptions.join(","),
          PROTECTED_DEVICES: pv ?? "",
          SIZE_BYTES: disk.size ? String(parseSize(disk.size)) : "",
        },
        replaceOnChange: false,
      },
      opts,
    );
  }
}

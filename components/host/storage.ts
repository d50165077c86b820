import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import {
  DEFAULT_SCRUB_SCHEDULE,
  formatPath,
  parseSize,
  raidName,
  storageProblems,
  type DiskConfig,
  type LvmConfig,
  type RaidConfig,
} from "../config";
import { hostScript, publishFile, renderStandalone, timerUnits, type HostTarget } from "../remote";

/** Where the monthly RAID scrub's script is installed, and its unit's name. */
export const RAID_SCRUB_UNIT = "citadel-raid-scrub";
const RAID_SCRUB_SCRIPT = `/usr/local/lib/citadel/${RAID_SCRUB_UNIT}.sh`;
/**
 * Ubuntu's mdadm package checks every array from its own timers (the first Sunday of the month, at a
 * random time within 24 h, in 6-hour slices). The scrub timer replaces them, so arrays are checked
 * once a month, on the schedule in config, and the result is recorded.
 */
export const DISTRO_SCRUB_TIMERS = ["mdcheck_start.timer", "mdcheck_continue.timer"];

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
  /**
   * mdadm arrays, created only from blank members (an existing one is adopted, never recreated)
   * and mounted by UUID with `nofail`.
   * @default []
   */
  raids?: readonly RaidConfig[];
  /**
   * When the monthly scrub of the arrays starts (systemd OnCalendar); only with raids.
   * @default "Sun *-*-1..7 01:00:00"
   */
  scrubSchedule?: string;
  /** node-exporter's textfile directory, where the scrub writes what it found. */
  textfileDir: string;
}

/**
 * The host's storage: grows the root LV, prepares secondary disks and RAID arrays, and scrubs the
 * arrays monthly. Every storage step is `protect`ed and retained on delete, and none has a delete
 * script: removing one from config never touches data on the host.
 */
export class Storage extends pulumi.ComponentResource {
  /** The LV growth step, when `lvm` is set. */
  readonly lvm?: command.remote.Command;
  /** One step per secondary disk or array, by mount point; containers that use a mount depend on its step. */
  readonly mounts: Readonly<Record<string, command.remote.Command>>;
  /** The monthly scrub timer's install step, on hosts with arrays. */
  readonly scrub?: command.remote.Command;

  constructor(name: string, args: StorageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("citadel:host:Storage", name, {}, opts);
    const disks = args.disks ?? [];
    const raids = args.raids ?? [];
    const problems = storageProblems({ lvm: args.lvm, disks, raids });
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
    raids.forEach((raid, i) => {
      mounts[raid.mountPoint] = this.prepareRaid(name, args.host, raid, i, args.lvm?.pv, keep);
    });
    this.mounts = mounts;
    if (raids.length > 0) {
      this.scrub = this.scrubTimer(
        name,
        args.host,
        args.scrubSchedule ?? DEFAULT_SCRUB_SCHEDULE,
        args.textfileDir,
        raids.map((r) => mounts[r.mountPoint] as command.remote.Command),
      );
    }
    this.registerOutputs({ mountPoints: Object.keys(mounts), raids: raids.map(raidName) });
  }

  /** Every step of this component: what a reboot of the host must wait for. */
  steps(): command.remote.Command[] {
    return [
      ...(this.lvm ? [this.lvm] : []),
      ...Object.values(this.mounts),
      ...(this.scrub ? [this.scrub] : []),
    ];
  }

  /** The step that provides `path`: the disk or array mounted at it or above it (the deepest), if any. */
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

  private prepareRaid(
    name: string,
    host: HostTarget,
    raid: RaidConfig,
    index: number,
    pv: string | undefined,
    opts: pulumi.CustomResourceOptions,
  ) {
    const md = raidName(raid);
    return hostScript(
      `${name}-raid-${md}`,
      {
        host,
        script: "host/scripts/prepare-raid.sh",
        params: {
          NAME: md,
          LEVEL: raid.level,
          MEMBERS: raid.members.join(" "),
          FILESYSTEM: raid.filesystem,
          LABEL: raid.label,
          MOUNT_POINT: raid.mountPoint,
          MOUNT_OPTIONS: raid.mountOptions.join(","),
          // The script names this key in every message, e.g. citadel:hosts.pi.storage.raids[0].members[2].
          KEY: formatPath(["hosts", host.name, "storage", "raids", index]),
          UUID: raid.uuid ?? "",
          PROTECTED_DEVICES: pv ?? "",
          MEMBER_SIZE_BYTES: raid.memberSize ? String(parseSize(raid.memberSize)) : "",
        },
        replaceOnChange: false,
      },
      opts,
    );
  }

  /** The monthly `check` of every array, with its result as textfile metrics (raid-scrub.sh). */
  private scrubTimer(
    name: string,
    host: HostTarget,
    schedule: string,
    textfileDir: string,
    after: command.remote.Command[],
  ) {
    const script = renderStandalone("host/scripts/raid-scrub.sh", { TEXTFILE_DIR: textfileDir });
    const units = timerUnits({
      description: "citadel RAID scrub (md check of every array)",
      execStart: RAID_SCRUB_SCRIPT,
      onCalendar: schedule,
    });
    publishFile(`${host.name}${RAID_SCRUB_SCRIPT}`, script);
    publishFile(`${host.name}/etc/systemd/system/${RAID_SCRUB_UNIT}.service`, units.service);
    publishFile(`${host.name}/etc/systemd/system/${RAID_SCRUB_UNIT}.timer`, units.timer);
    return hostScript(
      `${name}-scrub`,
      {
        host,
        script: "ladon/scripts/install-timer.sh",
        params: {
          NAME: RAID_SCRUB_UNIT,
          SCRIPT_PATH: RAID_SCRUB_SCRIPT,
          SCRIPT: script,
          SERVICE_UNIT: units.service,
          TIMER_UNIT: units.timer,
          REPLACES: DISTRO_SCRUB_TIMERS.join(" "),
        },
      },
      { parent: this, dependsOn: after },
    );
  }
}

import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { BackupsConfig } from "../config/ops";
import { hostScript, publishFile, renderStandalone, timerUnits, type HostTarget } from "../remote";

export const RESTIC_PASSWORD_FILE = "/etc/citadel/restic/password";
export const BACKUP_LAYOUT_DIR = "/var/lib/citadel/layout";
export const BACKUP_SCRIPT = "ops/scripts/backup.sh";

export interface BackupsArgs {
  /** The host whose data is backed up. */
  host: HostTarget;
  backups: BackupsConfig;
  /** The restic repository password; a secret. */
  password: pulumi.Input<string>;
  /** Host paths to back up: service data, their /etc, plus `backups.extraPaths`. */
  paths: string[];
  /**
   * Prometheus's data directory, its URL on the host and the root-only netrc its admin API is
   * called with, for a TSDB snapshot instead of live files. @default none
   */
  prometheus?: { dataDir: string; url: string; netrc: string };
  /** SQLite databases to copy with SQLite's online backup. @default [] */
  sqliteDatabases?: string[];
  /** node-exporter's textfile directory, for the backup metrics. */
  textfileDir: string;
  /** Steps that must come first, e.g. the disk that holds the repository. @default [] */
  after?: pulumi.Input<pulumi.Resource>[];
}

/**
 * Backups with restic from Ubuntu's archive: a systemd timer each for the backup, the prune and
 * a weekly `restic check`, the password in a root-only file, and textfile metrics per run.
 */
export class Backups extends pulumi.ComponentResource {
  /** Everything the backup covers, for policies and the README's runbook. */
  readonly paths: string[];
  readonly timers: command.remote.Command[];

  constructor(name: string, args: BackupsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("citadel:ops:Backups", name, {}, opts);
    const { host, backups } = args;
    if (args.paths.length === 0) throw new Error(`Backups ${name}: nothing to back up`);
    this.paths = [...new Set([...args.paths, ...backups.extraPaths])].sort();

    const packages = hostScript(
      `${name}-packages`,
      { host, script: "remote/scripts/ensure-packages.sh", params: { PACKAGES: "restic jq curl sqlite3" } },
      { parent: this, dependsOn: args.after ?? [] },
    );
    const password = hostScript(
      `${name}-password`,
      {
        host,
        script: "ladon/scripts/secret-file.sh",
        params: { SECRET_PATH: RESTIC_PASSWORD_FILE, OWNER_UID: "0", CONTAINER: "none", ON_CHANGE: "none" },
        secrets: { SECRET: args.password },
      },
      { parent: this, dependsOn: args.after ?? [] },
    );

    const common = { RESTIC_REPOSITORY: backups.repository, RESTIC_PASSWORD_FILE };
    const modes: { mode: string; calendar: string; description: string; params: Record<string, string> }[] = [
      {
        mode: "backup",
        calendar: backups.schedule,
        description: "citadel backup (restic)",
        params: {
          PATHS: this.paths.join(" "),
          TEXTFILE_DIR: args.textfileDir,
          LAYOUT_DIR: BACKUP_LAYOUT_DIR,
          PROMETHEUS_DATA: args.prometheus?.dataDir ?? "",
          PROMETHEUS_URL: args.prometheus?.url ?? "",
          PROMETHEUS_NETRC: args.prometheus?.netrc ?? "",
          SQLITE_DBS: (args.sqliteDatabases ?? []).join(" "),
        },
      },
      {
        mode: "prune",
        calendar: backups.pruneSchedule,
        description: "citadel backup prune (restic forget --prune)",
        params: {
          KEEP_DAILY: String(backups.keep.daily),
          KEEP_WEEKLY: String(backups.keep.weekly),
          KEEP_MONTHLY: String(backups.keep.monthly),
        },
      },
      {
        mode: "check",
        calendar: backups.checkSchedule,
        description: "citadel backup check (restic check)",
        params: {},
      },
    ];
    this.timers = modes.map((m) => {
      const unit = m.mode === "backup" ? "citadel-backup" : `citadel-backup-${m.mode}`;
      const scriptPath = `/usr/local/lib/citadel/${unit}.sh`;
      const script = renderStandalone(BACKUP_SCRIPT, { MODE: m.mode, ...common, ...m.params });
      const units = timerUnits({
        description: m.description,
        execStart: scriptPath,
        onCalendar: m.calendar,
        // A local repository on a nofail disk: never `restic init` one on the root disk instead,
        // and never back up an empty mount point as if the data were gone.
        requiresMountsFor: [
          ...(backups.repository.startsWith("/") ? [backups.repository] : []),
          ...(m.mode === "backup" ? this.paths : []),
        ],
      });
      publishFile(`${host.name}${scriptPath}`, script);
      publishFile(`${host.name}/etc/systemd/system/${unit}.service`, units.service);
      publishFile(`${host.name}/etc/systemd/system/${unit}.timer`, units.timer);
      return hostScript(
        `${name}-${m.mode}`,
        {
          host,
          script: "ladon/scripts/install-timer.sh",
          params: {
            NAME: unit,
            SCRIPT_PATH: scriptPath,
            SCRIPT: script,
            SERVICE_UNIT: units.service,
            TIMER_UNIT: units.timer,
          },
        },
        { parent: this, dependsOn: [packages, password] },
      );
    });
    this.registerOutputs({ repository: backups.repository, paths: this.paths });
  }
}

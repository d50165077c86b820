/**
 * The restore runbook: for each service, the commands that bring its data back from restic. The
 * README prints these, and the tests run them against a real repository. Pure.
 */
import { RESTIC_PASSWORD_FILE } from "./backups";

export interface RestoreStep {
  service: string;
  /** What is restored, in a few words. */
  what: string;
  commands: string[];
}

/**
 * `root` prefixes every host path (a scratch root in tests, empty on the host); `repository` is
 * the restic repository.
 */
export function restoreRunbook(dataDir: string, repository: string, root = ""): RestoreStep[] {
  const env = `export RESTIC_REPOSITORY=${repository} RESTIC_PASSWORD_FILE=${root}${RESTIC_PASSWORD_FILE}`;
  const dir = (service: string) => `${root}${dataDir}/${service}`;
  const restore = (path: string) => `restic restore latest --target / --include ${path}`;
  const service = (name: string, uid: number, what: string, extra: string[] = []): RestoreStep => ({
    service: name,
    what,
    commands: [
      env,
      `docker stop ${name}`,
      `rm -rf ${dir(name)}`,
      restore(dir(name)),
      ...extra,
      `chown -R ${uid} ${dir(name)}`,
      `docker start ${name}`,
    ],
  });
  return [
    service("grafana", 472, "dashboards' history, users and its database", [
      `mv ${dir("grafana")}/grafana.db.citadel-backup ${dir("grafana")}/grafana.db`,
    ]),
    {
      service: "prometheus",
      what: "the TSDB, from the snapshot taken at backup time",
      commands: [
        env,
        "docker stop prometheus",
        `rm -rf ${dir("prometheus")}`,
        restore(`${dir("prometheus")}/snapshots`),
        `mv ${dir("prometheus")}/snapshots/*/* ${dir("prometheus")}/`,
        `rm -rf ${dir("prometheus")}/snapshots`,
        `chown -R 65534 ${dir("prometheus")}`,
        "docker start prometheus",
      ],
    },
    service("loki", 10001, "log chunks and index"),
    service("alertmanager", 65534, "silences and notification state"),
    service("phoenix", 0, "traces and its database", [
      `mv ${dir("phoenix")}/phoenix.db.citadel-backup ${dir("phoenix")}/phoenix.db`,
    ]),
    {
      service: "config",
      what: "the services' config and secrets (pulumi up writes them again too)",
      commands: [env, restore(`${root}/etc/citadel`)],
    },
    {
      service: "disk layout",
      what: "LVM metadata and fstab, to rebuild volumes before restoring data",
      commands: [
        env,
        `restic restore latest --target /tmp/citadel-layout --include ${root}/var/lib/citadel/layout`,
        "ls /tmp/citadel-layout/var/lib/citadel/layout  # then vgcfgrestore -f lvm-<vg>.vg <vg>",
      ],
    },
  ];
}

/** The runbook as README markdown. */
export function renderRunbook(steps: RestoreStep[]): string {
  return steps
    .map((s) => [`**${s.service}** (${s.what}):`, "", "```sh", ...s.commands, "```"].join("\n"))
    .join("\n\n");
}

/**
 * The restore runbook: for each service the catalog backs up (components/plan/services/), the
 * commands that bring its data back from restic. The README prints these, and the tests run them
 * against a real repository. Pure.
 */
import { CATALOG, ordered } from "../plan/services";
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
  const services = ordered(
    CATALOG.filter((s) => s.backup),
    // The order the runbook has always listed them in.
    ["grafana", "prometheus", "loki", "alertmanager", "phoenix"],
  ).map((s): RestoreStep => {
    const { what, sqlite = [], snapshot } = s.backup as NonNullable<typeof s.backup>;
    const name = s.container;
    if (!snapshot)
      return service(
        name,
        s.uid,
        what,
        sqlite.map((db) => `mv ${dir(name)}/${db}.citadel-backup ${dir(name)}/${db}`),
      );
    // A TSDB snapshot: restore the snapshot directory, then move its blocks into the data directory.
    return {
      service: name,
      what,
      commands: [
        env,
        `docker stop ${name}`,
        `rm -rf ${dir(name)}`,
        restore(`${dir(name)}/snapshots`),
        `mv ${dir(name)}/snapshots/*/* ${dir(name)}/`,
        `rm -rf ${dir(name)}/snapshots`,
        `chown -R ${s.uid} ${dir(name)}`,
        `docker start ${name}`,
      ],
    };
  });
  return [
    ...services,
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

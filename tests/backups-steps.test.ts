/**
 * The backup component as the program registers it: the password step run on a scratch host, the
 * order of the steps, each timer's job and what it backs up, from the stack's config. The jobs
 * themselves run against real restic in backups.test.ts.
 */
import { statSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { CLIENT_NETRC } from "../components/ladon/containers";
import { Backups, BACKUP_LAYOUT_DIR, RESTIC_PASSWORD_FILE } from "../components/ops/backups";
import { parseLabConfig } from "../components/plan";
import { CATALOG, SERVICES } from "../components/plan/services";
import { hostTarget } from "../components/remote";
import type { SynthResult } from "../lib/synth/harness";
import { runLab } from "../lib/synth/program";
import { fromConfigMap, stackConfigSource } from "../lib/synth/stackfile";
import { hostPort } from "./support/catalog";
import { SimHost } from "./support/hostsim";
import { addMonitoringPi, LAB_SECRETS, labConfigMap } from "./support/lab";
import { byName, dependencyNames, synthLab } from "./support/synth";

/** The value a rendered script exports for `name`. */
const exported = (text: string, name: string): string | undefined =>
  new RegExp(`^export ${name}='([^']*)'$`, "m").exec(text)?.[1];

describe("the backup steps the program registers", () => {
  const PASSWORD = "restic password from the stack's secret";
  // Extra paths that sort before the program's own and repeat one of them: the job's list must
  // come out sorted and once each whatever order the pieces arrive in.
  const EXTRA = ["/opt/notes", "/etc/citadel"];
  // Each test synthesises the lab itself, not in a beforeAll: Stryker's per-test coverage then
  // knows which test reaches which line, and runs only those against a mutant there.
  const synth = () => {
    const config = labConfigMap();
    config["citadel:ops"].backups.extraPaths = EXTRA;
    return synthLab(config, runLab, { resticPassword: PASSWORD });
  };
  const job = (l: SynthResult, unit: string): string => {
    const text = l.files.get(`citadel/usr/local/lib/citadel/${unit}.sh`);
    if (text === undefined) throw new Error(`the program rendered no ${unit}.sh for citadel`);
    return text;
  };

  it("writes the stack's restic password to the root-only file every job reads, fed as a secret", async () => {
    const lab = await synth();
    const step = byName(lab, "backups-password");
    expect(step.secretInputs).toContain("stdin");
    expect(step.rawInputs.logging).toBe("none");
    expect(JSON.stringify(step.inputs)).not.toContain(PASSWORD);
    // The step as pulumi-command runs it, on a scratch host: the file holds the password, owned
    // by root, mode 0400.
    const h = new SimHost();
    try {
      // As root already: the step's `sudo -n bash` becomes `bash` (the scratch host has no sudo).
      const create = String(step.rawInputs.create);
      expect(create.startsWith("sudo -n bash -c ")).toBe(true);
      const run = h.exec(create.replace(/^sudo -n bash /, "bash "), String(step.rawInputs.stdin));
      expect(run.stderr).toBe("");
      expect(run.status).toBe(0);
      expect(h.read(RESTIC_PASSWORD_FILE)).toBe(PASSWORD);
      const st = statSync(path.join(h.root, RESTIC_PASSWORD_FILE));
      expect([st.uid, st.mode & 0o777]).toEqual([0, 0o400]);
    } finally {
      h.dispose();
    }
    for (const unit of ["citadel-backup", "citadel-backup-prune", "citadel-backup-check"])
      expect([unit, exported(job(lab, unit), "RESTIC_PASSWORD_FILE")]).toEqual([unit, RESTIC_PASSWORD_FILE]);
  });

  it("installs restic before any job, and every job after the password and the repository's disk", async () => {
    const lab = await synth();
    const packages = String(byName(lab, "backups-packages").rawInputs.create);
    expect(exported(packages, "PACKAGES")?.split(" ")).toContain("restic");
    for (const step of ["backups-packages", "backups-password"])
      expect(dependencyNames(lab, byName(lab, step))).toContain("citadel-storage-disk-backup");
    for (const mode of ["backup", "prune", "check"])
      expect(dependencyNames(lab, byName(lab, `backups-${mode}`))).toEqual(
        expect.arrayContaining(["backups-packages", "backups-password"]),
      );
  });

  it("runs each job in its own mode from its own unit, and backs up the configured extra paths, sorted, once each", async () => {
    const lab = await synth();
    for (const [unit, mode] of [
      ["citadel-backup", "backup"],
      ["citadel-backup-prune", "prune"],
      ["citadel-backup-check", "check"],
    ] as const) {
      const service = lab.files.get(`citadel/etc/systemd/system/${unit}.service`) ?? "";
      expect([unit, /^ExecStart=(.*)$/m.exec(service)?.[1]]).toEqual([
        unit,
        `/usr/local/lib/citadel/${unit}.sh`,
      ]);
      expect([unit, exported(job(lab, unit), "MODE")]).toEqual([unit, mode]);
      const step = byName(lab, `backups-${mode}`);
      expect(exported(String(step.rawInputs.create), "NAME")).toBe(unit);
    }
    // systemctl list-timers tells the three apart by their descriptions.
    const descriptions = ["citadel-backup", "citadel-backup-prune", "citadel-backup-check"].map(
      (u) => /^Description=(.+)$/m.exec(lab.files.get(`citadel/etc/systemd/system/${u}.service`) ?? "")?.[1],
    );
    expect(descriptions.every((d) => d !== undefined && d.trim() !== "")).toBe(true);
    expect(new Set(descriptions).size).toBe(3);
    const paths = (exported(job(lab, "citadel-backup"), "PATHS") ?? "").split(" ");
    expect(paths).toEqual(expect.arrayContaining(EXTRA));
    expect(paths).toEqual([...new Set(paths)].sort());
    // The layout record the restore guide reads back.
    expect(exported(job(lab, "citadel-backup"), "LAYOUT_DIR")).toBe(BACKUP_LAYOUT_DIR);
    expect(BACKUP_LAYOUT_DIR).toMatch(/^\/[^\s']+$/);
  });

  it("hands the job Prometheus's snapshot API and every SQLite database the catalog names, on the stack's host", async () => {
    const lab = await synth();
    const text = job(lab, "citadel-backup");
    const dataDir = labConfigMap()["citadel:ladon"].dataDir as string;
    const databases = CATALOG.flatMap((s) =>
      (s.backup?.sqlite ?? []).map((db) => `${dataDir}/${s.container}/${db}`),
    );
    expect(databases.length).toBeGreaterThan(1);
    expect((exported(text, "SQLITE_DBS") ?? "").split(" ").sort()).toEqual(databases.sort());
    expect(exported(text, "PROMETHEUS_DATA")).toBe(`${dataDir}/${SERVICES.prometheus.container}`);
    expect(exported(text, "PROMETHEUS_URL")).toBe(`http://127.0.0.1:${hostPort("prometheus")}`);
    expect(exported(text, "PROMETHEUS_NETRC")).toBe(CLIENT_NETRC.prometheus);
  });

  it("starts each job only with the repository's disk mounted, and the backup with every disk it reads", async () => {
    const mounts = (l: SynthResult, unit: string) =>
      /^RequiresMountsFor=(.*)$/m
        .exec(l.files.get(`citadel/etc/systemd/system/${unit}.service`) ?? "")?.[1]
        ?.split(" ") ?? [];
    const lab = await synth();
    const repository = labConfigMap()["citadel:ops"].backups.repository as string;
    const paths = (exported(job(lab, "citadel-backup"), "PATHS") ?? "").split(" ");
    expect(mounts(lab, "citadel-backup").sort()).toEqual([repository, ...paths].sort());
    expect(mounts(lab, "citadel-backup-prune")).toEqual([repository]);
    expect(mounts(lab, "citadel-backup-check")).toEqual([repository]);
    // A repository over SFTP is no mount: only what the backup reads is.
    const config = labConfigMap();
    config["citadel:ops"].backups.extraPaths = EXTRA;
    config["citadel:ops"].backups.repository = "sftp:hxadmin@192.168.10.40:/srv/backup/restic-citadel";
    const remote = await synthLab(config);
    expect(mounts(remote, "citadel-backup").sort()).toEqual([...paths].sort());
    expect(mounts(remote, "citadel-backup-prune")).toEqual([]);
  });

  it("backs up no service data and takes no Prometheus snapshot on a host the stack left", async () => {
    const config = labConfigMap();
    addMonitoringPi(config, "192.168.10.40", true);
    config["citadel:ladon"].host = "pi";
    config["citadel:ladon"].dataDir = "/srv/ladon/data";
    const moved = await synthLab(config);
    const text = job(moved, "citadel-backup");
    for (const name of ["PROMETHEUS_DATA", "PROMETHEUS_URL", "PROMETHEUS_NETRC", "SQLITE_DBS"])
      expect([name, exported(text, name)]).toEqual([name, ""]);
    expect((exported(text, "PATHS") ?? "").split(" ").every((p) => p.startsWith("/etc/"))).toBe(true);
  });
});

describe("the Backups component on its own", () => {
  /** A program that registers only a Backups on citadel, with the lab's backups config. */
  const program = (paths: string[]) => () => {
    const { lab } = parseLabConfig(stackConfigSource(fromConfigMap(labConfigMap()), LAB_SECRETS));
    new Backups("bk", {
      host: hostTarget("citadel", lab.hosts.citadel!),
      backups: lab.ops.backups!,
      password: pulumi.secret("pw"),
      paths,
      textfileDir: "/var/lib/node_exporter/textfile",
    });
    return {};
  };

  it("refuses to back up nothing", async () => {
    const failure = await synthLab(labConfigMap(), program([])).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(String((failure as Error | undefined)?.message)).toContain("Backups bk: nothing to back up");
  });

  it("needs no snapshot, database or earlier step: the job then backs up the paths alone", async () => {
    const result = await synthLab(labConfigMap(), program(["/etc/citadel"]));
    const text = result.files.get("citadel/usr/local/lib/citadel/citadel-backup.sh") ?? "";
    expect(exported(text, "PATHS")).toBe("/etc/citadel");
    for (const name of ["PROMETHEUS_DATA", "PROMETHEUS_URL", "PROMETHEUS_NETRC", "SQLITE_DBS"])
      expect([name, exported(text, name)]).toEqual([name, ""]);
    expect(dependencyNames(result, byName(result, "bk-packages"))).toEqual([]);
    expect(dependencyNames(result, byName(result, "bk-password"))).toEqual([]);
  });
});

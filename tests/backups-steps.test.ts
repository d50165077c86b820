/**
 * The backup component as the program registers it: the password step run on a scratch host, the
 * order of the steps, each timer's job and what it backs up, from the stack's config. The jobs
 * themselves run against real restic in backups.test.ts.
 */
import { statSync } from "node:fs";
import * as path from "node:path";
import { BACKUP_LAYOUT_DIR, RESTIC_PASSWORD_FILE } from "../components/ops/backups";
import type { SynthResult } from "../lib/synth/harness";
import { runLab } from "../lib/synth/program";
import { SimHost } from "./support/hostsim";
import { addMonitoringPi, labConfigMap } from "./support/lab";
import { byName, dependencyNames, synthLab } from "./support/synth";

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
  const exported = (text: string, name: string): string | undefined =>
    new RegExp(`^export ${name}='([^']*)'$`, "m").exec(text)?.[1];
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

/** The backup timer's own script against the live Prometheus and Phoenix, into a real restic repository. */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Ctx } from "../static";
import { withTool, expectOk } from "../static";
import type { Bind } from "../sandbox";
import { hostfs } from "../services";
import { hostNamespace, instant, scriptParams, until } from "./harness";

/** The rendered backup timer's script, where the lab has backups. */
const BACKUP_SCRIPT = "/usr/local/lib/citadel/citadel-backup.sh";

/**
 * The backup timer's own script, as rendered, run once on the stack host's namespace in a root made
 * of the simulated host: Prometheus's admin API takes the TSDB snapshot, SQLite copies Phoenix's
 * live database online, restic (Debian's, as the host installs it) writes the repository under
 * the run's /srv, and the node exporter serves the result to Prometheus.
 */
export async function backupChecks(ctx: Ctx): Promise<void> {
  const host = ctx.lab.container("prometheus").host;
  const fs = hostfs(ctx.dir, host);
  if (!existsSync(path.join(fs, BACKUP_SCRIPT))) return; // this lab has no backups
  await withTool(
    ctx,
    "prometheus",
    "prometheus",
    "the backup script snapshots the live TSDB and Phoenix's database into restic, and its metrics are scraped",
    async () => {
      const params = scriptParams(readFileSync(path.join(fs, BACKUP_SCRIPT), "utf8"));
      const need = (k: string) => {
        const v = params[k];
        if (!v) throw new Error(`${BACKUP_SCRIPT} exports no ${k}`);
        return v;
      };
      // What the host's other steps would have made: the password file and an fstab.
      const password = path.join(fs, need("RESTIC_PASSWORD_FILE"));
      mkdirSync(path.dirname(password), { recursive: true });
      writeFileSync(password, ctx.lab.secrets.resticPassword as string, { mode: 0o600 });
      if (!existsSync(path.join(fs, "etc/fstab"))) writeFileSync(path.join(fs, "etc/fstab"), "# citadel\n");
      // Every path the script reads or writes comes from the simulated host, never the machine's.
      const dirs = [
        "/srv",
        path.dirname(need("RESTIC_PASSWORD_FILE")),
        need("TEXTFILE_DIR"),
        need("LAYOUT_DIR"),
        "/var/cache",
        ...need("PATHS")
          .split(" ")
          .filter((p) => p.startsWith("/etc/") && p !== "/etc/fstab"),
      ];
      const binds: Bind[] = [
        ...[...new Set(dirs)].map((d) => {
          mkdirSync(path.join(fs, d), { recursive: true });
          return { src: path.join(fs, d), dst: d, readOnly: false };
        }),
        { src: path.join(fs, "etc/fstab"), dst: "/etc/fstab", readOnly: true },
        // The root's /usr is the machine's, read-only; the script runs from beside it.
        { src: path.join(fs, path.dirname(BACKUP_SCRIPT)), dst: "/citadel-check", readOnly: true },
      ];
      const r = await ctx.sandbox.run(
        {
          service: hostNamespace(ctx, host),
          argv: ["bash", `/citadel-check/${path.basename(BACKUP_SCRIPT)}`],
          binds,
        },
        300_000,
      );
      const out = expectOk(r, "citadel-backup.sh");
      if (!/Prometheus snapshot \S+/.test(out)) throw new Error(`Prometheus took no snapshot:\n${out}`);

      // What restic holds: the TSDB snapshot and the SQLite copy, never the live files.
      const files = execFileSync("restic", ["ls", "--json", "latest"], {
        encoding: "utf8",
        env: {
          ...process.env,
          RESTIC_REPOSITORY: path.join(fs, need("RESTIC_REPOSITORY")),
          RESTIC_PASSWORD_FILE: password,
          RESTIC_CACHE_DIR: path.join(ctx.dir, "restic-cache"),
        },
      })
        .split("\n")
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { path?: string }).path ?? "");
      const prometheus = need("PROMETHEUS_DATA");
      const phoenix = need("SQLITE_DBS")
        .split(" ")
        .find((d) => d.includes("phoenix"));
      const has = (re: RegExp) => files.some((f) => re.test(f));
      const problems = [
        has(new RegExp(`${prometheus}/snapshots/[^/]+/[^/]+/meta\\.json$`))
          ? ""
          : "no TSDB block of the snapshot in the backup",
        has(new RegExp(`${prometheus}/wal/`)) ? "the live WAL is in the backup" : "",
        phoenix && !files.some((f) => f.endsWith(`${phoenix}.citadel-backup`))
          ? "no SQLite copy of Phoenix's database in the backup"
          : "",
        phoenix && files.some((f) => f.endsWith(phoenix)) ? "Phoenix's live database is in the backup" : "",
        existsSync(path.join(fs, prometheus, "snapshots")) &&
        readdirSync(path.join(fs, prometheus, "snapshots")).length > 0
          ? "the TSDB snapshot was left behind"
          : "",
      ].filter(Boolean);
      if (problems.length > 0) throw new Error(problems.join("\n"));

      await until("citadel_backup_snapshots in Prometheus", 90, () => {
        const res = instant(ctx, "citadel_backup_snapshots");
        return res.some((x) => Number(x.value[1]) >= 1) ? true : undefined;
      });
    },
  );
}

/**
 * Backups proven with real restic: the project's own backup script backs up a sample lab tree,
 * files are deleted and corrupted, the restore guide's commands bring them back byte for byte,
 * and the prune policy keeps exactly the snapshots it should.
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  cpSync,
  existsSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import * as path from "node:path";
import { restoreRunbook, renderRunbook } from "../components/ops/runbook";
import { RESTIC_PASSWORD_FILE } from "../components/ops/backups";
import { SimHost } from "./support/hostsim";
import { requireTool } from "./support/tools";
import { labConfigMap } from "./support/lab";
import { synthLab } from "./support/synth";
import { hostPort } from "./support/catalog";
import { scratchDir } from "./support/scratch";

const SCRIPT = "ops/scripts/backup.sh";
const DATA = "/srv/data/ladon";

/** An initialised, empty repository whose password is "pw", made once: see emptyRepository. */
let template: string;

beforeAll(() => {
  for (const tool of ["restic", "jq", "sqlite3", "promtool"]) requireTool(tool);
  const dir = scratchDir("citadel-restic-");
  writeFileSync(path.join(dir, "pw"), "pw");
  template = path.join(dir, "repo");
  execFileSync("restic", ["init", "-q"], {
    env: { ...process.env, RESTIC_REPOSITORY: template, RESTIC_PASSWORD_FILE: path.join(dir, "pw") },
  });
});

/**
 * A fresh copy of the template repository, for the tests that only need an empty one with the
 * password "pw" (the backup script's own test needs none: the script must initialise it). A
 * `restic init` costs seconds of CPU: restic 0.14.0 calibrates scrypt for the new key
 * (internal/repository/key.go@v0.14.0, AddKey: crypto.Calibrate(KDFTimeout = 500 ms, KDFMemory =
 * 60 MiB); simple-scrypt@v1.3.0's Calibrate raises p until one derivation takes about 500 ms, and
 * then every command spends that opening the key). Neither limit can be set from the command line
 * or the environment in 0.14.0; only restic's own Go tests lower them
 * (internal/repository/testing.go). A copy of the repository's directory is the same repository.
 */
function emptyRepository(): string {
  const repo = path.join(scratchDir("citadel-restic-"), "repo");
  cpSync(template, repo, { recursive: true });
  return repo;
}

/** Every file under a directory, with its bytes. */
function snapshotTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) walk(full);
      else out.set(path.relative(dir, full), readFileSync(full).toString("base64"));
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

function labTree(h: SimHost): void {
  h.file(`${DATA}/grafana/plugins/readme.txt`, "plugin\n");
  execFileSync(
    "sqlite3",
    [
      path.join(h.root, DATA, "grafana/grafana.db"),
      "CREATE TABLE dashboard(uid TEXT, title TEXT); INSERT INTO dashboard VALUES ('citadel-vllm', 'vLLM serving');",
    ],
    {
      stdio: "ignore",
    },
  );
  h.file(`${DATA}/prometheus/01JBLOCKAAAAAAAAAAAAAAAAAA/chunks/000001`, "block bytes \u0001\u0002");
  h.file(`${DATA}/prometheus/01JBLOCKAAAAAAAAAAAAAAAAAA/meta.json`, '{"ulid":"01JBLOCK"}\n');
  h.file(`${DATA}/prometheus/wal/00000003`, "live write-ahead log");
  h.file(`${DATA}/loki/chunks/fake/abc`, "log chunk\n");
  h.file(`${DATA}/alertmanager/silences`, "silence\n");
  h.file("/etc/citadel/prometheus/prometheus.yml", "global: {}\n");
  h.file("/etc/fstab", "UUID=1234 /srv/data ext4 defaults,nofail 0 2\n");
  h.file(RESTIC_PASSWORD_FILE, "correct horse battery staple");
  // The stack's containers, running: the runbook stops and starts them around a restore.
  for (const c of ["grafana", "prometheus", "loki", "alertmanager"]) h.set(`running-${c}`, "");
}

function backupParams(h: SimHost, repo: string) {
  return {
    MODE: "backup",
    RESTIC_REPOSITORY: repo,
    RESTIC_PASSWORD_FILE: path.join(h.root, RESTIC_PASSWORD_FILE),
    RESTIC_CACHE_DIR: path.join(h.root, "var/cache/restic"),
    PATHS: ["grafana", "prometheus", "loki", "alertmanager"]
      .map((s) => `${DATA}/${s}`)
      .concat("/etc/citadel")
      .join(" "),
    TEXTFILE_DIR: "/var/lib/node_exporter/textfile",
    LAYOUT_DIR: "/var/lib/citadel/layout",
    PROMETHEUS_DATA: `${DATA}/prometheus`,
    PROMETHEUS_URL: `http://127.0.0.1:${hostPort("prometheus")}`,
    PROMETHEUS_NETRC: "/etc/citadel/clients/prometheus.netrc",
    SQLITE_DBS: `${DATA}/grafana/grafana.db`,
  };
}

describe("backup and restore with real restic", () => {
  const h = new SimHost();
  const repo = path.join(scratchDir("citadel-restic-"), "repo");
  let first: ReturnType<SimHost["runStandalone"]>;
  let original: Map<string, string>;
  let originalDump: string;
  const dump = () =>
    execFileSync("sqlite3", [path.join(h.root, DATA, "grafana/grafana.db"), ".dump"], { encoding: "utf8" });

  beforeAll(() => {
    labTree(h);
    original = snapshotTree(path.join(h.root, "srv/data/ladon"));
    originalDump = dump();
    first = h.runStandalone(SCRIPT, backupParams(h, repo));
  });

  it("initialises the repository, backs up and reports success", () => {
    expect(first.stderr).toBe("");
    expect(first.status).toBe(0);
    expect(first.stdout).toContain("initialising the repository");
    expect(first.stdout).toContain("Prometheus snapshot 20261121T031500Z-5c1e7a9b");
    // Prometheus answers only with basic auth: the login comes from the root-only netrc.
    expect(first.calls).toContainEqual(
      `curl -fsS --netrc-file ${h.root}/etc/citadel/clients/prometheus.netrc -X POST http://127.0.0.1:${hostPort("prometheus")}/api/v1/admin/tsdb/snapshot`,
    );
  });

  it("writes its metrics atomically, in a format promtool accepts", () => {
    const prom = h.read("/var/lib/node_exporter/textfile/citadel_backup.prom");
    expect(prom).toMatch(/^citadel_backup_last_success_timestamp_seconds \d{10}$/m);
    expect(prom).toMatch(/^citadel_backup_duration_seconds \d+$/m);
    expect(prom).toMatch(/^citadel_backup_bytes_added [1-9]\d*$/m);
    expect(prom).toMatch(/^citadel_backup_snapshots 1$/m);
    const check = spawnSync("sh", ["-c", "promtool check metrics"], { input: prom, encoding: "utf8" });
    expect(check.stdout + check.stderr).toBe("");
    expect(readdirSync(path.join(h.root, "var/lib/node_exporter/textfile"))).toEqual(["citadel_backup.prom"]);
  });

  it("backs up Prometheus's snapshot, never its live WAL, and cleans the snapshot up", () => {
    const env = {
      ...process.env,
      RESTIC_REPOSITORY: repo,
      RESTIC_PASSWORD_FILE: path.join(h.root, RESTIC_PASSWORD_FILE),
    };
    const files = execFileSync("restic", ["ls", "latest"], { env, encoding: "utf8" });
    expect(files).toContain(
      `${DATA}/prometheus/snapshots/20261121T031500Z-5c1e7a9b/01JBLOCKAAAAAAAAAAAAAAAAAA/chunks/000001`,
    );
    expect(files).not.toContain(`${DATA}/prometheus/wal`);
    expect(files).not.toContain(`${DATA}/prometheus/01JBLOCKAAAAAAAAAAAAAAAAAA`.replace(/$/, "/meta.json\n"));
    expect(files).toContain(`${DATA}/grafana/grafana.db.citadel-backup`);
    expect(files).toContain("/var/lib/citadel/layout/fstab");
    expect(existsSync(path.join(h.root, DATA, "prometheus/snapshots/20261121T031500Z-5c1e7a9b"))).toBe(false);
    expect(existsSync(path.join(h.root, DATA, "grafana/grafana.db.citadel-backup"))).toBe(false);
  });

  it("restores deleted and corrupted data byte for byte with the runbook's commands", () => {
    rmSync(path.join(h.root, DATA, "grafana"), { recursive: true });
    writeFileSync(path.join(h.root, DATA, "loki/chunks/fake/abc"), "CORRUPTED");
    rmSync(path.join(h.root, DATA, "prometheus"), { recursive: true });
    writeFileSync(path.join(h.root, "etc/citadel/prometheus/prometheus.yml"), "garbage");
    for (const step of restoreRunbook(DATA, repo, h.root).filter((s) =>
      ["grafana", "prometheus", "loki", "config"].includes(s.service),
    )) {
      const run = h.exec(step.commands.join("\n"));
      expect(run.stderr).toBe("");
      expect(run.status).toBe(0);
    }
    // Every file comes back byte for byte, except Prometheus's WAL, which is never backed up, and
    // the SQLite database, an online-backup copy: the same content, with SQLite's own header counters.
    const skip = (f: string) => f.startsWith("prometheus/wal/") || f === "grafana/grafana.db";
    const restored = snapshotTree(path.join(h.root, "srv/data/ladon"));
    expect(new Map([...restored].filter(([f]) => !skip(f)))).toEqual(
      new Map([...original].filter(([f]) => !skip(f))),
    );
    expect(restored.has("grafana/grafana.db")).toBe(true);
    expect(dump()).toBe(originalDump);
    expect(readFileSync(path.join(h.root, "etc/citadel/prometheus/prometheus.yml"), "utf8")).toBe(
      "global: {}\n",
    );
    expect(statSync(path.join(h.root, DATA, "grafana/grafana.db")).uid).toBe(472);
  });

  it("is what the restore guide's runbook says", () => {
    const guide = readFileSync(path.join(__dirname, "..", "docs", "guides", "restore-backup.md"), "utf8");
    expect(guide).toContain(renderRunbook(restoreRunbook(DATA, "/srv/backup/restic")));
  });
});

describe("the prune policy on dated snapshots", () => {
  it("keeps what the stack file's keep policy says, exactly, through the prune script the program renders", async () => {
    // Three different numbers, none of them a default: a keep value that reached the wrong flag,
    // or a default that shadowed the config, keeps another set of snapshots.
    const config = labConfigMap();
    config["citadel:ops"].backups.keep = { daily: 5, weekly: 3, monthly: 4 };
    const lab = await synthLab(config);
    const rendered = lab.files.get("citadel/usr/local/lib/citadel/citadel-backup-prune.sh");
    if (rendered === undefined) throw new Error("the program rendered no prune script for citadel");
    const h = new SimHost();
    const repo = emptyRepository();
    h.file(RESTIC_PASSWORD_FILE, "pw");
    h.file("/data/file", "x");
    const env = {
      ...process.env,
      TZ: "UTC",
      RESTIC_REPOSITORY: repo,
      RESTIC_PASSWORD_FILE: path.join(h.root, RESTIC_PASSWORD_FILE),
      RESTIC_CACHE_DIR: path.join(h.root, "cache"),
    };
    // Monthly in the autumn and winter, weekly in early March, then daily from March 20.
    const days = [
      "2025-10-15",
      "2025-11-15",
      "2025-12-15",
      "2026-01-15",
      "2026-02-15",
      "2026-03-01",
      "2026-03-08",
      "2026-03-15",
      ...Array.from({ length: 12 }, (_, i) => `2026-03-${String(i + 20).padStart(2, "0")}`),
    ];
    for (const day of days)
      execFileSync("restic", ["backup", "-q", "--time", `${day} 03:15:00`, path.join(h.root, "data")], {
        env,
      });
    // The rendered script as the timer runs it, with its repository and password file moved into
    // the sandbox (the only two lines changed; its keep parameters are the program's).
    const sandboxed = ["RESTIC_REPOSITORY", "RESTIC_PASSWORD_FILE"].reduce((text, name) => {
      const line = new RegExp(`^export ${name}='[^']*'$`, "m");
      expect(text).toMatch(line);
      return text.replace(line, `export ${name}='${env[name as keyof typeof env]}'`);
    }, rendered);
    const run = spawnSync("bash", ["-s"], { input: sandboxed, env, encoding: "utf8" });
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.status).toBe(0);
    const kept = (
      JSON.parse(execFileSync("restic", ["snapshots", "--json"], { env, encoding: "utf8" })) as {
        time: string;
      }[]
    )
      .map((s) => s.time.slice(0, 10))
      .sort();
    // restic keeps the newest snapshot of each of the last N days, ISO weeks and months, each
    // rule on its own. Daily 5: Mar 27-31. Weekly 3 (ISO weeks from Monday): Mar 31, 29, 22.
    // Monthly 4: Mar 31, Feb 15, Jan 15, Dec 15. Gone: Oct 15, Nov 15, Mar 1, 8, 15, 20-26.
    expect(kept).toEqual([
      "2025-12-15",
      "2026-01-15",
      "2026-02-15",
      "2026-03-22",
      "2026-03-27",
      "2026-03-28",
      "2026-03-29",
      "2026-03-30",
      "2026-03-31",
    ]);
  });
});

describe("restic check", () => {
  it("passes on a sound repository and fails on a damaged one", () => {
    const h = new SimHost();
    const repo = emptyRepository();
    h.file(RESTIC_PASSWORD_FILE, "pw");
    h.file("/data/file", "some data to pack");
    const env = {
      ...process.env,
      RESTIC_REPOSITORY: repo,
      RESTIC_PASSWORD_FILE: path.join(h.root, RESTIC_PASSWORD_FILE),
      RESTIC_CACHE_DIR: path.join(h.root, "cache"),
    };
    execFileSync("restic", ["backup", "-q", path.join(h.root, "data")], { env });
    const check = () =>
      spawnSync("bash", ["-s"], {
        input: readFileSync(path.join(__dirname, "..", "components", SCRIPT), "utf8"),
        env: { ...env, MODE: "check" },
        encoding: "utf8",
      });
    expect(check().status).toBe(0);
    // The pack that holds the file's data, from the repository's index (its JSON:
    // internal/repository/index.go@v0.14.0, jsonIndex). restic check finds its changed size in its
    // first pass (internal/checker/checker.go@v0.14.0, "unexpected file size"). Damage to the pack
    // of the trees fails too, but later: the tree walk reloads it through restic's retrying
    // backend, 10 tries with exponential backoff (cmd/restic/global.go@v0.14.0,
    // NewRetryBackend(be, 10, …)), about 45 s asleep, and which pack came first by name was chance.
    const [index] = execFileSync("restic", ["list", "index"], { env, encoding: "utf8" }).trim().split("\n");
    const { packs } = JSON.parse(
      execFileSync("restic", ["cat", "index", index as string], { env, encoding: "utf8" }),
    ) as { packs: { id: string; blobs: { type: string }[] }[] };
    const data = packs.filter((p) => p.blobs.every((b) => b.type === "data"));
    expect(data).toHaveLength(1);
    const pack = path.join(repo, "data", data[0]!.id.slice(0, 2), data[0]!.id);
    expect(existsSync(pack)).toBe(true);
    chmodSync(pack, 0o600); // restic writes its packs read-only
    writeFileSync(pack, "damaged");
    const damaged = check();
    expect(damaged.status).not.toBe(0);
    expect(damaged.stdout + damaged.stderr).toContain(`pack ${data[0]!.id}: unexpected file size`);
  });
});

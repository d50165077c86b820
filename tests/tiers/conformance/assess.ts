/**
 * `npm run assess` against a real Prometheus: a week of recorded series (tests/support/assess-fixture.ts)
 * turned into TSDB blocks by the pinned promtool, served by the pinned Prometheus on 127.0.0.1,
 * and read by `npm run assess` exactly as an operator runs it. Checks the verdict tables it
 * prints for a candidate that fits and one that does not, its exit codes, the figures it found
 * against the ones the series were made from, and that the chart is a PNG of sensible size.
 *
 * Uses (github.com/prometheus/prometheus@v0.315.0): `promtool tsdb create-blocks-from
 * [--max-block-duration] openmetrics <file> <dir>` (cmd/promtool/main.go; the flag is hidden and
 * makes fewer, larger blocks, so promtool reads the file fewer times, cmd/promtool/backfill.go);
 * `prometheus --config.file --storage.tsdb.path --web.listen-address` (cmd/prometheus/main.go) with
 * retention in the config file's storage.tsdb.retention.time (config/config.go TSDBRetentionConfig;
 * the retention flags are deprecated there); `/-/ready` (web/web.go); `--web.config.file` with
 * basic auth, as the lab runs it (components/ladon/webauth.ts cites the source at v3.16.0).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { LabConfig } from "../../../components/config";
import { SERVICES, type ServiceName } from "../../../components/plan/services";
import { expected, openMetrics, PROFILES } from "../../support/assess-fixture";
import type { Assessment } from "../../../tools/assess/index";
import { parseDuration } from "../../../tools/assess/capacity";
import type { Installed } from "../../../lib/upstream";
import type { CheckRun } from "./checks";
import { renderWebConfig, webPasswordHash, WEB_USER } from "../../../components/ladon/webauth";
import { PROMETHEUS_PASSWORD_ENV } from "../../../tools/assess/prometheus";

/** The environment without a password the operator's shell may hold. */
function withoutPassword(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  delete out[PROMETHEUS_PASSWORD_ENV];
  return out;
}

const REPO = path.join(__dirname, "..", "..", "..");
const GiB = 1024 ** 3;

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** PNG signature and IHDR width/height (the first chunk, bytes 16-23). */
export function pngSize(buf: Buffer): { width: number; height: number } {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (buf.length < 24 || !buf.subarray(0, 8).equals(signature) || buf.toString("latin1", 12, 16) !== "IHDR")
    throw new Error("not a PNG: no PNG signature and IHDR chunk");
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

function near(what: string, got: number | undefined, want: number, tolerance: number): string | undefined {
  if (got === undefined) return `${what}: nothing measured, expected ${want.toPrecision(4)}`;
  return Math.abs(got - want) <= tolerance * Math.abs(want)
    ? undefined
    : `${what}: ${got.toPrecision(4)}, expected ${want.toPrecision(4)} ± ${tolerance * 100}%`;
}

export async function assessCheck(
  run: CheckRun,
  version: string,
  prometheus: Installed | undefined,
  stackFile: string,
  lab: LabConfig,
  outDir: string,
): Promise<void> {
  const name = "npm run assess against a week of recorded series: verdicts, figures and chart";
  if (!prometheus) {
    run.missing(
      "prometheus",
      version,
      name,
      "prometheus is not installed: run npm run upstream -- prometheus",
    );
    return;
  }
  await run.check("prometheus", version, name, async () => {
    const ladon = lab.ladon;
    if (!ladon) throw new Error(`${stackFile} has no citadel:ladon: nothing to assess`);
    const host = lab.hosts[ladon.host];
    if (!host) throw new Error(`citadel:ladon.host ${ladon.host} is not a host`);
    const dir = mkdtempSync(path.join(tmpdir(), "citadel-assess-"));
    let server: ChildProcess | undefined;
    try {
      // 1. The recorded week, ending now, at the stack's scrape interval.
      const end = Math.floor(Date.now() / 1000);
      const om = path.join(dir, "series.om");
      const fd = openSync(om, "w");
      try {
        for (const chunk of openMetrics({
          end,
          interval: parseDuration(ladon.prometheus.scrapeInterval),
          host: ladon.host,
          address: host.address,
        }))
          writeSync(fd, chunk);
      } finally {
        closeSync(fd);
      }
      // 2. Blocks from it, by the pinned promtool.
      const tsdb = path.join(dir, "tsdb");
      const blocks = spawnSync(
        prometheus.bin("promtool"),
        ["tsdb", "create-blocks-from", "--quiet", "--max-block-duration=54h", "openmetrics", om, tsdb],
        { encoding: "utf8", timeout: 300_000 },
      );
      if (blocks.status !== 0)
        throw new Error(
          `promtool tsdb create-blocks-from exited ${blocks.status}:\n${blocks.stderr}${blocks.stdout}`,
        );
      rmSync(om);
      // 3. The pinned Prometheus on it, on loopback, keeping more than the week.
      const port = await freePort();
      const config = path.join(dir, "prometheus.yml");
      writeFileSync(
        config,
        "global:\n  scrape_interval: 1m\nstorage:\n  tsdb:\n    retention:\n      time: 30d\n",
      );
      // Behind basic auth, as the lab's Prometheus is (components/ladon/webauth.ts): the web config
      // the program renders for this password.
      const password = randomBytes(24).toString("hex");
      const web = path.join(dir, "web.yml");
      writeFileSync(web, renderWebConfig(webPasswordHash(password, "prometheus")), { mode: 0o600 });
      const authorization = `Basic ${Buffer.from(`${WEB_USER}:${password}`).toString("base64")}`;
      const log = path.join(dir, "prometheus.log");
      const out = openSync(log, "w");
      server = spawn(
        prometheus.bin("prometheus"),
        [
          `--config.file=${config}`,
          `--storage.tsdb.path=${tsdb}`,
          `--web.listen-address=127.0.0.1:${port}`,
          `--web.config.file=${web}`,
        ],
        { stdio: ["ignore", out, out] },
      );
      closeSync(out);
      const url = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 120_000;
      for (;;) {
        if (server.exitCode !== null)
          throw new Error(`prometheus exited ${server.exitCode}:\n${readFileSync(log, "utf8").slice(-2000)}`);
        const ready = await fetch(`${url}/-/ready`, { headers: { authorization } }).then(
          (r) => r.ok,
          () => false,
        );
        if (ready) break;
        if (Date.now() > deadline)
          throw new Error(`prometheus not ready within 120 s:\n${readFileSync(log, "utf8").slice(-2000)}`);
        await sleep(500);
      }

      // 4. npm run assess, as an operator runs it, with the password in its environment.
      const assess = (
        args: string[],
        env: Record<string, string> = { [PROMETHEUS_PASSWORD_ENV]: password },
      ) => {
        const r = spawnSync(
          "npm",
          ["run", "--silent", "assess", "--", "--config", stackFile, "--prometheus", url, ...args],
          {
            cwd: REPO,
            encoding: "utf8",
            timeout: 300_000,
            env: { ...withoutPassword(process.env), ...env },
          },
        );
        return { code: r.status, out: `${r.stdout}${r.stderr}` };
      };
      const problems: string[] = [];
      const fitsJson = path.join(dir, "fits.json");
      const chart = path.join(dir, "assess.png");
      const fits = assess([
        "--memory",
        "8GiB",
        "--cores",
        "4",
        "--disks",
        "4x1TiB",
        "--raid",
        "5",
        "--disk-write-iops",
        "2000",
        "--chart",
        chart,
        "--json",
        fitsJson,
      ]);
      if (fits.code !== 0)
        problems.push(
          `the Pi with 8 GiB, 4 cores and RAID5 of 4 × 1 TiB: exit ${fits.code}, expected 0:\n${fits.out}`,
        );
      for (const resource of ["memory", "cpu", "disk", "write IOPS"]) {
        if (
          !new RegExp(`^${resource}  .*  fits with [0-9.]+ (GiB|cores|writes/s) headroom$`, "m").test(
            fits.out,
          )
        )
          problems.push(`no "${resource} … fits with … headroom" line in:\n${fits.out}`);
      }

      // The figures against the series they came from.
      if (existsSync(fitsJson)) {
        const a = JSON.parse(readFileSync(fitsJson, "utf8")) as Assessment;
        const onCandidate = a.candidate.services;
        if (onCandidate.includes("gpuExporter"))
          problems.push("the GPU exporter is counted on a candidate without GPUs");
        for (const m of a.measured) {
          const e = expected(m.service as ServiceName);
          const p = [
            near(`${m.service} max working set`, m.memMaxBytes, e.memMax, 0.001),
            near(`${m.service} average cores`, m.cpuAvg, e.cpuAvg, 0.1),
            e.writes > 0
              ? near(
                  `${m.service} average writes/s (the device-wide decoy left out)`,
                  m.writeIopsAvg,
                  e.writes,
                  0.1,
                )
              : undefined,
            e.growthPerDay
              ? near(`${m.service} data growth per day`, m.diskGrowthPerDay, e.growthPerDay, 0.02)
              : undefined,
          ];
          problems.push(...p.filter((x): x is string => x !== undefined));
        }
        const services = Object.keys(PROFILES).filter(
          (s) => SERVICES[s as ServiceName].placement !== "gpuHosts",
        );
        const memory = services.reduce((sum, s) => sum + expected(s as ServiceName).memMax, 0);
        const headroom = 8 - ladon.headroomGiB - memory / GiB;
        const line = /^memory {2}.*fits with ([0-9.]+) GiB headroom$/m.exec(fits.out);
        if (line && Math.abs(Number(line[1]) - headroom) > 0.051)
          problems.push(`memory headroom ${line[1]} GiB, expected ${headroom.toFixed(1)} GiB`);
      } else problems.push(`no ${fitsJson} written`);

      if (!existsSync(chart)) problems.push(`no chart at ${chart}`);
      else {
        // Kept beside out/conformance.json, for a look.
        mkdirSync(outDir, { recursive: true });
        copyFileSync(chart, path.join(outDir, "assess-conformance.png"));
        const png = readFileSync(chart);
        const { width, height } = pngSize(png);
        if (width < 800 || height < 500 || png.length < 20_000)
          problems.push(
            `the chart is ${width}×${height}, ${png.length} bytes: too small to show a week of series`,
          );
      }

      // A candidate that does not fit: exit 1, and the biggest consumer named.
      const small = assess([
        "--memory",
        "2GiB",
        "--cores",
        "1",
        "--disks",
        "2x64GiB",
        "--raid",
        "1",
        "--cpu-slowdown",
        "4",
        "--chart",
        path.join(dir, "small.png"),
      ]);
      if (small.code !== 1)
        problems.push(
          `a 2 GiB, 1-core host with a 64 GiB mirror: exit ${small.code}, expected 1:\n${small.out}`,
        );
      for (const [resource, who] of [
        ["memory", "Prometheus"],
        ["cpu", "Prometheus"],
        ["disk", "Prometheus"],
      ]) {
        if (
          !new RegExp(`^${resource}  .*  does not fit: ${who} needs [0-9.]+ (GiB|cores)`, "m").test(small.out)
        )
          problems.push(`no "${resource} … does not fit: ${who} needs …" line in:\n${small.out}`);
      }

      // Without the password: exit 3, naming where it goes, and never printing one.
      const anonymous = assess(["--memory", "8GiB", "--cores", "4"], {});
      if (anonymous.code !== 3 || !anonymous.out.includes(`set ${PROMETHEUS_PASSWORD_ENV}`))
        problems.push(
          `without ${PROMETHEUS_PASSWORD_ENV}: exit ${anonymous.code}, expected 3 naming it:\n${anonymous.out}`,
        );
      const wrong = assess(["--memory", "8GiB", "--cores", "4"], {
        [PROMETHEUS_PASSWORD_ENV]: "not-the-password-0123",
      });
      if (wrong.code !== 3 || wrong.out.includes("not-the-password-0123") || wrong.out.includes(password))
        problems.push(
          `with a wrong password: exit ${wrong.code}, expected 3 without the password:\n${wrong.out}`,
        );

      // Bad input: exit 2 naming the flag.
      const bad = assess(["--memory", "8GiB", "--cores", "4", "--disks", "3x1TiB", "--raid", "6"]);
      if (bad.code !== 2 || !bad.out.includes("--raid"))
        problems.push(`RAID6 of 3 disks: exit ${bad.code}, expected 2 naming --raid:\n${bad.out}`);

      if (problems.length > 0) throw new Error(problems.join("\n"));
      // The evidence, indented under the check's line.
      console.log([fits.out, small.out].join("\n").replace(/^/gm, "      "));
    } finally {
      if (server && server.exitCode === null) {
        server.kill("SIGTERM");
        await Promise.race([new Promise((r) => server?.once("exit", r)), sleep(10_000)]);
        if (server.exitCode === null && server.signalCode === null) server.kill("SIGKILL");
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

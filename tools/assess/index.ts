/**
 * `npm run assess`: the LadonStack's measured footprint on its host, from the lab's own Prometheus,
 * against a candidate host (the Raspberry Pi with its SSD HAT, or any other).
 *
 *   npm run assess -- [--config Pulumi.citadel.yaml] [--prometheus <url>] [--window 7d]
 *                     [--host <config host> | --memory 8GiB --cores 4]
 *                     [--disks 4x1TiB | 1TiB,1TiB] [--raid 5] [--disk-write-iops 5000]
 *                     [--cpu-slowdown 1] [--horizon 365d] [--chart out/assess.png] [--json <file>]
 *
 * Prometheus answers only with basic auth: the password comes from CITADEL_PROMETHEUS_PASSWORD
 * (the stack's secret citadel:prometheusPassword), never from a flag, which `ps` would show.
 *
 * Reads, per service on the stack host (citadel:ladon.host): CPU cores (average and p95) and the
 * highest memory working set from cAdvisor, write IOPS from cAdvisor, and the size and growth of
 * its data directory from the stack's textfile metrics (tools/assess/queries.ts says which series
 * and why). Projects disk under citadel:ladon's retention, prints a table per service and a
 * verdict per resource, and writes a PNG chart of CPU and memory per service over the window.
 *
 * Exit codes: 0 every compared resource fits; 1 something does not fit; 2 bad flags or config
 * (the message names the flag or key); 3 Prometheus could not be read or holds no cAdvisor series
 * for the stack host; 4 anything else that went wrong.
 */
import "../../lib/compile-cache";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  formatSize,
  LabConfigError,
  parseSize,
  type HostConfig,
  type LabConfig,
} from "../../components/config";
import { SERVICES, SERVICE_NAMES, type ServiceName } from "../../components/plan/services";
import { placement, volumeOf } from "../../components/plan/ladon";
import { loadLab, parseFlags } from "../../lib/cli";
import { StackFileError } from "../../lib/synth/stackfile";
import {
  CapacityError,
  diskNeed,
  parseDuration,
  parseRaidLevel,
  promDuration,
  raidUsableBytes,
  renderMeasured,
  renderVerdicts,
  verdicts,
  type Candidate,
  type DiskNeed,
  type Measured,
  type RaidLevel,
  type Retention,
} from "./capacity";
import { chartSpec, renderPng, type ChartPoint } from "./chart";
import { WEB_USER } from "../../components/ladon/webauth";
import { Prometheus, PrometheusError, PROMETHEUS_PASSWORD_ENV } from "./prometheus";
import { chartQueries, summaryQueries, type Scope } from "./queries";

const GiB = 1024 ** 3;
const DAY = 86400;

export const USAGE =
  "npm run assess -- [--config <stack yaml>] [--prometheus <url>] [--window 7d] " +
  "[--host <config host> [--host-config <stack yaml>] | --memory <size> --cores <n>] [--disks 4x1TiB|<size>,<size>…] [--raid 0|1|5|6|10|none] " +
  "[--disk-write-iops <per disk>] [--cpu-slowdown <x>] [--horizon 365d] [--chart out/assess.png] [--json <file>]";

export const DEFAULTS = {
  config: "Pulumi.citadel.yaml",
  prometheus: "",
  window: "7d",
  host: "",
  "host-config": "",
  memory: "",
  cores: "",
  disks: "",
  raid: "",
  "disk-write-iops": "",
  "cpu-slowdown": "1",
  horizon: "365d",
  chart: "out/assess.png",
  json: "",
};
export type Flags = typeof DEFAULTS;

export const HELP = {
  usage: USAGE,
  flags: {
    config: "the stack file of the lab whose LadonStack is measured (its host and Prometheus)",
    prometheus: `the Prometheus to read (none: the stack host's address and Prometheus's host port, ${SERVICES.prometheus.ports.http?.host})`,
    window: "how far back to measure, a Prometheus duration such as 7d or 36h",
    host: "the candidate: a host in citadel:hosts, giving its memoryGiB, cpus and the volume under dataDir",
    "host-config":
      "the stack file that declares --host, when it is not the --config one (e.g. examples/Pulumi.monitoring-pi.yaml for pi)",
    memory: "the candidate's RAM, such as 8GiB (overrides --host's memoryGiB)",
    cores: "the candidate's CPU cores (overrides --host's cpus)",
    disks: "the candidate's data disks: 4x1TiB or 1TiB,1TiB (overrides --host's storage)",
    raid: "the RAID level over --disks: 0, 1, 5, 6, 10 or none",
    "disk-write-iops":
      "sustained random writes per second of one disk; without it write IOPS are not compared",
    "cpu-slowdown": "how many times slower one candidate core is than one of the measured host's",
    horizon: "how far ahead services without retention (Grafana, Alertmanager) grow",
    chart: "where the PNG chart of CPU and memory per service is written",
    json: "also write the whole result as JSON to this file (none: no JSON)",
  } satisfies Record<keyof Flags, string>,
  exits: {
    0: "every compared resource fits",
    1: "something does not fit",
    2: "bad flags or config (the message names the flag or key)",
    3: "Prometheus could not be read, or holds no cAdvisor series for the stack host",
    4: "anything else went wrong",
  },
};

/** Bad input: exit 2, with the flag or key named. */
export class AssessUsageError extends Error {
  override name = "AssessUsageError";
}

const usage = (flag: string, why: string) => new AssessUsageError(`--${flag}: ${why}`);

/** `4x1TiB` or `1TiB,1TiB,2TiB` into bytes. */
export function parseDisks(text: string): number[] {
  const times = /^(\d+)x(.+)$/.exec(text);
  const parts = times ? Array<string>(Number(times[1])).fill(times[2] as string) : text.split(",");
  const sizes = parts.map((p) => parseSize(p.trim()));
  if (parts.length === 0 || sizes.some((s) => s === undefined || s <= 0))
    throw usage("disks", `"${text}" is not a list of sizes such as 4x1TiB or 1TiB,1TiB`);
  return sizes as number[];
}

/** The Prometheus the stack publishes: the stack host's address and Prometheus's host port. */
export function prometheusUrl(lab: LabConfig): string {
  const ladon = lab.ladon;
  if (!ladon)
    throw new AssessUsageError("citadel:ladon is not set in the stack config: there is no stack to assess");
  const host = lab.hosts[ladon.host] as HostConfig;
  return `http://${host.address}:${SERVICES.prometheus.ports.http?.host}`;
}

/** Retention per service, from citadel:ladon. */
export function retentions(lab: LabConfig): Partial<Record<ServiceName, Retention>> {
  const l = lab.ladon;
  if (!l) return {};
  return {
    prometheus: {
      days: parseDuration(l.prometheus.retentionTime) / DAY,
      capBytes: parseSize(l.prometheus.retentionSize),
      key: "prometheus.retentionTime",
    },
    loki: { days: parseDuration(l.loki.retentionPeriod) / DAY, key: "loki.retentionPeriod" },
    phoenix: { days: l.phoenix.retentionDays, key: "phoenix.retentionDays" },
  };
}

/** The candidate host: from a config host, with flags taking precedence. */
export function candidateOf(
  lab: LabConfig,
  flags: Flags,
  hostLab: LabConfig = lab,
): { candidate: Candidate; gpu: boolean } {
  const ladon = lab.ladon;
  if (!ladon)
    throw new AssessUsageError("citadel:ladon is not set in the stack config: there is no stack to assess");
  let host: HostConfig | undefined;
  if (flags.host) {
    host = hostLab.hosts[flags.host];
    if (!host)
      throw usage(
        "host",
        `no host named "${flags.host}" in citadel:hosts (${Object.keys(hostLab.hosts).join(", ")}); name a stack file that declares it with --host-config, e.g. --host-config examples/Pulumi.monitoring-pi.yaml for pi`,
      );
  } else if (!flags.memory || !flags.cores) {
    throw new AssessUsageError(
      "name the candidate host: --host <a host in citadel:hosts>, or --memory <size> and --cores <n> (with --disks and --raid for its storage)",
    );
  }
  const name = flags.host || "(from flags)";
  let memoryBytes = host ? host.memoryGiB * GiB : 0;
  if (flags.memory) {
    const m = parseSize(flags.memory);
    if (!m) throw usage("memory", `"${flags.memory}" is not a size such as 8GiB`);
    memoryBytes = m;
  }
  let cores = host?.cpus;
  if (flags.cores) {
    cores = Number(flags.cores);
    if (!Number.isInteger(cores) || cores <= 0)
      throw usage("cores", `"${flags.cores}" is not a whole number of cores`);
  }
  if (cores === undefined)
    throw usage("cores", `citadel:hosts.${name}.cpus is not set; give the candidate's cores with --cores`);
  const slowdown = Number(flags["cpu-slowdown"]);
  if (!(slowdown > 0)) throw usage("cpu-slowdown", `"${flags["cpu-slowdown"]}" is not a positive number`);

  let storage: Candidate["storage"];
  if (flags.disks) {
    const members = parseDisks(flags.disks);
    let level: RaidLevel;
    try {
      level = flags.raid ? parseRaidLevel(flags.raid) : members.length === 1 ? "none" : fail();
      storage = { level, members, usableBytes: raidUsableBytes(level, members) };
    } catch (e) {
      throw usage("raid", (e as Error).message);
    }
  } else if (flags.raid) {
    throw usage("raid", "give the RAID members with --disks, e.g. --disks 4x1TiB --raid 5");
  } else if (host) {
    // The volume that would hold dataDir (the candidate's own stack file's, when it has one), as
    // one disk.
    const volume = volumeOf(host, hostLab.ladon?.dataDir ?? ladon.dataDir);
    if (volume.bytes !== undefined)
      storage = { level: "none", members: [volume.bytes], usableBytes: volume.bytes };
  }
  let diskWriteIops: number | undefined;
  if (flags["disk-write-iops"]) {
    diskWriteIops = Number(flags["disk-write-iops"]);
    if (!(diskWriteIops > 0))
      throw usage("disk-write-iops", `"${flags["disk-write-iops"]}" is not a positive number`);
  }
  return {
    candidate: {
      name,
      memoryBytes,
      reservedBytes: ladon.headroomGiB * GiB,
      cores,
      cpuSlowdown: slowdown,
      storage,
      diskWriteIops,
    },
    gpu: host?.nvidia !== undefined,
  };
}

function fail(): never {
  throw new CapacityError("several disks need a RAID level: --raid 0, 1, 5, 6 or 10");
}

/** Services that would run on the candidate: the stack's, the per-host ones, the GPU exporter only with GPUs. */
export function candidateServices(gpu: boolean): ServiceName[] {
  return SERVICE_NAMES.filter((s) => SERVICES[s].placement !== "gpuHosts" || gpu);
}

export interface Assessment {
  prometheus: string;
  host: string;
  window: { seconds: number; start: string; end: string; firstSample?: string };
  measured: Measured[];
  needs: Record<string, DiskNeed | undefined>;
  candidate: Candidate & { services: ServiceName[] };
  verdicts: ReturnType<typeof verdicts>;
  chart: string;
}

export async function assess(lab: LabConfig, flags: Flags, log: (line: string) => void): Promise<Assessment> {
  const ladon = lab.ladon;
  if (!ladon)
    throw new AssessUsageError("citadel:ladon is not set in the stack config: there is no stack to assess");
  let windowSeconds: number;
  let horizonDays: number;
  try {
    windowSeconds = parseDuration(flags.window);
  } catch (e) {
    throw usage("window", (e as Error).message);
  }
  try {
    horizonDays = parseDuration(flags.horizon) / DAY;
  } catch (e) {
    throw usage("horizon", (e as Error).message);
  }
  const { candidate, gpu } = candidateOf(
    lab,
    flags,
    flags["host-config"] ? loadLab(flags["host-config"]) : lab,
  );
  const url = flags.prometheus || prometheusUrl(lab);
  if (!/^https?:\/\/[^/]+/.test(url)) throw usage("prometheus", `"${url}" is not an http(s) URL`);

  const host = ladon.host;
  const onHost = placement(lab, ladon)[host] ?? [];
  const services = SERVICE_NAMES.filter((s) => onHost.includes(s));
  const scrape = parseDuration(ladon.prometheus.scrapeInterval);
  const scope: Scope = {
    host,
    containers: services.map((s) => SERVICES[s].container),
    dataDirs: services.filter((s) => SERVICES[s].placement === "stack").map((s) => SERVICES[s].container),
    window: promDuration(windowSeconds),
    rate: promDuration(4 * scrape),
    step: promDuration(2 * scrape),
  };
  const end = Math.floor(Date.now() / 1000);
  const start = end - windowSeconds;
  const password = process.env[PROMETHEUS_PASSWORD_ENV];
  const prom = new Prometheus(url, undefined, password ? { username: WEB_USER, password } : undefined);
  log(`reading ${url}: the LadonStack on ${host}, ${flags.window} to ${new Date(end * 1000).toISOString()}`);

  const q = summaryQueries(scope);
  const results: Record<string, Map<string, number>> = {};
  for (const [key, query] of Object.entries(q)) {
    const label = key.startsWith("disk") ? "service" : "name";
    const samples = await prom.instant(query, end);
    results[key] = new Map(
      samples.filter((s) => Number.isFinite(s.value)).map((s) => [s.metric[label] ?? "", s.value]),
    );
  }
  if ((results.memMax as Map<string, number>).size === 0) {
    throw new PrometheusError(
      `${url} holds no container_memory_working_set_bytes{job="cadvisor",host="${host}"} for the stack's containers in the last ${flags.window}: is cAdvisor scraped?`,
    );
  }
  const get = (key: string, container: string) => results[key]?.get(container);
  const measured: Measured[] = services.map((s) => {
    const c = SERVICES[s].container;
    return {
      service: s,
      container: c,
      cpuAvg: get("cpuAvg", c),
      cpuP95: get("cpuP95", c),
      memMaxBytes: get("memMax", c),
      writeIopsAvg: get("iopsAvg", c),
      writeIopsP95: get("iopsP95", c),
      diskBytes: get("diskNow", c),
      diskGrowthPerDay: get("diskPerDay", c),
    };
  });
  const retention = retentions(lab);
  const needs: Record<string, DiskNeed | undefined> = {};
  for (const m of measured) needs[m.service] = diskNeed(m, retention[m.service as ServiceName], horizonDays);

  const onCandidate = candidateServices(gpu);
  const counted = measured.filter((m) => onCandidate.includes(m.service as ServiceName));
  const countedNeeds = Object.fromEntries(
    Object.entries(needs).filter(([s]) => onCandidate.includes(s as ServiceName)),
  );
  const v = verdicts(counted, countedNeeds, candidate);

  // The chart: CPU and memory per service over the window, about 600 points a series.
  const step = Math.max(4 * scrape, Math.ceil(windowSeconds / 600));
  const cq = chartQueries(scope, promDuration(step));
  const byName = new Map(services.map((s) => [SERVICES[s].container, s as string]));
  const points = async (query: string, scale: number): Promise<ChartPoint[]> =>
    (await prom.range(query, start, end, step)).flatMap((series) =>
      series.values.map(([t, value]) => ({
        time: new Date(t * 1000).toISOString(),
        service: byName.get(series.metric.name ?? "") ?? series.metric.name ?? "?",
        value: value / scale,
      })),
    );
  const cpu = await points(cq.cpu, 1);
  const memory = await points(cq.memory, GiB);
  const first = [...cpu, ...memory].map((p) => p.time).sort()[0];
  const png = await renderPng(
    chartSpec({
      title: `LadonStack on ${host}: CPU and memory per service, ${flags.window} to ${new Date(end * 1000).toISOString().slice(0, 16)}Z`,
      cpu,
      memoryGiB: memory,
    }),
  );
  mkdirSync(path.dirname(path.resolve(flags.chart)), { recursive: true });
  writeFileSync(flags.chart, png);

  return {
    prometheus: url,
    host,
    window: {
      seconds: windowSeconds,
      start: new Date(start * 1000).toISOString(),
      end: new Date(end * 1000).toISOString(),
      firstSample: first,
    },
    measured,
    needs,
    candidate: { ...candidate, services: onCandidate.filter((s) => services.includes(s)) },
    verdicts: v,
    chart: flags.chart,
  };
}

/** The report: what was read, the per-service table, and the verdict table. */
export function renderReport(a: Assessment): string {
  const c = a.candidate;
  const covered =
    a.window.firstSample && Date.parse(a.window.firstSample) > Date.parse(a.window.start) + 3600_000
      ? ` (data only from ${a.window.firstSample}: the figures cover less than the window)`
      : "";
  const storage = c.storage
    ? `${c.storage.level === "none" ? "one disk" : `RAID${c.storage.level}`} of ${c.storage.members.map((b) => formatSize(b)).join(" + ")} = ${(c.storage.usableBytes / GiB).toFixed(1)} GiB usable`
    : "storage unknown";
  return [
    `LadonStack on ${a.host}, ${a.window.start} to ${a.window.end}${covered}`,
    `Prometheus: ${a.prometheus}`,
    "",
    renderMeasured(a.measured, a.needs),
    "",
    `candidate ${c.name}: ${(c.memoryBytes / GiB).toFixed(1)} GiB RAM, ${c.cores} cores, ${storage}; runs ${c.services.join(", ")}`,
    "",
    renderVerdicts(a.verdicts),
    "",
    `chart: ${a.chart}`,
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, DEFAULTS, [], HELP);
  const lab = loadLab(flags.config);
  const a = await assess(lab, flags, (l) => console.log(l));
  console.log(renderReport(a));
  if (flags.json) {
    mkdirSync(path.dirname(path.resolve(flags.json)), { recursive: true });
    writeFileSync(flags.json, `${JSON.stringify(a, null, 2)}\n`);
  }
  return a.verdicts.some((v) => v.fits === false) ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error) => {
      if (e instanceof LabConfigError || e instanceof StackFileError || e instanceof AssessUsageError) {
        console.error(`assess: ${e.message}`);
        process.exit(2);
      }
      if (e instanceof PrometheusError) {
        console.error(`assess: ${e.message}`);
        process.exit(3);
      }
      console.error(`assess: ${e.stack ?? e.message}`);
      process.exit(4);
    },
  );
}

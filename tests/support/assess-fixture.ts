/**
 * Recorded series for the conformance check of `npm run assess`: a week of what the lab's
 * Prometheus scrapes from cAdvisor and from the stack's textfile collector on the stack host,
 * written as OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`.
 *
 * The numbers are a plausible LadonStack on a workstation, chosen to be easy to check (PROFILES):
 *  - Prometheus: ~0.15 cores with a compaction burst every 2 h, a working set of 1.1-1.4 GiB
 *    that peaks once at 1.5 GiB, its TSDB growing 1.2 GiB a day (a few thousand series at 30 s),
 *    15 writes/s (WAL and head chunks).
 *  - Loki: 0.08 cores, 450-600 MiB, 0.8 GiB of chunks a day (citadel:ladon's expectedDailyIngest
 *    is 1 GiB of raw logs), 6 writes/s.
 *  - Phoenix 0.03 cores, ~500 MiB, 40 MiB of traces a day; Grafana and Alertmanager small and
 *    nearly flat; Alloy, node_exporter, cAdvisor and the GPU exporter with no data directory.
 *
 * Each value is base + a daily wave + deterministic noise (a seeded generator), so a run is
 * reproducible and its expected figures are known in closed form (expected()). Counters are the
 * running sum of rate × interval. Every container also gets a decoy `container_fs_writes_total`
 * on a partition at 400 writes/s, as cAdvisor exports a Docker container's writable-layer device
 * (the whole device's count); the tool must leave it out.
 *
 * OpenMetrics as Prometheus reads it (model/textparse/openmetricsparse.go@v0.315.0): timestamps in
 * seconds, a counter family declared without its `_total` suffix, `# EOF` at the end.
 */
import { SERVICES, type ServiceName } from "../../components/plan/services";

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const DAY = 86400;

export interface Profile {
  /** Cores: mean, daily amplitude, noise (uniform ±). */
  cpu: [number, number, number];
  /** Extra cores for `burst[1]` seconds every `burst[0]` seconds. */
  burst?: [number, number, number];
  /** Working set bytes: mean, daily amplitude, noise; `peak` once, in the middle of the week. */
  mem: [number, number, number];
  peak: number;
  /** Writes per second: mean, noise. */
  writes: [number, number];
  /** Data directory: bytes at the start, growth per day; absent for services without one. */
  data?: [number, number];
}

export const PROFILES: Partial<Record<ServiceName, Profile>> = {
  prometheus: {
    cpu: [0.15, 0.04, 0.02],
    burst: [7200, 240, 0.8],
    mem: [1.25 * GiB, 0.1 * GiB, 0.03 * GiB],
    peak: 1.5 * GiB,
    writes: [15, 3],
    data: [6 * GiB, 1.2 * GiB],
  },
  loki: {
    cpu: [0.08, 0.03, 0.01],
    mem: [520 * MiB, 60 * MiB, 15 * MiB],
    peak: 620 * MiB,
    writes: [6, 1.5],
    data: [3 * GiB, 0.8 * GiB],
  },
  grafana: {
    cpu: [0.02, 0.01, 0.005],
    mem: [180 * MiB, 15 * MiB, 8 * MiB],
    peak: 230 * MiB,
    writes: [0.5, 0.2],
    data: [80 * MiB, 2 * MiB],
  },
  alertmanager: {
    cpu: [0.004, 0.001, 0.001],
    mem: [35 * MiB, 2 * MiB, 1 * MiB],
    peak: 40 * MiB,
    writes: [0.1, 0.05],
    data: [1 * MiB, 0],
  },
  phoenix: {
    cpu: [0.03, 0.01, 0.005],
    mem: [480 * MiB, 30 * MiB, 10 * MiB],
    peak: 560 * MiB,
    writes: [2, 0.5],
    data: [400 * MiB, 40 * MiB],
  },
  alloy: { cpu: [0.05, 0.02, 0.01], mem: [190 * MiB, 10 * MiB, 5 * MiB], peak: 220 * MiB, writes: [1, 0.3] },
  nodeExporter: {
    cpu: [0.01, 0.003, 0.002],
    mem: [22 * MiB, 1 * MiB, 1 * MiB],
    peak: 26 * MiB,
    writes: [0, 0],
  },
  cadvisor: { cpu: [0.12, 0.03, 0.02], mem: [110 * MiB, 10 * MiB, 5 * MiB], peak: 140 * MiB, writes: [0, 0] },
  gpuExporter: {
    cpu: [0.02, 0.005, 0.003],
    mem: [30 * MiB, 1 * MiB, 1 * MiB],
    peak: 34 * MiB,
    writes: [0, 0],
  },
};

/** The device the stack's data and Docker's data-root share on citadel, and a partition decoy. */
const DEVICE = { name: "/dev/nvme1n1", major: "259", minor: "1" };
const DECOY = { name: "/dev/nvme1n1p1", rate: 400 };

/** mulberry32: a small seeded generator, uniform in [0, 1). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FixtureOptions {
  /** Unix seconds of the last sample. */
  end: number;
  /** Seconds covered, ending at `end`. @default 7 days */
  seconds?: number;
  /** Seconds between samples: the stack's scrape interval. */
  interval: number;
  /** The stack host's name (the `host` label). */
  host: string;
  /** The stack host's address (the node job's instance). */
  address: string;
}

interface Family {
  name: string;
  type: "gauge" | "counter";
  help: string;
  series: { labels: Record<string, string>; value: (t: number, i: number) => number }[];
}

const wave = (t: number) => Math.sin((2 * Math.PI * t) / DAY);

function families(o: FixtureOptions): Family[] {
  const start = o.end - (o.seconds ?? 7 * DAY);
  const mid = start + Math.floor((o.end - start) / 2 / o.interval) * o.interval;
  const cadvisor = (name: string) => ({ job: "cadvisor", host: o.host, instance: "cadvisor:8080", name });
  const cpu: Family = {
    name: "container_cpu_usage_seconds",
    type: "counter",
    help: "Cumulative cpu time consumed in seconds.",
    series: [],
  };
  const mem: Family = {
    name: "container_memory_working_set_bytes",
    type: "gauge",
    help: "Current working set in bytes.",
    series: [],
  };
  const writes: Family = {
    name: "container_fs_writes",
    type: "counter",
    help: "Cumulative count of writes completed",
    series: [],
  };
  const blkio: Family = {
    name: "container_blkio_device_usage",
    type: "counter",
    help: "Blkio Device bytes usage",
    series: [],
  };
  const data: Family = {
    name: "citadel_data_dir_bytes",
    type: "gauge",
    help: "Bytes used by a LadonStack service's data.",
    series: [],
  };
  let seed = 1;
  for (const [service, p] of Object.entries(PROFILES) as [ServiceName, Profile][]) {
    const container = SERVICES[service].container;
    const labels = cadvisor(container);
    const counter = (rate: (t: number) => number) => {
      let total = 1000;
      return (t: number, i: number) => (i === 0 ? total : (total += rate(t) * o.interval));
    };
    const r1 = rng(seed++);
    const cpuRate = (t: number) => {
      const burst = p.burst && (t - start) % p.burst[0] < p.burst[1] ? p.burst[2] : 0;
      return Math.max(0, p.cpu[0] + p.cpu[1] * wave(t) + p.cpu[2] * (2 * r1() - 1) + burst);
    };
    cpu.series.push({ labels: { ...labels, cpu: "total" }, value: counter(cpuRate) });
    const r2 = rng(seed++);
    mem.series.push({
      labels,
      value: (t) => (t === mid ? p.peak : p.mem[0] + p.mem[1] * wave(t) + p.mem[2] * (2 * r2() - 1)),
    });
    const r3 = rng(seed++);
    writes.series.push({
      labels: { ...labels, device: DEVICE.name },
      value: counter(() => Math.max(0, p.writes[0] + p.writes[1] * (2 * r3() - 1))),
    });
    writes.series.push({ labels: { ...labels, device: DECOY.name }, value: counter(() => DECOY.rate) });
    blkio.series.push({
      labels: {
        ...labels,
        device: DEVICE.name,
        major: DEVICE.major,
        minor: DEVICE.minor,
        operation: "Write",
      },
      value: counter(() => 4096 * p.writes[0]),
    });
    if (p.data) {
      const [initial, perDay] = p.data;
      data.series.push({
        labels: {
          job: "node",
          host: o.host,
          instance: `${o.address}:${SERVICES.nodeExporter.ports.http?.host}`,
          service: container,
        },
        value: (t) => Math.round(initial + (perDay * (t - start)) / DAY),
      });
    }
  }
  return [cpu, mem, writes, blkio, data];
}

const labelText = (labels: Record<string, string>) =>
  `{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(",")}}`;

/** The OpenMetrics text, in chunks (a week at 30 s is tens of megabytes). */
export function* openMetrics(o: FixtureOptions): Generator<string> {
  const start = o.end - (o.seconds ?? 7 * DAY);
  const times: number[] = [];
  for (let t = start; t <= o.end; t += o.interval) times.push(t);
  for (const f of families(o)) {
    yield `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`;
    const sample = f.type === "counter" ? `${f.name}_total` : f.name;
    for (const s of f.series) {
      const head = `${sample}${labelText(s.labels)} `;
      const lines: string[] = [];
      times.forEach((t, i) => lines.push(`${head}${s.value(t, i)} ${t}\n`));
      yield lines.join("");
    }
  }
  yield "# EOF\n";
}

/** What `npm run assess` should find, from the profiles alone. */
export function expected(service: ServiceName): {
  cpuAvg: number;
  memMax: number;
  writes: number;
  growthPerDay?: number;
} {
  const p = PROFILES[service] as Profile;
  const burst = p.burst ? (p.burst[2] * p.burst[1]) / p.burst[0] : 0;
  return { cpuAvg: p.cpu[0] + burst, memMax: p.peak, writes: p.writes[0], growthPerDay: p.data?.[1] };
}

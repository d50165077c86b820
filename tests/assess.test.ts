/** npm run assess's arithmetic and inputs, without mocks; tests/tiers/conformance/assess.ts runs it against a real Prometheus. */
import { loadLab } from "../lib/cli";
import {
  CapacityError,
  diskNeed,
  FILL_LIMIT,
  parseDuration,
  parseRaidLevel,
  raidUsableBytes,
  raidWriteIops,
  renderVerdicts,
  verdicts,
  type Candidate,
  type Measured,
} from "../tools/assess/capacity";
import {
  candidateOf,
  candidateServices,
  DEFAULTS,
  parseDisks,
  prometheusUrl,
  retentions,
} from "../tools/assess/index";
import { summaryQueries, writeIops, type Scope } from "../tools/assess/queries";
import { chartSpec } from "../tools/assess/chart";
import { expected, openMetrics } from "./support/assess-fixture";
import { hostPort } from "./support/catalog";

const GiB = 1024 ** 3;
const TiB = 1024 ** 4;

describe("raidUsableBytes", () => {
  it.each([
    ["none", [1 * TiB], 1 * TiB],
    [0, [1 * TiB, 1 * TiB], 2 * TiB],
    [1, [1 * TiB, 1 * TiB], 1 * TiB],
    [1, [1 * TiB, 1 * TiB, 1 * TiB], 1 * TiB],
    [5, [1 * TiB, 1 * TiB, 1 * TiB, 1 * TiB], 3 * TiB],
    [6, [1 * TiB, 1 * TiB, 1 * TiB, 1 * TiB], 2 * TiB],
    [10, [1 * TiB, 1 * TiB, 1 * TiB, 1 * TiB], 2 * TiB],
  ] as const)("RAID %s of %j is %d bytes", (level, members, usable) => {
    expect(raidUsableBytes(level, members)).toBe(usable);
  });

  it("counts every member as the smallest, as md does", () => {
    expect(raidUsableBytes(5, [2 * TiB, 1 * TiB, 2 * TiB, 2 * TiB])).toBe(3 * TiB);
    expect(raidUsableBytes(1, [500 * GiB, 1 * TiB])).toBe(500 * GiB);
  });

  it("refuses too few members, several disks without RAID, and empty disks", () => {
    expect(() => raidUsableBytes(5, [TiB, TiB])).toThrow("RAID5 needs at least 3 disks, not 2");
    expect(() => raidUsableBytes(6, [TiB, TiB, TiB])).toThrow("RAID6 needs at least 4 disks, not 3");
    expect(() => raidUsableBytes(1, [TiB])).toThrow("RAID1 needs at least 2 disks, not 1");
    expect(() => raidUsableBytes("none", [TiB, TiB])).toThrow("without RAID there is one disk, not 2");
    expect(() => raidUsableBytes(0, [TiB, 0])).toThrow(CapacityError);
  });
});

describe("raidWriteIops", () => {
  it("divides the members' writes by the RAID write penalty", () => {
    expect(raidWriteIops(5, 4, 1000)).toBe(1000);
    expect(raidWriteIops(6, 6, 1000)).toBe(1000);
    expect(raidWriteIops(10, 4, 1000)).toBe(2000);
    expect(raidWriteIops(0, 2, 1000)).toBe(2000);
    expect(raidWriteIops(1, 3, 1000)).toBe(1000);
    expect(raidWriteIops("none", 1, 1000)).toBe(1000);
  });
});

describe("parsing", () => {
  it("reads RAID levels and durations, and says what it expected", () => {
    expect(parseRaidLevel("raid10")).toBe(10);
    expect(parseRaidLevel("5")).toBe(5);
    expect(parseRaidLevel("none")).toBe("none");
    expect(() => parseRaidLevel("4")).toThrow("--raid 4: expected one of 0, 1, 5, 6, 10, none");
    expect(parseDuration("744h")).toBe(31 * 86400);
    expect(parseDuration("7d")).toBe(7 * 86400);
    expect(parseDuration("2w")).toBe(14 * 86400);
    expect(() => parseDuration("7 days")).toThrow('"7 days" is not a duration');
  });

  it("reads disk lists two ways", () => {
    expect(parseDisks("4x1TiB")).toEqual([TiB, TiB, TiB, TiB]);
    expect(parseDisks("1TiB,512GiB")).toEqual([TiB, 512 * GiB]);
    expect(() => parseDisks("4x1TB")).toThrow("--disks: ");
  });
});

describe("diskNeed", () => {
  const prometheus = { days: 30, capBytes: 50 * GiB, key: "prometheus.retentionTime" };

  it("is growth per day over the retention", () => {
    const n = diskNeed({ diskBytes: 10 * GiB, diskGrowthPerDay: 1.2 * GiB }, prometheus, 365);
    expect(n?.bytes).toBeCloseTo(36 * GiB);
    expect(n?.basis).toBe("1.20GiB/day × 30 d (prometheus.retentionTime)");
  });

  it("is capped by retentionSize", () => {
    const n = diskNeed({ diskBytes: 10 * GiB, diskGrowthPerDay: 3 * GiB }, prometheus, 365);
    expect(n?.bytes).toBe(50 * GiB);
    expect(n?.basis).toContain("capped by retentionSize 50GiB");
  });

  it("is at least what the service holds today (retention reached: no growth)", () => {
    const n = diskNeed({ diskBytes: 40 * GiB, diskGrowthPerDay: -0.1 * GiB }, prometheus, 365);
    expect(n?.bytes).toBe(40 * GiB);
    expect(n?.basis).toContain("today's 40GiB");
  });

  it("adds the horizon's growth without a retention, and knows nothing without data", () => {
    expect(diskNeed({ diskBytes: 100, diskGrowthPerDay: 2 }, undefined, 365)?.bytes).toBe(830);
    expect(diskNeed({}, prometheus, 365)).toBeUndefined();
  });
});

describe("verdicts", () => {
  const measured: Measured[] = [
    { service: "prometheus", container: "prometheus", cpuP95: 0.3, memMaxBytes: 1.5 * GiB, writeIopsP95: 20 },
    { service: "loki", container: "loki", cpuP95: 0.1, memMaxBytes: 0.5 * GiB, writeIopsP95: 5 },
  ];
  const needs = {
    prometheus: { bytes: 36 * GiB, basis: "" },
    loki: { bytes: 24 * GiB, basis: "" },
  };
  const pi: Candidate = {
    name: "pi",
    memoryBytes: 8 * GiB,
    reservedBytes: 2 * GiB,
    cores: 4,
    cpuSlowdown: 1,
    storage: { level: 5, members: [TiB, TiB, TiB, TiB], usableBytes: 3 * TiB },
    diskWriteIops: 1000,
  };

  it("says how much headroom each resource keeps when it fits", () => {
    const v = verdicts(measured, needs, pi);
    expect(v.map((x) => [x.resource, x.fits, x.verdict])).toEqual([
      ["memory", true, "fits with 4.0 GiB headroom"],
      ["cpu", true, "fits with 3.60 cores headroom"],
      ["disk", true, `fits with ${((3 * 1024 * FILL_LIMIT - 60) as number).toFixed(1)} GiB headroom`],
      ["write IOPS", true, "fits with 975.0 writes/s headroom"],
    ]);
  });

  it("names the biggest consumers when it does not fit", () => {
    const small: Candidate = {
      ...pi,
      memoryBytes: 3 * GiB,
      cores: 1,
      cpuSlowdown: 4,
      storage: { level: 1, members: [64 * GiB, 64 * GiB], usableBytes: 64 * GiB },
      diskWriteIops: 20,
    };
    const v = verdicts(measured, needs, small);
    expect(v.map((x) => x.verdict)).toEqual([
      "does not fit: Prometheus needs 1.5 GiB, Loki 0.5 GiB; 1.0 GiB short",
      "does not fit: Prometheus needs 1.20 cores, Loki 0.40 cores; 0.60 cores short",
      "does not fit: Prometheus needs 36.0 GiB, Loki 24.0 GiB; 8.8 GiB short",
      "does not fit: Prometheus needs 20.0 writes/s, Loki 5.0 writes/s; 5.0 writes/s short",
    ]);
    expect(renderVerdicts(v).split("\n")[0]).toMatch(/^resource\s+needed\s+capacity\s+verdict$/);
  });

  it("compares nothing it has no capacity for", () => {
    const v = verdicts(measured, needs, { ...pi, storage: undefined, diskWriteIops: undefined });
    expect(v.filter((x) => x.fits === undefined).map((x) => x.resource)).toEqual(["disk", "write IOPS"]);
  });
});

describe("inputs from the stack config", () => {
  const lab = loadLab("Pulumi.citadel.yaml");

  it("finds Prometheus at the stack host's published port", () => {
    expect(prometheusUrl(lab)).toBe(`http://192.168.10.29:${hostPort("prometheus")}`);
  });

  it("takes retention from citadel:ladon", () => {
    const r = retentions(lab);
    expect(r.prometheus).toEqual({ days: 30, capBytes: 50 * GiB, key: "prometheus.retentionTime" });
    expect(r.loki?.days).toBe(31);
    expect(r.phoenix?.days).toBe(30);
  });

  it("takes a config host's RAM and data volume, and asks for cores it does not declare", () => {
    expect(() => candidateOf(lab, { ...DEFAULTS, host: "citadel" })).toThrow(
      "--cores: citadel:hosts.citadel.cpus is not set; give the candidate's cores with --cores",
    );
    const { candidate, gpu } = candidateOf(lab, { ...DEFAULTS, host: "citadel", cores: "24" });
    expect(gpu).toBe(true);
    expect(candidate.memoryBytes).toBe(64 * GiB);
    expect(candidate.storage).toEqual({ level: "none", members: [TiB], usableBytes: TiB });
  });

  it("builds a candidate from flags, and names the flag that is wrong", () => {
    const { candidate } = candidateOf(lab, {
      ...DEFAULTS,
      memory: "8GiB",
      cores: "4",
      disks: "4x1TiB",
      raid: "5",
    });
    expect(candidate.storage?.usableBytes).toBe(3 * TiB);
    expect(() => candidateOf(lab, DEFAULTS)).toThrow("name the candidate host: --host");
    expect(() => candidateOf(lab, { ...DEFAULTS, host: "pi" })).toThrow('--host: no host named "pi"');
    expect(() => candidateOf(lab, { ...DEFAULTS, memory: "8GB", cores: "4" })).toThrow("--memory: ");
    expect(() => candidateOf(lab, { ...DEFAULTS, memory: "8GiB", cores: "4", disks: "2x1TiB" })).toThrow(
      "--raid: several disks need a RAID level",
    );
    expect(() =>
      candidateOf(lab, { ...DEFAULTS, memory: "8GiB", cores: "4", disks: "3x1TiB", raid: "6" }),
    ).toThrow("--raid: RAID6 needs at least 4 disks, not 3");
  });

  it("leaves the GPU exporter off a candidate without GPUs", () => {
    expect(candidateServices(false)).not.toContain("gpuExporter");
    expect(candidateServices(true)).toContain("gpuExporter");
  });
});

describe("queries", () => {
  const scope: Scope = {
    host: "citadel",
    containers: ["prometheus", "loki"],
    dataDirs: ["prometheus", "loki"],
    window: "604800s",
    rate: "120s",
    step: "60s",
  };

  it("reads cAdvisor by container name on the stack host, p95 by quantile_over_time over a subquery", () => {
    const q = summaryQueries(scope);
    expect(q.cpuP95).toBe(
      'quantile_over_time(0.95, (sum by (name) (rate(container_cpu_usage_seconds_total{job="cadvisor",host="citadel",name=~"prometheus|loki"}[120s])))[604800s:60s])',
    );
    expect(q.diskPerDay).toBe(
      'deriv(citadel_data_dir_bytes{job="node",host="citadel",service=~"prometheus|loki"}[604800s]) * 86400',
    );
  });

  it("counts only writes on devices the container's own cgroup did I/O on", () => {
    expect(writeIops(scope)).toContain(
      'and on (name, device) group by (name, device) (container_blkio_device_usage_total{job="cadvisor"',
    );
  });
});

describe("chart and fixture", () => {
  it("draws CPU above memory, one line per service", () => {
    const spec = chartSpec({
      title: "t",
      cpu: [{ time: "2026-01-01T00:00:00Z", service: "loki", value: 0.1 }],
      memoryGiB: [{ time: "2026-01-01T00:00:00Z", service: "loki", value: 0.5 }],
    }) as { vconcat: { data: { values: unknown[] }; encoding: { color: { field: string } } }[] };
    expect(spec.vconcat).toHaveLength(2);
    expect(spec.vconcat.map((p) => p.encoding.color.field)).toEqual(["service", "service"]);
  });

  it("writes OpenMetrics with counters as _total samples and ends with # EOF", () => {
    const text = [
      ...openMetrics({ end: 1_800_000_000, seconds: 60, interval: 30, host: "citadel", address: "10.0.0.1" }),
    ].join("");
    expect(text).toContain("# TYPE container_cpu_usage_seconds counter\n");
    expect(text).toMatch(
      /^container_cpu_usage_seconds_total\{job="cadvisor",host="citadel",instance="cadvisor:8080",name="prometheus",cpu="total"\} 1000 1799999940$/m,
    );
    expect(text.endsWith("# EOF\n")).toBe(true);
    expect(expected("prometheus").memMax).toBe(1.5 * GiB);
  });
});

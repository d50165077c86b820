/**
 * `npm run assess`'s arithmetic, pure: usable size and write IOPS of a RAID set, the disk each
 * service needs under its retention, and the verdict of a measured footprint against a candidate
 * host. No I/O, so tests/assess.test.ts exercises it without mocks.
 */
import { formatSize } from "../../components/config/units";

const GiB = 1024 ** 3;
const DAY = 86400;

/** RAID levels `storage.raids[].level` will take (md's levels), and `none` for one plain disk. */
export type RaidLevel = 0 | 1 | 5 | 6 | 10 | "none";
export const RAID_LEVELS: readonly RaidLevel[] = [0, 1, 5, 6, 10, "none"];

/** Fewest members md accepts for each level (mdadm(8): RAID10 takes 2 with the default near=2 layout). */
const MIN_MEMBERS: Record<string, number> = { none: 1, "0": 2, "1": 2, "5": 3, "6": 4, "10": 2 };

export class CapacityError extends Error {
  override name = "CapacityError";
}

/**
 * Usable bytes of a RAID set as md builds it: every member counts as the smallest one.
 * RAID0: n×s; RAID1: s (n-way mirror); RAID5: (n-1)×s; RAID6: (n-2)×s; RAID10 (near=2): n×s/2;
 * `none`: one disk, its size.
 */
export function raidUsableBytes(level: RaidLevel, members: readonly number[]): number {
  const n = members.length;
  const min = MIN_MEMBERS[String(level)];
  if (min === undefined)
    throw new CapacityError(`RAID level ${String(level)} is not one of ${RAID_LEVELS.join(", ")}`);
  if (level === "none" && n !== 1)
    throw new CapacityError(`without RAID there is one disk, not ${n}; give a RAID level for ${n} disks`);
  if (n < min) throw new CapacityError(`RAID${String(level)} needs at least ${min} disks, not ${n}`);
  if (members.some((m) => !(m > 0))) throw new CapacityError("every disk needs a positive size");
  const s = Math.min(...members);
  switch (level) {
    case "none":
      return s;
    case 0:
      return n * s;
    case 1:
      return s;
    case 5:
      return (n - 1) * s;
    case 6:
      return (n - 2) * s;
    case 10:
      return (n * s) / 2;
  }
}

/** Device writes per logical write: the usual RAID write penalty (RAID5 read-modify-write is 4 I/Os). */
export const WRITE_PENALTY: Record<string, number> = { none: 1, "0": 1, "1": 2, "10": 2, "5": 4, "6": 6 };

/** Logical write IOPS a RAID set sustains when each member sustains `perDisk`. */
export function raidWriteIops(level: RaidLevel, members: number, perDisk: number): number {
  if (level === 1) return perDisk; // every member takes every write
  return (members * perDisk) / (WRITE_PENALTY[String(level)] as number);
}

/** Parses `2`, `5`, `raid10`, `none`. */
export function parseRaidLevel(text: string): RaidLevel {
  const t = text.toLowerCase().replace(/^raid/, "");
  if (t === "none") return "none";
  const n = Number(t);
  if ((RAID_LEVELS as readonly unknown[]).includes(n)) return n as RaidLevel;
  throw new CapacityError(`--raid ${text}: expected one of ${RAID_LEVELS.join(", ")}`);
}

/** Seconds in `30s`, `5m`, `744h`, `7d`, `2w`, `1y` (Prometheus's units; one unit only). */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d|w|y)$/.exec(text);
  if (!m) throw new CapacityError(`"${text}" is not a duration such as 30s, 5m, 24h, 7d, 2w or 1y`);
  const unit: Record<string, number> = { s: 1, m: 60, h: 3600, d: DAY, w: 7 * DAY, y: 365 * DAY };
  return Number(m[1]) * (unit[m[2] as string] as number);
}

/** A duration for PromQL: whole seconds, e.g. `604800s`. */
export function promDuration(seconds: number): string {
  return `${Math.max(1, Math.round(seconds))}s`;
}

/** What was measured for one service over the window. Undefined: no samples. */
export interface Measured {
  service: string;
  /** Container name, the `name` label cAdvisor gives it. */
  container: string;
  cpuAvg?: number;
  cpuP95?: number;
  memMaxBytes?: number;
  writeIopsAvg?: number;
  writeIopsP95?: number;
  /** Size of its data dir at the end of the window, and its slope over the window. */
  diskBytes?: number;
  diskGrowthPerDay?: number;
}

/** How long a service keeps its data, from citadel:ladon. */
export interface Retention {
  days: number;
  /** A hard size limit (Prometheus's retentionSize). */
  capBytes?: number;
  /** The config key it comes from, for the report. */
  key: string;
}

export interface DiskNeed {
  bytes: number;
  /** How it was worked out, e.g. "1.2GiB/day × 30 d, capped by retentionSize 50GiB". */
  basis: string;
}

/**
 * Disk a service needs on the candidate: with a retention, its growth per day over the retention
 * (at least what it holds today), capped by a size limit; without one, today's size plus
 * `horizonDays` of growth. Shrinking data counts as no growth.
 */
export function diskNeed(
  m: Pick<Measured, "diskBytes" | "diskGrowthPerDay">,
  retention: Retention | undefined,
  horizonDays: number,
): DiskNeed | undefined {
  if (m.diskBytes === undefined) return undefined;
  const growth = Math.max(0, m.diskGrowthPerDay ?? 0);
  const perDay = `${formatSize(growth)}/day`;
  if (retention) {
    const projected = growth * retention.days;
    let bytes = Math.max(projected, m.diskBytes);
    let basis =
      projected >= m.diskBytes
        ? `${perDay} × ${round(retention.days)} d (${retention.key})`
        : `today's ${formatSize(m.diskBytes)} (more than ${perDay} × ${round(retention.days)} d)`;
    if (retention.capBytes !== undefined && bytes > retention.capBytes) {
      bytes = retention.capBytes;
      basis += `, capped by retentionSize ${formatSize(retention.capBytes)}`;
    }
    return { bytes, basis };
  }
  return {
    bytes: m.diskBytes + growth * horizonDays,
    basis: `today's ${formatSize(m.diskBytes)} + ${perDay} × ${round(horizonDays)} d (no retention)`,
  };
}

/** The host the stack might move to. */
export interface Candidate {
  name: string;
  memoryBytes: number;
  /** RAM kept free for the host itself (ladon.headroomGiB). */
  reservedBytes: number;
  cores: number;
  /** How many times slower one of its cores is than one of the measured host's. */
  cpuSlowdown: number;
  storage?: { level: RaidLevel; members: number[]; usableBytes: number };
  /** Per-member sustained write IOPS, when known. */
  diskWriteIops?: number;
}

/** Share of a data volume retention may plan to fill: the same 80% rule as the plan (components/plan/ladon.ts). */
export const FILL_LIMIT = 0.8;

export interface Verdict {
  resource: "memory" | "cpu" | "disk" | "write IOPS";
  needed: string;
  capacity: string;
  fits: boolean | undefined;
  verdict: string;
}

const gib = (bytes: number) => `${(bytes / GiB).toFixed(1)} GiB`;
const round = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));
const sum = (xs: (number | undefined)[]) => xs.reduce<number>((a, x) => a + (x ?? 0), 0);

/** The largest contributors, for a "does not fit" line: "Prometheus needs 36.0 GiB, Loki 24.8 GiB". */
function biggest(items: { service: string; amount: number }[], unit: (x: number) => string): string {
  const top = items
    .filter((i) => i.amount > 0)
    .sort((a, b) => b.amount - a.amount)
    .slice(0, 3);
  return top.map((t, i) => `${label(t.service)}${i === 0 ? " needs " : " "}${unit(t.amount)}`).join(", ");
}

const LABELS: Record<string, string> = {
  prometheus: "Prometheus",
  grafana: "Grafana",
  loki: "Loki",
  alloy: "Alloy",
  alertmanager: "Alertmanager",
  phoenix: "Phoenix",
  nodeExporter: "node_exporter",
  cadvisor: "cAdvisor",
  gpuExporter: "the GPU exporter",
};
export const label = (service: string) => LABELS[service] ?? service;

/**
 * The verdict per resource for the services that would run on the candidate. Memory: the sum of
 * each one's highest working set (they need not peak together, so this errs high) against RAM
 * less the host's reserve. CPU: the sum of p95 cores, scaled by the candidate's slowdown. Disk:
 * each one's need under its retention against FILL_LIMIT of the usable RAID size. Write IOPS: the
 * sum of p95 write rates against what the RAID set sustains, when per-disk IOPS are known.
 */
export function verdicts(
  measured: readonly Measured[],
  needs: Readonly<Record<string, DiskNeed | undefined>>,
  c: Candidate,
): Verdict[] {
  const out: Verdict[] = [];

  const mem = sum(measured.map((m) => m.memMaxBytes));
  const memCap = c.memoryBytes - c.reservedBytes;
  const memFits = mem <= memCap;
  out.push({
    resource: "memory",
    needed: `${gib(mem)} (sum of max working sets)`,
    capacity: `${gib(memCap)} (${gib(c.memoryBytes)} less ${gib(c.reservedBytes)} for the host)`,
    fits: memFits,
    verdict: memFits
      ? `fits with ${gib(memCap - mem)} headroom`
      : `does not fit: ${biggest(
          measured.map((m) => ({ service: m.service, amount: m.memMaxBytes ?? 0 })),
          gib,
        )}; ${gib(mem - memCap)} short`,
  });

  const cpu = sum(measured.map((m) => m.cpuP95)) * c.cpuSlowdown;
  const cpuFits = cpu <= c.cores;
  const cores = (x: number) => `${x.toFixed(2)} cores`;
  out.push({
    resource: "cpu",
    needed: `${cores(cpu)} (sum of p95${c.cpuSlowdown === 1 ? "" : ` × ${c.cpuSlowdown} slowdown`})`,
    capacity: `${c.cores} cores`,
    fits: cpuFits,
    verdict: cpuFits
      ? `fits with ${cores(c.cores - cpu)} headroom`
      : `does not fit: ${biggest(
          measured.map((m) => ({ service: m.service, amount: (m.cpuP95 ?? 0) * c.cpuSlowdown })),
          cores,
        )}; ${cores(cpu - c.cores)} short`,
  });

  const disk = sum(Object.values(needs).map((n) => n?.bytes));
  if (c.storage) {
    const budget = c.storage.usableBytes * FILL_LIMIT;
    const layout = `${c.storage.level === "none" ? "one disk" : `RAID${c.storage.level}`} of ${c.storage.members
      .map((b) => formatSize(b))
      .join(" + ")}`;
    const fits = disk <= budget;
    out.push({
      resource: "disk",
      needed: `${gib(disk)} (retention-projected)`,
      capacity: `${gib(budget)} (${FILL_LIMIT * 100}% of ${gib(c.storage.usableBytes)} usable, ${layout})`,
      fits,
      verdict: fits
        ? `fits with ${gib(budget - disk)} headroom`
        : `does not fit: ${biggest(
            Object.entries(needs).map(([service, n]) => ({ service, amount: n?.bytes ?? 0 })),
            gib,
          )}; ${gib(disk - budget)} short`,
    });
  } else {
    out.push({
      resource: "disk",
      needed: `${gib(disk)} (retention-projected)`,
      capacity: "unknown",
      fits: undefined,
      verdict: "not compared: give --disks (and --raid), or a --host with storage",
    });
  }

  const iops = sum(measured.map((m) => m.writeIopsP95));
  const iopsText = (x: number) => `${x.toFixed(1)} writes/s`;
  if (c.storage && c.diskWriteIops !== undefined) {
    const cap = raidWriteIops(c.storage.level, c.storage.members.length, c.diskWriteIops);
    const fits = iops <= cap;
    out.push({
      resource: "write IOPS",
      needed: `${iopsText(iops)} (sum of p95)`,
      capacity: `${iopsText(cap)} (${c.diskWriteIops}/disk, write penalty ${WRITE_PENALTY[String(c.storage.level)]})`,
      fits,
      verdict: fits
        ? `fits with ${iopsText(cap - iops)} headroom`
        : `does not fit: ${biggest(
            measured.map((m) => ({ service: m.service, amount: m.writeIopsP95 ?? 0 })),
            iopsText,
          )}; ${iopsText(iops - cap)} short`,
    });
  } else {
    out.push({
      resource: "write IOPS",
      needed: `${iopsText(iops)} (sum of p95)`,
      capacity: "unknown",
      fits: undefined,
      verdict: "not compared: give --disk-write-iops (per disk) and the disks",
    });
  }
  return out;
}

/** Left-aligned columns, two spaces apart. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** The per-service table. */
export function renderMeasured(
  measured: readonly Measured[],
  needs: Readonly<Record<string, DiskNeed | undefined>>,
): string {
  const f = (x: number | undefined, digits: number) => (x === undefined ? "-" : x.toFixed(digits));
  const size = (x: number | undefined) => (x === undefined ? "-" : formatSize(Math.max(0, x)));
  return table(
    ["service", "cpu avg", "cpu p95", "mem max", "data", "growth/day", "writes/s p95", "disk needed"],
    measured.map((m) => {
      const need = needs[m.service];
      return [
        m.service,
        f(m.cpuAvg, 3),
        f(m.cpuP95, 3),
        size(m.memMaxBytes),
        size(m.diskBytes),
        m.diskGrowthPerDay === undefined ? "-" : size(m.diskGrowthPerDay),
        f(m.writeIopsP95, 1),
        need ? `${formatSize(need.bytes)} = ${need.basis}` : "-",
      ];
    }),
  );
}

export function renderVerdicts(v: readonly Verdict[]): string {
  return table(
    ["resource", "needed", "capacity", "verdict"],
    v.map((x) => [x.resource, x.needed, x.capacity, x.verdict]),
  );
}

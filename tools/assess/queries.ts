/**
 * The PromQL `npm run assess` sends, and the series it reads. Pure.
 *
 * cAdvisor (the pinned ghcr.io/google/cadvisor v0.60.6; its Prometheus collector lives in the
 * module github.com/google/cadvisor/lib@v0.60.6, metrics/prometheus.go):
 *  - every container series carries `name`, the container's first alias, i.e. its Docker name
 *    (DefaultContainerLabels: LabelName = "name"), so `name="prometheus"` is the container
 *    components/plan/services/ names; the scrape config adds `job` and `host`.
 *  - `container_cpu_usage_seconds_total{cpu}`: a counter, one series with cpu="total" or one per
 *    CPU (cpu="cpu00"…), so it is summed over `cpu`.
 *  - `container_memory_working_set_bytes`: a gauge.
 *  - `container_fs_writes_total{device}`: a counter of completed writes, in the diskIO group,
 *    which is on by default (docs/runtime_options.md@v0.60.6 lists the default -disable_metrics,
 *    and diskIO is not in it; the stack passes no -disable_metrics, components/ladon/containers.ts).
 *    ioValues() fills it from the container's own cgroup I/O stats (DiskIo.IoServiced "Write"),
 *    and also from its writable layer's filesystem (FsStats.WritesCompleted), which for a Docker
 *    container is the whole device's count (container/docker/fs.go addDiskStats in
 *    github.com/google/cadvisor@v0.60.6). Only devices the cgroup itself did I/O on are kept: those
 *    in `container_blkio_device_usage_total{device}`, which comes from the cgroup alone
 *    (DiskIo.IoServiceBytes). Where the writable layer's device has the same name as a device of
 *    the cgroup (a whole-disk filesystem, as citadel's /srv/data), the two series collide and the
 *    exporter can show only one of them; nothing in the exposition tells which, so a per-service
 *    figure there may be the device's. The report says so.
 *
 * Per-service disk use: cAdvisor's container_fs_usage_bytes is the writable layer, not the data
 * directories, which are bind mounts. The stack's own textfile collector
 * (components/ladon/scripts/textfile-metrics.sh) writes `citadel_data_dir_bytes{service}` as
 * `du -sb` of each directory under ladon.dataDir, scraped through node_exporter on the stack host:
 * that is the honest per-service source. The exporters and Alloy keep their few files under
 * /var/lib/citadel, which nothing measures; they show no disk figure.
 *
 * PromQL (github.com/prometheus/prometheus@v0.315.0): rate, avg_over_time, max_over_time,
 * quantile_over_time, last_over_time and deriv are in promql/functions.go's FunctionCalls;
 * subqueries `expr[range:resolution]` are parsed by promql/parser (SubqueryExpr).
 */
export interface Scope {
  /** The `host` label of the measured host: the stack host. */
  host: string;
  /** Container names, joined into one regex. */
  containers: readonly string[];
  /** Directory names under dataDir (the `service` label of citadel_data_dir_bytes). */
  dataDirs: readonly string[];
  /** The whole window, e.g. "604800s". */
  window: string;
  /** Rate window: four scrape intervals, as Grafana's $__rate_interval. */
  rate: string;
  /** Subquery resolution. */
  step: string;
}

const re = (names: readonly string[]) =>
  names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\\\$&")).join("|");

function cadvisor(s: Scope, metric: string): string {
  return `${metric}{job="cadvisor",host="${s.host}",name=~"${re(s.containers)}"}`;
}

/** Cores used per container, at one instant. */
export function cpuCores(s: Scope): string {
  return `sum by (name) (rate(${cadvisor(s, "container_cpu_usage_seconds_total")}[${s.rate}]))`;
}

/** Memory working set per container, at one instant. */
export function workingSet(s: Scope): string {
  return `max by (name) (${cadvisor(s, "container_memory_working_set_bytes")})`;
}

/** Writes per second per container, on the devices its own cgroup did I/O on (see above). */
export function writeIops(s: Scope): string {
  const own = `group by (name, device) (${cadvisor(s, "container_blkio_device_usage_total")})`;
  return `sum by (name) (rate(${cadvisor(s, "container_fs_writes_total")}[${s.rate}]) and on (name, device) ${own})`;
}

/** Every figure of the table, as instant queries at the window's end. */
export function summaryQueries(s: Scope): Record<string, string> {
  const sub = (expr: string) => `(${expr})[${s.window}:${s.step}]`;
  const dir = `citadel_data_dir_bytes{job="node",host="${s.host}",service=~"${re(s.dataDirs)}"}`;
  return {
    cpuAvg: `avg_over_time(${sub(cpuCores(s))})`,
    cpuP95: `quantile_over_time(0.95, ${sub(cpuCores(s))})`,
    memMax: `max by (name) (max_over_time(${cadvisor(s, "container_memory_working_set_bytes")}[${s.window}]))`,
    iopsAvg: `avg_over_time(${sub(writeIops(s))})`,
    iopsP95: `quantile_over_time(0.95, ${sub(writeIops(s))})`,
    diskNow: `last_over_time(${dir}[${s.window}])`,
    // deriv: the least-squares slope per second over the window, so compactions and WAL cuts
    // (Prometheus) or chunk flushes (Loki) average out instead of deciding the figure.
    diskPerDay: `deriv(${dir}[${s.window}]) * 86400`,
  };
}

/**
 * The chart's series, as range queries over the window at `step`: each point the average cores
 * and the highest working set within its step, so bursts and peaks between points still show.
 */
export function chartQueries(s: Scope, step: string): { cpu: string; memory: string } {
  return {
    cpu: cpuCores({ ...s, rate: step }),
    memory: `max by (name) (max_over_time(${cadvisor(s, "container_memory_working_set_bytes")}[${step}]))`,
  };
}
